//! Making values safe to show: HTML escaping, character-safe previews, number grouping.

/// Escapes text for Telegram's HTML parse mode (the four characters it requires plus `"`, so the
/// result is also safe inside an attribute).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The first `max_chars` characters (not bytes: a Cyrillic prompt must not be cut mid-letter),
/// with "..." appended when something was cut.
pub fn preview(s: &str, max_chars: usize) -> String {
    tokenbot_ledger::image::preview(s, max_chars)
}

/// Cut, then escape: escaping first could cut an `&amp;` in half.
pub(crate) fn html_preview(s: &str, max_chars: usize) -> String {
    escape(&preview(s, max_chars))
}

/// `10560` -> `10,560`, as the original's `{:,}` printed the admin's total spend.
pub(crate) fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_char_safe_previews() {
        assert_eq!(escape(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
        assert_eq!(
            preview(&"я".repeat(501), 500),
            format!("{}...", "я".repeat(500))
        );
        assert_eq!(preview(&"я".repeat(500), 500), "я".repeat(500));
        // Cutting before escaping keeps entities whole.
        assert_eq!(html_preview("&&&&", 2), "&amp;&amp;...");
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
