//! The Bot API methods the fake answers (getUpdates aside: it waits, see `dispatch`), reading
//! the request of `request`. Messages live in `messages`, files in `media`.

use serde_json::{Value, json};

use crate::media;
use crate::messages;
use crate::payments;
use crate::records::{BotCommand, CommandSet, WebhookInfo};
use crate::request::Request;
use crate::state::Inner;
use crate::wire::{self, ApiError, Reply};

const KNOWN: &[&str] = &[
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendDocument",
    "sendPhoto",
    "getFile",
    "answerCallbackQuery",
    "sendChatAction",
    "sendInvoice",
    "answerPreCheckoutQuery",
    "refundStarPayment",
];

/// Telegram matches method names case-insensitively; calls are recorded in camelCase.
pub(crate) fn canonical(method: &str) -> String {
    if let Some(known) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(method)) {
        return (*known).to_owned();
    }
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn handle(inner: &mut Inner, req: &Request) -> Reply {
    match req.method.as_str() {
        "getMe" => Ok(wire::me()),
        "logOut" | "close" => Ok(json!(true)),
        "setWebhook" => set_webhook(inner, req),
        "deleteWebhook" => {
            if req.bool("drop_pending_updates") {
                inner.queue.clear();
            }
            inner.webhook = None;
            Ok(json!(true))
        }
        "getWebhookInfo" => Ok(webhook_info(inner)),
        "setMyCommands" => set_my_commands(inner, req),
        "deleteMyCommands" => {
            let (scope, lang) = command_scope(req);
            inner
                .commands
                .retain(|c| c.scope != scope || c.language_code != lang);
            Ok(json!(true))
        }
        "getMyCommands" => {
            let (scope, lang) = command_scope(req);
            let set = inner
                .commands
                .iter()
                .find(|c| c.scope == scope && c.language_code == lang);
            let list = set.map(|s| s.commands.as_slice()).unwrap_or_default();
            Ok(json!(
                list.iter()
                    .map(|c| json!({ "command": c.command, "description": c.description }))
                    .collect::<Vec<_>>()
            ))
        }
        "sendMessage" => messages::send_message(inner, req),
        "editMessageText" => messages::edit_text(inner, req),
        "editMessageCaption" => messages::edit_caption(inner, req),
        "editMessageReplyMarkup" => messages::edit_reply_markup(inner, req),
        "deleteMessage" => messages::delete(inner, req),
        "sendDocument" => media::send_document(inner, req),
        "sendPhoto" => media::send_photo(inner, req),
        "getFile" => media::get_file(inner, req),
        "answerCallbackQuery" => {
            let id = req.str("callback_query_id").unwrap_or_default();
            if inner.index.knows_callback(id) {
                Ok(json!(true))
            } else {
                Err(ApiError::bad_request(
                    "query is too old and response timeout expired or query ID is invalid",
                ))
            }
        }
        "sendChatAction" => send_chat_action(inner, req),
        "sendInvoice" => payments::send_invoice(inner, req),
        "answerPreCheckoutQuery" => payments::answer_pre_checkout(inner, req),
        "refundStarPayment" => payments::refund_star_payment(inner, req),
        other => {
            tracing::warn!(
                method = other,
                "fake Telegram does not implement this method"
            );
            Err(ApiError::new(404, "Not Found: method not found"))
        }
    }
}

fn set_webhook(inner: &mut Inner, req: &Request) -> Reply {
    let url = req.str("url").unwrap_or_default();
    let secret = req.str("secret_token").filter(|s| !s.is_empty());
    if let Some(s) = secret {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if s.len() > 256 || !s.chars().all(allowed) {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if !url.is_empty() && reqwest::Url::parse(url).is_err() {
        return Err(ApiError::bad_request(
            "bad webhook: Failed to resolve host: Name or service not known",
        ));
    }
    let drop_pending_updates = req.bool("drop_pending_updates");
    if drop_pending_updates {
        inner.queue.clear();
    }
    inner.webhook = (!url.is_empty()).then(|| WebhookInfo {
        url: url.to_owned(),
        secret_token: secret.map(str::to_owned),
        drop_pending_updates,
        allowed_updates: req.json("allowed_updates").and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
        }),
        max_connections: req.i64("max_connections"),
    });
    Ok(json!(true))
}

fn webhook_info(inner: &Inner) -> Value {
    let mut info = json!({
        "url": inner.webhook.as_ref().map(|w| w.url.as_str()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": inner.queue.len(),
    });
    if let Some(w) = &inner.webhook {
        info["max_connections"] = json!(w.max_connections.unwrap_or(40));
        if let Some(a) = &w.allowed_updates {
            info["allowed_updates"] = json!(a);
        }
    }
    info
}

fn command_scope(req: &Request) -> (Value, Option<String>) {
    let scope = req
        .json("scope")
        .unwrap_or_else(|| json!({ "type": "default" }));
    let lang = req
        .str("language_code")
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    (scope, lang)
}

fn set_my_commands(inner: &mut Inner, req: &Request) -> Reply {
    let list = req
        .json("commands")
        .and_then(|v| v.as_array().cloned())
        .ok_or_else(|| ApiError::bad_request("parameter \"commands\" is required"))?;
    let mut commands = Vec::with_capacity(list.len());
    for c in &list {
        let command = c["command"].as_str().unwrap_or_default();
        let description = c["description"].as_str().unwrap_or_default();
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if command.is_empty() || command.len() > 32 || !command.chars().all(valid) {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if description.is_empty() || description.chars().count() > 256 {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push(BotCommand {
            command: command.to_owned(),
            description: description.to_owned(),
        });
    }
    let (scope, language_code) = command_scope(req);
    inner
        .commands
        .retain(|c| c.scope != scope || c.language_code != language_code);
    inner.commands.push(CommandSet {
        scope,
        language_code,
        commands,
    });
    Ok(json!(true))
}

fn send_chat_action(inner: &mut Inner, req: &Request) -> Reply {
    messages::target_chat(inner, req)?;
    const ACTIONS: &[&str] = &[
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ];
    match req.str("action") {
        Some(a) if ACTIONS.contains(&a) => Ok(json!(true)),
        _ => Err(ApiError::bad_request("wrong parameter action in request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_canonical_camel_case() {
        assert_eq!(canonical("SendMessage"), "sendMessage");
        assert_eq!(canonical("sendmessage"), "sendMessage");
        assert_eq!(canonical("GetUpdates"), "getUpdates");
        assert_eq!(canonical("SendSticker"), "sendSticker");
    }

    #[test]
    fn parameters_read_as_json_or_strings() {
        let mut req = Request::default();
        req.params.insert("a".into(), json!("42"));
        req.params.insert("b".into(), json!(7));
        req.params.insert("m".into(), json!("{\"x\":1}"));
        req.params.insert("t".into(), json!("true"));
        assert_eq!(req.i64("a"), Some(42));
        assert_eq!(req.i64("b"), Some(7));
        assert_eq!(req.json("m"), Some(json!({"x": 1})));
        assert!(req.bool("t"));
        assert!(!req.bool("missing"));
    }
}
