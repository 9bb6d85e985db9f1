//! What a task asks for: kind, prompt, model, quality and size. Validated on construction, so the
//! rest of the system never sees a 2001-character prompt or a size OpenAI does not offer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An image option that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidImageSpec {
    /// Not low, medium or high.
    #[error("quality must be one of low, medium, high; got {0:?}")]
    Quality(String),
    /// Not one of the three sizes.
    #[error("size must be one of 1024x1024, 1024x1536, 1536x1024; got {0:?}")]
    Size(String),
    /// A prompt of only whitespace.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// A prompt over [`Prompt::MAX_CHARS`].
    #[error("the prompt has {len} characters; at most {max} are allowed")]
    PromptTooLong {
        /// Characters given.
        len: usize,
        /// Characters allowed.
        max: usize,
    },
    /// Not a model id.
    #[error("a model id is 1 to 64 characters of letters, digits, '.', '-' or '_'; got {0:?}")]
    ModelId(String),
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// A new picture from the prompt.
    Generate,
    /// The user's picture changed by the prompt.
    Edit,
}

impl TaskKind {
    /// As stored and shown (`generate`, `edit`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Generate => "generate",
            TaskKind::Edit => "edit",
        }
    }
}

/// Image quality (priced per quality and size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// The cheapest.
    Low,
    /// The default.
    Medium,
    /// The dearest.
    High,
}

impl Quality {
    /// Every quality, cheapest first.
    pub const ALL: [Quality; 3] = [Quality::Low, Quality::Medium, Quality::High];

    /// As stored and shown (`low`, `medium`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        }
    }
}

impl FromStr for Quality {
    type Err = InvalidImageSpec;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quality::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| InvalidImageSpec::Quality(s.to_string()))
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three sizes the gpt-image models produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ImageSize {
    /// 1024x1024.
    #[serde(rename = "1024x1024")]
    Square,
    /// 1024x1536.
    #[serde(rename = "1024x1536")]
    Portrait,
    /// 1536x1024.
    #[serde(rename = "1536x1024")]
    Landscape,
}

impl ImageSize {
    /// Every size, in the price table's order.
    pub const ALL: [ImageSize; 3] = [ImageSize::Square, ImageSize::Portrait, ImageSize::Landscape];

    /// As stored and shown (`1024x1024`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ImageSize::Square => "1024x1024",
            ImageSize::Portrait => "1024x1536",
            ImageSize::Landscape => "1536x1024",
        }
    }
}

impl FromStr for ImageSize {
    type Err = InvalidImageSpec;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageSize::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| InvalidImageSpec::Size(s.to_string()))
    }
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An image model id as OpenAI names it (`gpt-image-1`, ...). Which ids are offered is
/// configuration ([`crate::LedgerConfig`]); this type only checks the shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelId(String);

impl ModelId {
    /// 1 to 64 characters of letters, digits, `.`, `-` or `_`.
    pub fn parse(raw: &str) -> Result<Self, InvalidImageSpec> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidImageSpec::ModelId(raw.to_string()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ModelId {
    type Error = InvalidImageSpec;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ModelId> for String {
    fn from(m: ModelId) -> String {
        m.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's prompt: trimmed, 1 to 2000 characters (counted as Unicode scalar values, as Telegram
/// users see them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prompt(String);

impl Prompt {
    /// Longest prompt accepted, in characters.
    pub const MAX_CHARS: usize = 2000;

    /// Trimmed; 1 to [`Prompt::MAX_CHARS`] characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidImageSpec> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            Err(InvalidImageSpec::EmptyPrompt)
        } else if len > Self::MAX_CHARS {
            Err(InvalidImageSpec::PromptTooLong {
                len,
                max: Self::MAX_CHARS,
            })
        } else {
            Ok(Self(trimmed.to_string()))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `max_chars` characters, with "..." when cut (the original's preview rule).
    pub fn preview(&self, max_chars: usize) -> String {
        preview(&self.0, max_chars)
    }
}

/// Cuts `text` to `max_chars` characters and marks the cut with "...".
pub fn preview(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

impl TryFrom<String> for Prompt {
    type Error = InvalidImageSpec;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Prompt> for String {
    fn from(p: Prompt) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_bounds_count_characters_not_bytes() {
        assert_eq!(Prompt::parse("   "), Err(InvalidImageSpec::EmptyPrompt));
        let cyrillic = "я".repeat(2000);
        assert!(Prompt::parse(&cyrillic).is_ok());
        assert_eq!(
            Prompt::parse(&"я".repeat(2001)),
            Err(InvalidImageSpec::PromptTooLong {
                len: 2001,
                max: 2000
            })
        );
        assert_eq!(
            Prompt::parse("  cat ").map(|p| p.as_str().to_string()),
            Ok("cat".into())
        );
    }

    #[test]
    fn preview_marks_the_cut() {
        assert_eq!(preview("abcdef", 3), "abc...");
        assert_eq!(preview("abc", 3), "abc");
    }

    #[test]
    fn sizes_and_qualities_round_trip() {
        for s in ImageSize::ALL {
            assert_eq!(s.as_str().parse::<ImageSize>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).ok(),
                Some(format!("\"{}\"", s.as_str()))
            );
        }
        for q in Quality::ALL {
            assert_eq!(q.as_str().parse::<Quality>(), Ok(q));
        }
        assert!("ultra".parse::<Quality>().is_err());
        assert!(ModelId::parse("gpt image").is_err());
    }
}
