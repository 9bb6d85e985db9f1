//! A fake Telegram Bot API for tests: a real HTTP server on loopback that speaks the Bot API's
//! wire format closely enough for teloxide 0.17, keeps every chat as the user would see it,
//! and records every call.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tokenbot_fake_telegram::{FakeTelegram, TgUser, Update};
//! let tg = FakeTelegram::start().await?;
//! // teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(tg.api_url())
//! let user = TgUser::new(42).lang("en");
//! tg.push_update(Update::text(&user, "/start"));
//! # Ok(()) }
//! ```
//!
//! What it checks as Telegram does: the token (401), empty and too long texts and captions,
//! `parse_mode=HTML` markup (stricter than Telegram about a bare `&` or `>`), callback data
//! over 64 bytes, "message is not modified" edits, unknown messages and file ids, getUpdates
//! while a webhook is set and two concurrent getUpdates (409). What it does not: groups and
//! channels (a chat is a private chat with a user; positive ids the fake has not seen are
//! accepted as such), Markdown parsing, file URLs, inline mode, payments, and every method
//! not listed in [`FakeTelegram`], which answers 404 "Not Found: method not found".
//!
//! Message ids are per chat and shared by the user's messages (numbered when delivered) and
//! the bot's, as in a real private chat.

pub mod conversation;
mod html;
mod media;
mod messages;
mod methods;
mod server;
mod state;
pub mod updates;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

pub use conversation::{Conversation, Outcome};
pub use updates::{TgUser, Update};

use state::{FileKind, SharedState, State};

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
}

