//! Builders for what a user does: messages and button presses, as Telegram's `Update` JSON.
//!
//! An [`Update`] is only a description until the fake delivers it ([`FakeTelegram::push_update`]
//! or [`FakeTelegram::post_webhook`]): that is when the message gets its id in the chat and the
//! date, the update its `update_id`, and a button press the message as the fake knows it then.
//!
//! [`FakeTelegram::push_update`]: crate::FakeTelegram::push_update
//! [`FakeTelegram::post_webhook`]: crate::FakeTelegram::post_webhook

use serde_json::{Map, Value, json};

use crate::records::FileRef;
pub use crate::tg_user::TgUser;
use crate::wire;

/// An incoming update, delivered by the fake (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A message in the user's private chat; `content` holds the fields besides the envelope.
    Message {
        from: TgUser,
        content: Map<String, Value>,
    },
    Callback {
        from: TgUser,
        message_id: i64,
        data: String,
    },
    /// Delivered as given (plus `update_id`).
    Raw(Value),
}

impl Update {
    /// A message of the user's with `content` (e.g. a `successful_payment`).
    pub(crate) fn message_of(from: &TgUser, content: Value) -> Update {
        Update::message(from, content)
    }

    fn message(from: &TgUser, content: Value) -> Update {
        let content = match content {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Update {
            kind: Kind::Message {
                from: from.clone(),
                content,
            },
        }
    }

    /// A text message; a leading `/command` gets its `bot_command` entity, as Telegram adds it.
    pub fn text(from: &TgUser, text: &str) -> Update {
        let mut content = json!({ "text": text });
        if text.starts_with('/') {
            let word = text.split_whitespace().next().unwrap_or(text);
            content["entities"] = json!([{
                "type": "bot_command",
                "offset": 0,
                "length": word.encode_utf16().count(),
            }]);
        }
        Update::message(from, content)
    }

    /// A photo (two sizes, the original last), optionally captioned.
    pub fn photo(from: &TgUser, file: &FileRef, caption: Option<&str>) -> Update {
        let mut content = json!({ "photo": wire::photo_sizes(file) });
        if let Some(c) = caption {
            content["caption"] = json!(c);
        }
        Update::message(from, content)
    }

    /// A file sent as a document (not compressed).
    pub fn document(from: &TgUser, file: &FileRef, file_name: &str, mime_type: &str) -> Update {
        let content = json!({
            "document": wire::document(file, Some(file_name), Some(mime_type)),
        });
        Update::message(from, content)
    }

    /// A regular static sticker: a message with neither text nor anything the bot asked for.
    pub fn sticker(from: &TgUser) -> Update {
        let content = json!({
            "sticker": {
                "file_id": "CAACAgIAAxkBAAEfakeSticker",
                "file_unique_id": "AgADfakeSticker",
                "file_size": 14_000,
                "width": 512,
                "height": 512,
                "type": "regular",
                "is_animated": false,
                "is_video": false,
                "emoji": "👍",
                "set_name": "FakeStickers",
            }
        });
        Update::message(from, content)
    }

    /// A shared location.
    pub fn location(from: &TgUser, latitude: f64, longitude: f64) -> Update {
        let content = json!({ "location": { "latitude": latitude, "longitude": longitude } });
        Update::message(from, content)
    }

    /// A press on an inline button with `data` under the bot's message `message_id` in the
    /// user's chat. The message is attached as it is when the update is delivered; one the fake
    /// does not know (deleted, never sent) arrives as Telegram's inaccessible message (date 0).
    pub fn callback(from: &TgUser, message_id: i64, data: &str) -> Update {
        Update {
            kind: Kind::Callback {
                from: from.clone(),
                message_id,
                data: data.into(),
            },
        }
    }

    /// Any update JSON (without `update_id`, which the fake assigns), for kinds not built here.
    /// Delivered verbatim: a message in it does not enter the fake's chats.
    pub fn raw(update: Value) -> Update {
        Update {
            kind: Kind::Raw(update),
        }
    }
}
