//! The fake's handle: it starts the server, and it is how a test queues updates, posts them to a
//! webhook, programs failures and reads back calls, chats and files.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::records::{
    Call, ChatMessage, CommandSet, Failure, FileRef, Uploaded, WaitTimeout, WebhookInfo,
};
use crate::server;
use crate::state::{FileKind, SharedState, State};
use crate::updates::Update;
use crate::wire;

/// A running fake, serving on a loopback port until dropped.
pub struct FakeTelegram {
    pub(crate) state: SharedState,
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
    pub const TOKEN: &'static str = wire::TOKEN;
    /// The bot's own user id (the token's prefix, as in real tokens).
    pub const BOT_ID: i64 = wire::BOT_ID;
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

    /// What the fake remembers, for the handle's methods in other files (`payments.rs`).
    pub(crate) fn state(&self) -> &SharedState {
        &self.state
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

    /// getUpdates answered so far, and how many updates their answers held in all.
    pub fn polls_answered(&self) -> (u64, u64) {
        let inner = self.state.lock();
        (inner.polls_answered, inner.updates_handed_out)
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

    /// How many calls the bot made in the chat so far (`answerCallbackQuery` counts in the
    /// chat of the tapped button): the `since` of [`Self::chat_calls_since`] and
    /// [`Self::wait_for_chat_call`].
    pub fn chat_call_count(&self, chat_id: i64) -> usize {
        self.state.lock().index.indices(chat_id).len()
    }

    /// The chat's calls from its `since`-th on, oldest first. Copies those calls only, however
    /// long the whole log is.
    pub fn chat_calls_since(&self, chat_id: i64, since: usize) -> Vec<Call> {
        let inner = self.state.lock();
        let indices = inner.index.indices(chat_id);
        indices
            .get(since..)
            .unwrap_or_default()
            .iter()
            .map(|i| inner.calls[*i].clone())
            .collect()
    }

    /// The chat's first call from its `since`-th on that `pred` accepts, waiting for it if
    /// needed; woken only by that chat's calls. Its effects are visible once it is returned.
    pub async fn wait_for_chat_call(
        &self,
        chat_id: i64,
        since: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Result<Call, WaitTimeout> {
        let deadline = tokio::time::Instant::now() + timeout;
        let notify = self.state.lock().index.notifier(chat_id);
        let mut next = since;
        loop {
            let woken = notify.notified();
            tokio::pin!(woken);
            // Registered before looking, so a call recorded in between still wakes this wait.
            woken.as_mut().enable();
            {
                let inner = self.state.lock();
                let indices = inner.index.indices(chat_id);
                let fresh = indices.get(next..).unwrap_or_default();
                if let Some(i) = fresh.iter().find(|i| pred(&inner.calls[**i])) {
                    return Ok(inner.calls[*i].clone());
                }
                next = next.max(indices.len());
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                let calls_seen = self
                    .chat_calls_since(chat_id, since)
                    .into_iter()
                    .map(|c| c.method)
                    .collect();
                return Err(WaitTimeout {
                    since,
                    timeout,
                    calls_seen,
                });
            }
        }
    }

    /// Waits until the bot asked for updates past `update_id` (a getUpdates whose offset is
    /// higher), which a long-polling bot does only once it has handled that update.
    pub async fn wait_polled_past(
        &self,
        update_id: i64,
        timeout: Duration,
    ) -> Result<(), WaitTimeout> {
        let mut polled = self.state.polled.subscribe();
        let past = tokio::time::timeout(timeout, polled.wait_for(|o| *o > update_id))
            .await
            .is_ok_and(|r| r.is_ok());
        if past {
            return Ok(());
        }
        Err(WaitTimeout {
            since: 0,
            timeout,
            calls_seen: vec![format!(
                "getUpdates up to offset {}, waiting for one past update {update_id}",
                *polled.borrow()
            )],
        })
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

    /// In the bot's newest message of the chat holding a button that `pick` accepts (given the
    /// button's label and callback data): that message's id and the button's callback data.
    /// Reads the chat in place: a driver tapping through a long chat does not copy it per tap.
    pub fn newest_button(
        &self,
        chat_id: i64,
        pick: impl Fn(&str, &str) -> bool,
    ) -> Option<(i64, String)> {
        let inner = self.state.lock();
        let chat = inner.chats.get(&chat_id)?;
        chat.messages.values().rev().find_map(|m| {
            if !m["from"]["is_bot"].as_bool().unwrap_or_default() {
                return None;
            }
            let data = crate::records::inline_buttons(&m["reply_markup"])
                .filter_map(|b| Some((b["text"].as_str()?, b["callback_data"].as_str()?)))
                .find(|(label, data)| pick(label, data))?
                .1;
            Some((m["message_id"].as_i64()?, data.to_owned()))
        })
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