/// An error the fake answers instead of doing what was asked (see [`FakeTelegram::fail_next`]).
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

    pub(crate) fn to_api_error(&self) -> wire::ApiError {
        wire::ApiError {
            status: self.status,
            description: self.description.clone(),
            parameters: self
                .retry_after
                .map(|s| serde_json::json!({ "retry_after": s })),
        }
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
    fn from_json(raw: &Value) -> ChatMessage {
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
        let Some(rows) = self
            .reply_markup
            .as_ref()
            .and_then(|m| m["inline_keyboard"].as_array())
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(Value::as_array)
            .flatten()
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

/// A running fake, serving on a loopback port until dropped.
pub struct FakeTelegram {
    state: SharedState,
    url: reqwest::Url,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// The only token the fake accepts; any other gets 401 "Unauthorized".
    pub const TOKEN: &'static str = "123456:TEST-TOKEN";
    /// The bot's own user id (the token's prefix, as in real tokens).
    pub const BOT_ID: i64 = 123456;
    /// The bot's @username, as getMe answers it.
    pub const BOT_USERNAME: &'static str = wire::BOT_USERNAME;

    /// Binds 127.0.0.1 on a free port and serves.
    pub async fn start() -> std::io::Result<FakeTelegram> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = reqwest::Url::parse(&format!("http://{}/", listener.local_addr()?))
            .map_err(std::io::Error::other)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State::new());
        let app = server::router(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake Telegram server stopped");
            }
        });
        Ok(FakeTelegram {
            state,
            url,
            http,
            server,
        })
    }

    /// `http://127.0.0.1:PORT/`, for teloxide's `Bot::set_api_url`.
    pub fn api_url(&self) -> reqwest::Url {
        self.url.clone()
    }

    /// Every Bot API request received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().calls.clone()
    }

    /// The calls to one method (any case).
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.state
            .lock()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// How many requests arrived so far: the `since` of a later [`Self::wait_for_call`].
    pub fn call_count(&self) -> usize {
        self.state.lock().calls.len()
    }

    /// The first call with index >= `since` that `pred` accepts, waiting for it if needed.
    /// Its effects (a sent message, say) are visible once it is returned.
    pub async fn wait_for_call(
        &self,
        since: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Result<Call, WaitTimeout> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changed = self.state.watch_calls();
        let mut next = since;
        loop {
            {
                let inner = self.state.lock();
                if let Some(c) = inner.calls.iter().skip(next).find(|c| pred(c)) {
                    return Ok(c.clone());
                }
                next = next.max(inner.calls.len());
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    let calls_seen = self
                        .state
                        .lock()
                        .calls
                        .iter()
                        .skip(since)
                        .map(|c| c.method.clone())
                        .collect();
                    return Err(WaitTimeout {
                        since,
                        timeout,
                        calls_seen,
                    });
                }
            }
        }
    }

    /// The first call to `method` (any case) with index >= `since`.
    pub async fn wait_for_method(
        &self,
        since: usize,
        timeout: Duration,
        method: &str,
    ) -> Result<Call, WaitTimeout> {
        self.wait_for_call(since, timeout, |c| c.method.eq_ignore_ascii_case(method))
            .await
    }

    /// Numbers the next update `first` (and on from there). Telegram never reuses an update id
    /// of a bot; a fake started again against the same bot database must not either.
    pub fn start_update_ids_at(&self, first: i64) {
        self.state.lock().next_update_id = first.saturating_sub(1);
    }

    /// Queues an update for getUpdates and returns its `update_id` (1, 2, ...). A message
    /// enters its chat now. A bot with a webhook gets it only through [`Self::post_webhook`].
    pub fn push_update(&self, update: Update) -> i64 {
        let id = {
            let mut inner = self.state.lock();
            let body = inner.deliver(&update);
            let id = inner.next_update_id;
            inner.queue.push_back(body);
            id
        };
        self.state.updates_changed();
        id
    }

    /// Gives the update its ids and enters its message into the chat, as delivering it would,
    /// but neither queues nor posts it: for handing to a webhook handler in-process. Decode
    /// it from text (`serde_json::from_str(&v.to_string())`): teloxide's `Update` cannot be
    /// decoded from a `serde_json::Value`.
    pub fn prepare_update(&self, update: Update) -> Value {
        self.state.lock().deliver(&update)
    }

    /// The queued updates getUpdates has not had confirmed yet, as JSON.
    pub fn pending_updates(&self) -> Vec<Value> {
        self.state.lock().queue.iter().cloned().collect()
    }

    /// Sends the update to the webhook with its registered secret token; returns the status.
    ///
    /// # Panics
    /// If no webhook is set: the test expected the bot to have called setWebhook.
    pub async fn post_webhook(&self, update: Update) -> Result<u16, reqwest::Error> {
        let secret = self.webhook().and_then(|w| w.secret_token);
        self.post_webhook_with_secret(update, secret.as_deref())
            .await
    }

    /// As [`Self::post_webhook`], with this secret header (none when `None`), to forge one.
    ///
    /// # Panics
    /// If no webhook is set.
    pub async fn post_webhook_with_secret(
        &self,
        update: Update,
        secret: Option<&str>,
    ) -> Result<u16, reqwest::Error> {
        let (url, body) = {
            let mut inner = self.state.lock();
            let Some(url) = inner.webhook.as_ref().map(|w| w.url.clone()) else {
                panic!("post_webhook: the bot has not set a webhook");
            };
            (url, inner.deliver(&update))
        };
        let mut request = self.http.post(url).json(&body);
        if let Some(s) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        Ok(request.send().await?.status().as_u16())
    }

    /// The webhook the bot set, if it set one (and has not deleted it).
    pub fn webhook(&self) -> Option<WebhookInfo> {
        self.state.lock().webhook.clone()
    }

    /// Adds a file as if a user had sent it: getFile finds it, and its bytes download.
    pub fn add_file(&self, bytes: Vec<u8>, file_name: Option<&str>, mime: Option<&str>) -> FileRef {
        let kind = if wire::image_size(&bytes).is_some() {
            FileKind::Photo
        } else {
            FileKind::Document
        };
        self.state
            .lock()
            .store_file(Bytes::from(bytes), file_name, mime, kind, false)
    }

    /// A file by id: one the bot uploaded (sendDocument, sendPhoto) or one added by the test.
    pub fn uploaded(&self, file_id: &str) -> Option<Uploaded> {
        let inner = self.state.lock();
        inner.files.get(file_id).map(|f| Uploaded {
            file_id: f.file_id.clone(),
            file_name: f.file_name.clone(),
            mime_type: f.mime_type.clone(),
            bytes: f.bytes.to_vec(),
        })
    }

    /// Every file the bot uploaded, in order.
    pub fn uploads(&self) -> Vec<Uploaded> {
        let inner = self.state.lock();
        let mut files: Vec<_> = inner
            .files
            .values()
            .filter(|f| f.from_bot && !f.is_thumb)
            .collect();
        files.sort_by_key(|f| f.seq);
        files
            .into_iter()
            .map(|f| Uploaded {
                file_id: f.file_id.clone(),
                file_name: f.file_name.clone(),
                mime_type: f.mime_type.clone(),
                bytes: f.bytes.to_vec(),
            })
            .collect()
    }

    /// The next `times` calls to `method` (any case) answer `failure` and do nothing else.
    /// Failures queue up behind ones already programmed for the method.
    pub fn fail_next(&self, method: &str, times: usize, failure: Failure) {
        let mut inner = self.state.lock();
        let queue = inner
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    /// While blocked, whatever the bot sends to the chat fails with 403 "bot was blocked by
    /// the user", as after the user pressed "Stop bot".
    pub fn set_blocked(&self, chat_id: i64, blocked: bool) {
        self.state.lock().chat_mut(chat_id).blocked = blocked;
    }

    /// The messages in a chat, oldest first, as the user sees them now.
    pub fn chat(&self, chat_id: i64) -> Vec<ChatMessage> {
        let inner = self.state.lock();
        inner
            .chats
            .get(&chat_id)
            .map(|c| c.messages.values().map(ChatMessage::from_json).collect())
            .unwrap_or_default()
    }

    /// The newest message in a chat, from either side.
    pub fn last_message(&self, chat_id: i64) -> Option<ChatMessage> {
        let inner = self.state.lock();
        let chat = inner.chats.get(&chat_id)?;
        chat.messages
            .values()
            .next_back()
            .map(ChatMessage::from_json)
    }

    /// The command lists set by setMyCommands, per scope and language.
    pub fn commands(&self) -> Vec<CommandSet> {
        self.state.lock().commands.clone()
    }
}
