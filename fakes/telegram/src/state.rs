//! What the fake remembers: calls, programmed failures, the update queue, chats and files.
//! One mutex guards it all, so a call is recorded together with its effects: whoever sees the
//! call also sees the message it sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use crate::chat_index::ChatIndex;

use crate::records::{Call, CommandSet, Failure, FileRef, WebhookInfo};
use crate::request::Request;
use crate::updates::{Kind, Update};
use crate::wire;

pub(crate) struct ChatLog {
    pub chat: Value,
    pub next_message_id: i64,
    pub messages: BTreeMap<i64, Value>,
    pub blocked: bool,
}

pub(crate) struct StoredFile {
    pub seq: u64,
    pub file_id: String,
    pub unique_id: String,
    pub bytes: Bytes,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub path: String,
    pub from_bot: bool,
    pub is_thumb: bool,
}

impl StoredFile {
    pub fn file_ref(&self) -> FileRef {
        let (width, height) = wire::image_size(&self.bytes).unwrap_or((0, 0));
        FileRef {
            file_id: self.file_id.clone(),
            file_unique_id: self.unique_id.clone(),
            file_size: self.bytes.len() as u64,
            width,
            height,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Document,
    Photo,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub calls: Vec<Call>,
    pub failures: HashMap<String, VecDeque<Failure>>,
    pub queue: VecDeque<Value>,
    pub next_update_id: i64,
    /// Bumped by every getUpdates: an older poll still waiting has been superseded.
    pub poll_generation: u64,
    pub allowed_updates: Vec<String>,
    /// getUpdates answered so far, and the updates their answers held (an update in hand above
    /// the offset is in every answer until it is confirmed).
    pub polls_answered: u64,
    pub updates_handed_out: u64,
    pub webhook: Option<WebhookInfo>,
    pub chats: BTreeMap<i64, ChatLog>,
    pub files: HashMap<String, StoredFile>,
    pub file_seq: u64,
    /// Calls by chat, the callback queries given out, how far the bot polled.
    pub index: ChatIndex,
    pub callback_seq: u64,
    pub commands: Vec<CommandSet>,
    pub flood: crate::flood::Flood,
    pub payments: crate::payment_records::Desk,
}

impl Inner {
    /// Records a call; returns the notifier of its chat, for the caller to wake once the lock
    /// is released.
    pub(crate) fn record(&mut self, req: &Request, authorized: bool) -> Option<Arc<Notify>> {
        let index = self.calls.len();
        self.calls.push(Call {
            method: req.method.clone(),
            params: Value::Object(req.params.clone()),
            index,
            authorized,
            at: std::time::Instant::now(),
        });
        self.index.add(req, index)
    }

    /// The chat with this id, created as a private chat if the fake has not seen it yet.
    pub fn chat_mut(&mut self, chat_id: i64) -> &mut ChatLog {
        self.chats.entry(chat_id).or_insert_with(|| ChatLog {
            chat: wire::unknown_private_chat(chat_id),
            next_message_id: 1,
            messages: BTreeMap::new(),
            blocked: false,
        })
    }

    /// A new message from the bot with its id taken; the caller adds content and stores it.
    pub fn new_bot_message(&mut self, chat_id: i64) -> Value {
        let chat = self.chat_mut(chat_id);
        let id = chat.next_message_id;
        chat.next_message_id += 1;
        json!({
            "message_id": id,
            "from": wire::bot_user(),
            "chat": chat.chat.clone(),
            "date": wire::now(),
        })
    }

    pub fn store_message(&mut self, chat_id: i64, message: &Value) {
        let id = message["message_id"].as_i64().unwrap_or_default();
        self.chat_mut(chat_id).messages.insert(id, message.clone());
    }

    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<&Value> {
        self.chats.get(&chat_id)?.messages.get(&message_id)
    }

    pub fn take_failure(&mut self, method: &str) -> Option<Failure> {
        let queue = self.failures.get_mut(&method.to_ascii_lowercase())?;
        queue.pop_front()
    }

    pub fn store_file(
        &mut self,
        bytes: Bytes,
        file_name: Option<&str>,
        mime_type: Option<&str>,
        kind: FileKind,
        from_bot: bool,
    ) -> FileRef {
        self.file_seq += 1;
        let seq = self.file_seq;
        let (prefix, dir) = match kind {
            FileKind::Document => ("BQAC", "documents"),
            FileKind::Photo => ("AgAC", "photos"),
        };
        let ext = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
            .or_else(|| {
                mime_type
                    .and_then(|m| m.rsplit_once('/'))
                    .map(|(_, e)| e.into())
            })
            .unwrap_or_else(|| "bin".into());
        let file = StoredFile {
            seq,
            file_id: format!("{prefix}AgIAAxkBAAF{seq:06}"),
            unique_id: format!("AgADfake{seq:06}"),
            bytes,
            file_name: file_name.map(str::to_owned),
            mime_type: mime_type.map(str::to_owned),
            path: format!("{dir}/file_{seq}.{ext}"),
            from_bot,
            is_thumb: false,
        };
        // Every file can be shown as a photo, whose small size has an id of its own.
        let thumb = StoredFile {
            file_id: wire::thumb_id(&file.file_id),
            unique_id: format!("{}-t", file.unique_id),
            path: format!("{dir}/file_{seq}_thumb.{ext}"),
            bytes: file.bytes.clone(),
            file_name: file.file_name.clone(),
            mime_type: file.mime_type.clone(),
            is_thumb: true,
            ..file
        };
        let file_ref = file.file_ref();
        self.files.insert(thumb.file_id.clone(), thumb);
        self.files.insert(file.file_id.clone(), file);
        file_ref
    }

    /// Gives an update its ids, writes its message into the chat, and returns its JSON.
    pub fn deliver(&mut self, update: &Update) -> Value {
        let mut body = match &update.kind {
            Kind::Message { from, content } => {
                let chat = self.chat_mut(from.id);
                chat.chat = wire::private_chat(from);
                let id = chat.next_message_id;
                chat.next_message_id += 1;
                let mut message = Map::new();
                message.insert("message_id".into(), json!(id));
                message.insert("from".into(), wire::user(from));
                message.insert("chat".into(), chat.chat.clone());
                message.insert("date".into(), json!(wire::now()));
                message.extend(content.clone());
                let message = Value::Object(message);
                self.store_message(from.id, &message);
                json!({ "message": message })
            }
            Kind::Callback {
                from,
                message_id,
                data,
            } => {
                self.callback_seq += 1;
                let id = format!("{}{:08}", from.id.unsigned_abs(), self.callback_seq);
                self.index.add_callback(id.clone(), from.id);
                let message = match self.message(from.id, *message_id) {
                    Some(m) => m.clone(),
                    None => json!({
                        "message_id": message_id,
                        "chat": wire::private_chat(from),
                        "date": 0,
                    }),
                };
                json!({
                    "callback_query": {
                        "id": id,
                        "from": wire::user(from),
                        "message": message,
                        "chat_instance": format!("{}", -(from.id.wrapping_mul(7919))),
                        "data": data,
                    }
                })
            }
            Kind::Raw(v) => v.clone(),
        };
        self.next_update_id += 1;
        if !body.is_object() {
            body = json!({ "raw": body });
        }
        body["update_id"] = json!(self.next_update_id);
        body
    }

    /// Updates for a poll, in order, skipping kinds the bot did not ask for.
    pub(crate) fn pending(&self, limit: usize) -> Vec<Value> {
        self.queue
            .iter()
            .filter(|u| self.allowed_updates.is_empty() || allowed(u, &self.allowed_updates))
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.queue
                .retain(|u| u["update_id"].as_i64().is_some_and(|id| id >= offset));
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.queue.len().saturating_sub(keep);
            self.queue.drain(..drop);
        }
    }
}

fn allowed(update: &Value, allowed: &[String]) -> bool {
    update
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .any(|k| k != "update_id" && allowed.iter().any(|a| a == k))
}

pub(crate) struct State {
    inner: Mutex<Inner>,
    /// Bumped after every recorded call.
    pub(crate) calls_changed: watch::Sender<u64>,
    /// Bumped whenever a waiting getUpdates may have something new to answer.
    pub(crate) updates_changed: watch::Sender<u64>,
    /// The highest getUpdates offset so far ([`ChatIndex::polled_offset`]).
    pub(crate) polled: watch::Sender<i64>,
}

impl State {
    pub fn new() -> State {
        State {
            inner: Mutex::new(Inner::default()),
            calls_changed: watch::Sender::new(0),
            updates_changed: watch::Sender::new(0),
            polled: watch::Sender::new(0),
        }
    }

    /// A test that panicked while holding the lock must not hide later assertions behind
    /// a poisoned mutex: the data is still consistent, each update is one critical section.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn watch_calls(&self) -> watch::Receiver<u64> {
        self.calls_changed.subscribe()
    }

    pub fn updates_changed(&self) {
        self.updates_changed.send_modify(|n| *n += 1);
    }

    /// Records a request that could not be read, so it cannot be answered.
    pub fn record(&self, req: Request, authorized: bool) {
        let chat = self.lock().record(&req, authorized);
        self.recorded(chat);
    }

    /// Wakes whoever waits for a call just recorded (the lock released): the waiters of its
    /// chat, the generic ones, and those waiting for the bot to poll past an update.
    pub fn recorded(&self, chat: Option<Arc<Notify>>) {
        if let Some(notify) = chat {
            notify.notify_waiters();
        }
        self.calls_changed.send_modify(|n| *n += 1);
        let offset = self.lock().index.polled_offset;
        self.polled.send_if_modified(|o| {
            let newer = offset > *o;
            *o = offset.max(*o);
            newer
        });
    }
}

pub(crate) type SharedState = Arc<State>;
