//! `parse_mode=HTML` as Telegram reads it: the text the user sees plus its entities, or the
//! "can't parse entities" error. Stricter than Telegram in one way, on purpose: a bare `&` or
//! `>` is refused too, because a bot that leaves one unescaped will sooner or later leave a `<`.

use serde_json::{Value, json};

/// Text after markup was parsed away, and its entities (offsets in UTF-16 code units).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub text: String,
    pub entities: Vec<Value>,
}

struct Open {
    name: String,
    start: usize,
    entity: Option<Value>,
}

/// Returns the detail that follows "Bad Request: can't parse entities: " on failure.
pub(crate) fn parse(src: &str) -> Result<Parsed, String> {
    let mut text = String::with_capacity(src.len());
    let mut len16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        match c {
            '<' => {
                let end = tag_end(src, i)
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
                let tag = &src[i + 1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let open = stack
                        .pop()
                        .ok_or_else(|| format!("Unexpected end tag at byte offset {i}"))?;
                    if open.name != name {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                            open.name
                        ));
                    }
                    if let Some(mut entity) = open.entity
                        && len16 > open.start
                    {
                        entity["offset"] = json!(open.start);
                        entity["length"] = json!(len16 - open.start);
                        entities.push(entity);
                    }
                } else {
                    let (name, attrs) = split_tag(tag, i)?;
                    let entity = start_entity(&name, &attrs, &mut stack, i)?;
                    stack.push(Open {
                        name,
                        start: len16,
                        entity,
                    });
                }
                i = end + 1;
            }
            '&' => {
                let (decoded, used) = decode_entity(&src[i..], i)?;
                text.push(decoded);
                len16 += decoded.len_utf16();
                i += used;
            }
            '>' => return Err(format!("Unescaped \">\" at byte offset {i}")),
            c => {
                text.push(c);
                len16 += c.len_utf16();
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.name
        ));
    }
    // Telegram lists entities by offset, an enclosing entity before the ones inside it.
    entities.sort_by_key(|e| {
        let at = |k: &str| e[k].as_u64().unwrap_or_default();
        (at("offset"), std::cmp::Reverse(at("length")))
    });
    Ok(Parsed { text, entities })
}

/// Index of the `>` closing the tag that starts at `start`, skipping quoted attribute values.
fn tag_end(src: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (off, c) in src[start + 1..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(start + 1 + off),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn split_tag(tag: &str, at: usize) -> Result<(String, Vec<(String, String)>), String> {
    let tag = tag.trim_end_matches('/').trim();
    let name_len = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = tag[..name_len].to_ascii_lowercase();
    if name.is_empty() {
        return Err(format!("Empty tag name at byte offset {at}"));
    }
    let mut attrs = Vec::new();
    let mut rest = tag[name_len..].trim_start();
    while !rest.is_empty() {
        let key_len = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_len].to_ascii_lowercase();
        rest = rest[key_len..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            attrs.push((key, String::new()));
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (raw, tail) = match after_eq.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after_eq[1..];
                let close = body
                    .find(q)
                    .ok_or_else(|| format!("Unclosed attribute value at byte offset {at}"))?;
                (&body[..close], &body[close + 1..])
            }
            _ => {
                let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                (&after_eq[..end], &after_eq[end..])
            }
        };
        attrs.push((key, decode_all(raw, at)?));
        rest = tail.trim_start();
    }
    Ok((name, attrs))
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn start_entity(
    name: &str,
    attrs: &[(String, String)],
    stack: &mut [Open],
    at: usize,
) -> Result<Option<Value>, String> {
    let kind = |t: &str| Ok(Some(json!({ "type": t })));
    match name {
        "b" | "strong" => kind("bold"),
        "i" | "em" => kind("italic"),
        "u" | "ins" => kind("underline"),
        "s" | "strike" | "del" => kind("strikethrough"),
        "tg-spoiler" => kind("spoiler"),
        "span" if attr(attrs, "class") == Some("tg-spoiler") => kind("spoiler"),
        "blockquote" if attr(attrs, "expandable").is_some() => kind("expandable_blockquote"),
        "blockquote" => kind("blockquote"),
        "pre" => kind("pre"),
        "code" => {
            // `<pre><code class="language-x">` is one pre entity with a language, not two.
            let language = attr(attrs, "class").and_then(|c| c.strip_prefix("language-"));
            match stack.last_mut() {
                Some(Open {
                    name: parent,
                    entity: Some(pre),
                    ..
                }) if parent == "pre" => {
                    if let Some(lang) = language {
                        pre["language"] = json!(lang);
                    }
                    Ok(None)
                }
                _ => kind("code"),
            }
        }
        "a" => Ok(attr(attrs, "href")
            .and_then(link_url)
            .map(|url| json!({ "type": "text_link", "url": url }))),
        _ => Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {at}"
        )),
    }
}

