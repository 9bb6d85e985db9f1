//! The original's loose columns read into the ledger's types: blank is missing, a prompt too long
//! is cut, an unknown quality or size falls back to the default, each with a warning that says
//! what was changed.

use tokenbot_ledger::image::preview;
use tokenbot_ledger::{ImageSize, Prompt, Quality};

/// The prompt of a task whose prompt was empty in the original (the ledger requires one).
pub const EMPTY_PROMPT: &str = "(empty)";

/// A column's text, trimmed; `None` when missing or blank.
pub(super) fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A task's prompt as the ledger accepts it; `None` (with a warning) when none can be made.
pub(super) fn prompt_of(
    raw: Option<&str>,
    label: &str,
    warnings: &mut Vec<String>,
) -> Option<Prompt> {
    let Some(text) = present(raw) else {
        warnings.push(format!(
            "{label}: empty prompt, imported as {EMPTY_PROMPT:?}"
        ));
        return Prompt::parse(EMPTY_PROMPT).ok();
    };
    let chars = text.chars().count();
    let text = if chars > Prompt::MAX_CHARS {
        warnings.push(format!(
            "{label}: prompt of {chars} characters cut to {}",
            Prompt::MAX_CHARS
        ));
        preview(text, Prompt::MAX_CHARS - 3)
    } else {
        text.to_string()
    };
    match Prompt::parse(&text) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!("{label}: skipped: {e}"));
            None
        }
    }
}

/// A quality, or medium (with a warning when the column held something unknown).
pub(super) fn quality_of(raw: Option<&str>, label: &str, warnings: &mut Vec<String>) -> Quality {
    match present(raw).map(str::parse::<Quality>) {
        Some(Ok(q)) => q,
        other => {
            if let Some(Err(e)) = other {
                warnings.push(format!("{label}: {e}; imported as medium"));
            }
            Quality::Medium
        }
    }
}

/// A size, or 1024x1024 (with a warning when the column held something unknown).
pub(super) fn size_of(raw: Option<&str>, label: &str, warnings: &mut Vec<String>) -> ImageSize {
    match present(raw).map(str::parse::<ImageSize>) {
        Some(Ok(s)) => s,
        other => {
            if let Some(Err(e)) = other {
                warnings.push(format!("{label}: {e}; imported as 1024x1024"));
            }
            ImageSize::Square
        }
    }
}
