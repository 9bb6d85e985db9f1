//! What the tests of several modules share.

use chrono::{DateTime, TimeZone, Utc};

/// A value that would break HTML if it were not escaped.
pub const HOSTILE: &str = "<b>x</b> & \"q\" <script>";

/// A fixed moment: 2025-01-02 03:04:05 UTC.
pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("a valid date")
}

/// Telegram rejects a message whose HTML does not parse; this accepts exactly the tags the bot
/// uses, properly nested, and only the four entities `escape` writes.
pub fn assert_valid_html(text: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find(['<', '&', '>']) {
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix('&') {
            let ok = ["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| tail.starts_with(e));
            assert!(ok, "stray & in {text:?}");
            rest = after;
            continue;
        }
        assert!(!tail.starts_with('>'), "stray > in {text:?}");
        let end = tail
            .find('>')
            .unwrap_or_else(|| panic!("unclosed < in {text:?}"));
        let tag = &tail[1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "misnested </{name}> in {text:?}");
        } else {
            assert!(
                matches!(tag, "b" | "i" | "code"),
                "unexpected <{tag}> in {text:?}"
            );
            open.push(tag);
        }
        rest = &tail[end + 1..];
    }
    assert!(open.is_empty(), "unclosed {open:?} in {text:?}");
}