/// Telegram drops links it cannot parse instead of failing; teloxide decodes `url` as a URL,
/// so only a parseable one may reach it.
fn link_url(href: &str) -> Option<String> {
    reqwest::Url::parse(href)
        .or_else(|_| reqwest::Url::parse(&format!("http://{href}")))
        .ok()
        .map(String::from)
}

/// Decodes the character entity at the start of `s`; returns the character and bytes used.
fn decode_entity(s: &str, at: usize) -> Result<(char, usize), String> {
    let semi = s
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i)
        .ok_or_else(|| format!("Unescaped \"&\" at byte offset {at}"))?;
    let name = &s[1..semi];
    let c = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else {
                name.strip_prefix('#').and_then(|d| d.parse().ok())
            };
            code.and_then(char::from_u32)
        }
    };
    c.map(|c| (c, semi + 1))
        .ok_or_else(|| format!("Unsupported HTML entity \"&{name};\" at byte offset {at}"))
}

fn decode_all(s: &str, at: usize) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        if c == '&' {
            let (d, used) = decode_entity(&s[i..], at)?;
            out.push(d);
            i += used;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_entities() {
        let p = parse("<b>Balance:</b> 10 &lt;tokens&gt; &amp; <a href=\"https://x.io/?a=1&amp;b=2\">more</a>")
            .expect("valid");
        assert_eq!(p.text, "Balance: 10 <tokens> & more");
        assert_eq!(
            p.entities,
            vec![
                json!({"type":"bold","offset":0,"length":8}),
                json!({"type":"text_link","url":"https://x.io/?a=1&b=2","offset":23,"length":4}),
            ]
        );
    }

    #[test]
    fn offsets_count_utf16_units() {
        let p = parse("🎨 <i>ок</i>").expect("valid");
        assert_eq!(
            p.entities,
            vec![json!({"type":"italic","offset":3,"length":2})]
        );
    }

    #[test]
    fn pre_with_language_is_one_entity() {
        let p = parse("<pre><code class=\"language-rust\">fn x</code></pre>").expect("valid");
        assert_eq!(
            p.entities,
            vec![json!({"type":"pre","language":"rust","offset":0,"length":4})]
        );
    }

    #[test]
    fn unescaped_user_text_is_refused() {
        let err = parse("you said <script>").expect_err("unknown tag");
        assert_eq!(err, "Unsupported start tag \"script\" at byte offset 9");
        assert!(parse("a < b").is_err());
        assert!(parse("a > b").is_err());
        assert!(parse("Tom & Jerry").is_err());
        assert!(parse("&nbsp;").is_err());
    }

    #[test]
    fn unbalanced_tags_are_refused() {
        assert!(parse("<b>bold").expect_err("unclosed").contains("\"b\""));
        assert!(
            parse("<b><i>x</b></i>")
                .expect_err("crossed")
                .starts_with("Unmatched end tag")
        );
        assert!(
            parse("x</b>")
                .expect_err("stray")
                .starts_with("Unexpected end tag")
        );
        assert!(parse("<span>x</span>").is_err());
        assert!(parse("<span class=\"tg-spoiler\">x</span>").is_ok());
    }
}
