//! What the fake records and a test reads back: calls, programmed failures, files, the webhook,
//! command menus, chat messages as the user sees them, and the error of a wait that timed out.

use std::time::Duration;

use serde_json::Value;

/// One Bot API request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// camelCase, whatever case the client used: `sendMessage`.
    pub method: String,
    /// The JSON body; for a form or multipart request its text fields (JSON-looking ones
    /// parsed, like `reply_markup`) and its files as `{"file_name": .., "len": ..}`.
    pub params: Value,
    /// Position among all calls, from 0.
    pub index: usize,
    /// False when the token was wrong (the call was answered 401).
    pub authorized: bool,
    /// When the fake received it: a benchmark's "handled" is its update's last call.
    pub at: std::time::Instant,
}

/// An error the fake answers instead of doing what was asked (see [`FakeTelegram::fail_next`](crate::FakeTelegram::fail_next)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status, which Telegram repeats as `error_code`.
    pub status: u16,
    /// Telegram's `description`, e.g. "Forbidden: bot was blocked by the user"; teloxide maps
    /// the known ones to its `ApiError` variants.
    pub description: String,
    /// Sent as `parameters.retry_after`: teloxide turns it into `RequestError::RetryAfter`.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// Any error. Note that teloxide waits 10 s before reading a 5xx answer.
    pub fn new(status: u16, description: impl Into<String>) -> Failure {
        Failure {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 403 "Forbidden: bot was blocked by the user".
    pub fn blocked() -> Failure {
        Failure::new(403, "Forbidden: bot was blocked by the user")
    }

    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after`.
    pub fn retry_after(seconds: u64) -> Failure {
        Failure {
            retry_after: Some(seconds),
            ..Failure::new(429, format!("Too Many Requests: retry after {seconds}"))
        }
    }

    /// 400 "Bad Request: {what}".
    pub fn bad_request(what: &str) -> Failure {
        Failure::new(400, format!("Bad Request: {what}"))
    }
}

/// A file Telegram holds, as messages refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// What the bot passes to getFile or sends again.
    pub file_id: String,
    /// Stable across bots; Telegram's dedup key.
    pub file_unique_id: String,
    /// Size in bytes.
    pub file_size: u64,
    /// From the image header; 0 for other files.
    pub width: u32,
    /// From the image header; 0 for other files.
    pub height: u32,
}

/// A file the fake holds (uploaded by the bot or added by the test) with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The id the fake gave it.
    pub file_id: String,
    /// The name the uploader gave it (a document's `file_name`).
    pub file_name: Option<String>,
    /// The part's content type, as uploaded.
    pub mime_type: Option<String>,
    /// The content, for a test to check what the user would download.
    pub bytes: Vec<u8>,
}

/// The webhook as last set by setWebhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookInfo {
    /// Where updates are posted.
    pub url: String,
    /// Sent back as `X-Telegram-Bot-Api-Secret-Token` with every update.
    pub secret_token: Option<String>,
    /// Whether the bot asked to drop the updates queued before.
    pub drop_pending_updates: bool,
    /// The update kinds the bot asked for; `None`: all.
    pub allowed_updates: Option<Vec<String>>,
    /// The bot's cap on concurrent webhook connections, as sent.
    pub max_connections: Option<i64>,
}

/// One entry of a bot's command menu, as set by setMyCommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotCommand {
    /// The command without the slash, e.g. `start`.
    pub command: String,
    /// The text the menu shows next to it.
    pub description: String,
}

/// The commands set by setMyCommands for one scope and language.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSet {
    /// The `BotCommandScope` JSON; `{"type":"default"}` when none was given.
    pub scope: Value,
    /// The users' language this list is for; `None`: everyone else.
    pub language_code: Option<String>,
    /// The menu, in order.
    pub commands: Vec<BotCommand>,
}

/// A message in a chat as the user sees it now (after edits).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// Its id in the chat.
    pub message_id: i64,
    /// Sent by the bot (else by the user).
    pub from_bot: bool,
    /// The text, or the caption of a media message, with markup parsed away.
    pub text: Option<String>,
    /// The inline keyboard, `{"inline_keyboard": [[{"text":..,"callback_data":..}]]}`.
    pub reply_markup: Option<Value>,
    /// The file id of the document, if the message is one.
    pub document: Option<String>,
    /// The file id of the largest size, if the message is a photo.
    pub photo: Option<String>,
    /// The whole message JSON, as Telegram would return it.
    pub raw: Value,
}

/// An inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// The label the user sees.
    pub text: String,
    /// What a tap sends back to the bot; `None` for a link button.
    pub callback_data: Option<String>,
    /// Where a link button leads.
    pub url: Option<String>,
}

impl ChatMessage {
    pub(crate) fn from_json(raw: &Value) -> ChatMessage {
        let s = |v: &Value| v.as_str().map(str::to_owned);
        ChatMessage {
            message_id: raw["message_id"].as_i64().unwrap_or_default(),
            from_bot: raw["from"]["is_bot"].as_bool().unwrap_or_default(),
            text: s(&raw["text"]).or_else(|| s(&raw["caption"])),
            reply_markup: raw.get("reply_markup").cloned(),
            document: s(&raw["document"]["file_id"]),
            photo: raw["photo"]
                .as_array()
                .and_then(|sizes| sizes.last())
                .and_then(|p| s(&p["file_id"])),
            raw: raw.clone(),
        }
    }

    /// The inline buttons, row by row.
    pub fn buttons(&self) -> Vec<Button> {
        let Some(markup) = self.reply_markup.as_ref() else {
            return Vec::new();
        };
        inline_buttons(markup)
            .map(|b| Button {
                text: b["text"].as_str().unwrap_or_default().to_owned(),
                callback_data: b["callback_data"].as_str().map(str::to_owned),
                url: b["url"].as_str().map(str::to_owned),
            })
            .collect()
    }

    /// The callback data of the first button whose label contains `label`.
    pub fn callback_data(&self, label: &str) -> Option<String> {
        self.buttons()
            .into_iter()
            .find(|b| b.text.contains(label))
            .and_then(|b| b.callback_data)
    }
}

/// The buttons of an inline keyboard's `reply_markup`, row by row, as JSON objects.
pub(crate) fn inline_buttons(markup: &Value) -> impl Iterator<Item = &Value> {
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
}

/// No call matched in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimeout {
    /// The first call index that was looked at.
    pub since: usize,
    /// How long the wait lasted.
    pub timeout: Duration,
    /// Methods of the calls from `since` on, to tell what happened instead.
    pub calls_seen: Vec<String>,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no matching Telegram call within {:?}; calls from #{} on: {:?}",
            self.timeout, self.since, self.calls_seen
        )
    }
}

impl std::error::Error for WaitTimeout {}
