//! Sending, editing and deleting messages, with the checks Telegram makes on their content.

use serde_json::{Value, json};

use crate::html;
use crate::request::Request;
use crate::state::Inner;
use crate::wire::{ApiError, Reply, now};

const TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// The chat a request addresses. A positive id the fake has not seen is taken as a private
/// chat with a user who started the bot earlier, so tests need not replay history first.
pub(crate) fn target_chat(inner: &mut Inner, req: &Request) -> Result<i64, ApiError> {
    let not_found = || ApiError::bad_request("chat not found");
    let id = match (req.i64("chat_id"), req.str("chat_id")) {
        (Some(id), _) if id > 0 => {
            inner.chat_mut(id);
            id
        }
        (Some(id), _) if inner.chats.contains_key(&id) => id,
        (Some(_), _) => return Err(not_found()),
        (None, Some(s)) if s.starts_with('@') => {
            let name = &s[1..];
            inner
                .chats
                .iter()
                .find(|(_, c)| c.chat["username"].as_str() == Some(name))
                .map(|(id, _)| *id)
                .ok_or_else(not_found)?
        }
        (None, Some(s)) if !s.is_empty() => return Err(not_found()),
        _ => return Err(ApiError::bad_request("chat_id is empty")),
    };
    if inner.chats.get(&id).is_some_and(|c| c.blocked) {
        return Err(ApiError::forbidden("bot was blocked by the user"));
    }
    Ok(id)
}

/// Text as the user sees it, with its entities.
#[derive(Debug, PartialEq)]
pub(crate) struct Formatted {
    pub text: String,
    pub entities: Vec<Value>,
}

/// Reads `key` (text or caption) with its parse mode; None when absent or blank.
pub(crate) fn formatted(
    req: &Request,
    key: &str,
    entities_key: &str,
) -> Result<Option<Formatted>, ApiError> {
    let Some(raw) = req.str(key) else {
        return Ok(None);
    };
    let parsed = match req.str("parse_mode").filter(|m| !m.is_empty()) {
        Some(m) if m.eq_ignore_ascii_case("html") => {
            let p = html::parse(raw)
                .map_err(|e| ApiError::bad_request(format!("can't parse entities: {e}")))?;
            Formatted {
                text: p.text,
                entities: p.entities,
            }
        }
        // Markdown is passed through unchecked: the bot under test speaks HTML.
        Some(m) if m.eq_ignore_ascii_case("markdownv2") || m.eq_ignore_ascii_case("markdown") => {
            Formatted {
                text: raw.to_owned(),
                entities: Vec::new(),
            }
        }
        Some(_) => return Err(ApiError::bad_request("unsupported parse_mode")),
        None => Formatted {
            text: raw.to_owned(),
            entities: req
                .json(entities_key)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default(),
        },
    };
    Ok((!parsed.text.trim().is_empty()).then_some(parsed))
}

/// `too_long` differs: Telegram says "message is too long" when sending, "MESSAGE_TOO_LONG"
/// when editing.
fn message_text(req: &Request, too_long: &str) -> Result<Formatted, ApiError> {
    let text = formatted(req, "text", "entities")?
        .ok_or_else(|| ApiError::bad_request("message text is empty"))?;
    if text.text.encode_utf16().count() > TEXT_LIMIT {
        return Err(ApiError::bad_request(too_long));
    }
    Ok(text)
}

pub(crate) fn caption(req: &Request) -> Result<Option<Formatted>, ApiError> {
    let caption = formatted(req, "caption", "caption_entities")?;
    if caption
        .as_ref()
        .is_some_and(|c| c.text.encode_utf16().count() > CAPTION_LIMIT)
    {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok(caption)
}

/// The inline keyboard a message will carry; other keyboards live outside the message.
pub(crate) fn inline_markup(req: &Request) -> Result<Option<Value>, ApiError> {
    let Some(markup) = req.json("reply_markup") else {
        return Ok(None);
    };
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(None);
    };
    let rows = rows.as_array().ok_or_else(|| {
        ApiError::bad_request(
            "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array",
        )
    })?;
    for row in rows {
        let buttons = row.as_array().ok_or_else(|| {
            ApiError::bad_request(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
            )
        })?;
        for button in buttons {
            if let Some(data) = button.get("callback_data") {
                let len = data.as_str().map(str::len).unwrap_or_default();
                if !(1..=64).contains(&len) {
                    return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
                }
            }
            if let Some(url) = button.get("url")
                && url
                    .as_str()
                    .and_then(|u| reqwest::Url::parse(u).ok())
                    .is_none()
            {
                return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
            }
        }
    }
    if rows.iter().all(|r| r.as_array().is_some_and(Vec::is_empty)) {
        return Ok(None);
    }
    Ok(Some(json!({ "inline_keyboard": rows })))
}

/// The message a new one replies to, as Telegram embeds it.
pub(crate) fn reply_target(
    inner: &Inner,
    chat_id: i64,
    req: &Request,
) -> Result<Option<Value>, ApiError> {
    let params = req.json("reply_parameters");
    let id = params
        .as_ref()
        .and_then(|p| p["message_id"].as_i64())
        .or_else(|| req.i64("reply_to_message_id"));
    let Some(id) = id else {
        return Ok(None);
    };
    let lenient = req.bool("allow_sending_without_reply")
        || params
            .as_ref()
            .is_some_and(|p| p["allow_sending_without_reply"].as_bool() == Some(true));
    match inner.message(chat_id, id) {
        Some(m) => {
            let mut m = m.clone();
            // Telegram embeds one level only.
            if let Some(o) = m.as_object_mut() {
                o.remove("reply_to_message");
            }
            Ok(Some(m))
        }
        None if lenient => Ok(None),
        None => Err(ApiError::bad_request("message to be replied not found")),
    }
}

/// Sets or removes a field of a message JSON.
pub(crate) fn set(message: &mut Value, key: &str, value: Option<Value>) {
    if let Some(o) = message.as_object_mut() {
        match value {
            Some(v) => o.insert(key.to_owned(), v),
            None => o.remove(key),
        };
    }
}

/// Puts text or a caption with its entities into a message.
pub(crate) fn set_formatted(
    message: &mut Value,
    key: &str,
    entities_key: &str,
    f: Option<Formatted>,
) {
    let (text, entities) = match f {
        Some(f) => (Some(json!(f.text)), Some(f.entities)),
        None => (None, None),
    };
    set(message, key, text);
    set(
        message,
        entities_key,
        entities.filter(|e| !e.is_empty()).map(Value::Array),
    );
}

pub(crate) fn send_message(inner: &mut Inner, req: &Request) -> Reply {
    let chat_id = target_chat(inner, req)?;
    let text = message_text(req, "message is too long")?;
    let markup = inline_markup(req)?;
    let reply_to = reply_target(inner, chat_id, req)?;
    let mut message = inner.new_bot_message(chat_id);
    set_formatted(&mut message, "text", "entities", Some(text));
    set(&mut message, "reply_markup", markup);
    set(&mut message, "reply_to_message", reply_to);
    inner.store_message(chat_id, &message);
    Ok(message)
}

/// The bot's own message a request edits, or Telegram's refusal.
fn editable(inner: &mut Inner, req: &Request) -> Result<(i64, Value), ApiError> {
    if req.str("inline_message_id").is_some() && req.params.get("chat_id").is_none() {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = target_chat(inner, req)?;
    let message_id = req
        .i64("message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let message = inner
        .message(chat_id, message_id)
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if message["from"]["is_bot"].as_bool() != Some(true) {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok((chat_id, message.clone()))
}

fn current_formatted(message: &Value, key: &str, entities_key: &str) -> Option<Formatted> {
    Some(Formatted {
        text: message.get(key)?.as_str()?.to_owned(),
        entities: message
            .get(entities_key)
            .and_then(|e| e.as_array().cloned())
            .unwrap_or_default(),
    })
}

fn commit_edit(inner: &mut Inner, chat_id: i64, mut message: Value) -> Reply {
    set(&mut message, "edit_date", Some(json!(now())));
    inner.store_message(chat_id, &message);
    Ok(message)
}

pub(crate) fn edit_text(inner: &mut Inner, req: &Request) -> Reply {
    let (chat_id, mut message) = editable(inner, req)?;
    let text = message_text(req, "MESSAGE_TOO_LONG")?;
    let markup = inline_markup(req)?;
    let current = current_formatted(&message, "text", "entities")
        .ok_or_else(|| ApiError::bad_request("there is no text in the message to edit"))?;
    if current == text && message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_formatted(&mut message, "text", "entities", Some(text));
    set(&mut message, "reply_markup", markup);
    commit_edit(inner, chat_id, message)
}

pub(crate) fn edit_caption(inner: &mut Inner, req: &Request) -> Reply {
    let (chat_id, mut message) = editable(inner, req)?;
    let caption = caption(req)?;
    let markup = inline_markup(req)?;
    if message.get("text").is_some() {
        return Err(ApiError::bad_request(
            "there is no caption in the message to edit",
        ));
    }
    let current = current_formatted(&message, "caption", "caption_entities");
    if current == caption && message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set_formatted(&mut message, "caption", "caption_entities", caption);
    set(&mut message, "reply_markup", markup);
    commit_edit(inner, chat_id, message)
}

pub(crate) fn edit_reply_markup(inner: &mut Inner, req: &Request) -> Reply {
    let (chat_id, mut message) = editable(inner, req)?;
    let markup = inline_markup(req)?;
    if message.get("reply_markup") == markup.as_ref() {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    set(&mut message, "reply_markup", markup);
    commit_edit(inner, chat_id, message)
}

pub(crate) fn delete(inner: &mut Inner, req: &Request) -> Reply {
    let chat_id = target_chat(inner, req)?;
    let message_id = req
        .i64("message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    inner
        .chat_mut(chat_id)
        .messages
        .remove(&message_id)
        .map(|_| json!(true))
        .ok_or_else(|| ApiError::bad_request("message to delete not found"))
}
