//! JSON shapes of the Bot API objects the fake returns, as teloxide 0.17 deserializes them.

use serde_json::{Value, json};

use crate::records::{Failure, FileRef};
use crate::tg_user::TgUser;

pub(crate) const BOT_FIRST_NAME: &str = "TokenBot Test";
pub(crate) const BOT_USERNAME: &str = "tokenbot_test_bot";
/// The only token the fake accepts (`FakeTelegram::TOKEN`).
pub(crate) const TOKEN: &str = "123456:TEST-TOKEN";
/// The bot's own user id, the token's prefix (`FakeTelegram::BOT_ID`).
pub(crate) const BOT_ID: i64 = 123456;

/// A Bot API error: the HTTP status doubles as `error_code`, as Telegram does it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub description: String,
    pub parameters: Option<Value>,
}

/// A programmed failure, answered as Telegram answers it.
impl From<&Failure> for ApiError {
    fn from(f: &Failure) -> Self {
        ApiError {
            status: f.status,
            description: f.description.clone(),
            parameters: f.retry_after.map(|s| json!({ "retry_after": s })),
        }
    }
}

impl ApiError {
    pub fn new(status: u16, description: impl Into<String>) -> Self {
        ApiError {
            status,
            description: description.into(),
            parameters: None,
        }
    }

    pub fn bad_request(what: impl std::fmt::Display) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    pub fn forbidden(what: impl std::fmt::Display) -> Self {
        Self::new(403, format!("Forbidden: {what}"))
    }

    pub fn conflict(what: impl std::fmt::Display) -> Self {
        Self::new(409, format!("Conflict: {what}"))
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.status,
            "description": self.description,
        });
        if let Some(p) = &self.parameters {
            body["parameters"] = p.clone();
        }
        body
    }
}

pub(crate) type Reply = Result<Value, ApiError>;

pub(crate) fn ok_body(result: Value) -> Value {
    json!({ "ok": true, "result": result })
}

/// Seconds since the epoch; a clock before 1970 is not worth failing a test over.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

pub(crate) fn bot_user() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
    })
}

pub(crate) fn me() -> Value {
    let mut me = bot_user();
    // All five flags are required by teloxide's `Me` (it fails to decode getMe without them).
    me["can_join_groups"] = json!(true);
    me["can_read_all_group_messages"] = json!(false);
    me["supports_inline_queries"] = json!(false);
    me["can_connect_to_business"] = json!(false);
    me["has_main_web_app"] = json!(false);
    me
}

pub(crate) fn user(u: &TgUser) -> Value {
    let mut v = json!({ "id": u.id, "is_bot": false, "first_name": u.first_name });
    if let Some(name) = &u.username {
        v["username"] = json!(name);
    }
    if let Some(lang) = &u.language_code {
        v["language_code"] = json!(lang);
    }
    v
}

pub(crate) fn private_chat(u: &TgUser) -> Value {
    let mut v = json!({ "id": u.id, "type": "private", "first_name": u.first_name });
    if let Some(name) = &u.username {
        v["username"] = json!(name);
    }
    v
}

/// The chat of a user the fake has not seen an update from: the bot may still write to it.
pub(crate) fn unknown_private_chat(id: i64) -> Value {
    json!({ "id": id, "type": "private", "first_name": format!("User{id}") })
}

pub(crate) fn file_meta(file_id: &str, unique_id: &str, size: u64) -> Value {
    json!({ "file_id": file_id, "file_unique_id": unique_id, "file_size": size })
}

pub(crate) fn document(file: &FileRef, file_name: Option<&str>, mime_type: Option<&str>) -> Value {
    let mut v = file_meta(&file.file_id, &file.file_unique_id, file.file_size);
    if let Some(n) = file_name {
        v["file_name"] = json!(n);
    }
    if let Some(m) = mime_type {
        v["mime_type"] = json!(m);
    }
    v
}

/// Telegram sends every size it made, smallest first; the last one is the original.
pub(crate) fn photo_sizes(file: &FileRef) -> Value {
    let (w, h) = match (file.width, file.height) {
        (0, _) | (_, 0) => (1280, 1280),
        dims => dims,
    };
    let scale = |x: u32| (u64::from(x) * 90 / u64::from(w.max(h))).max(1);
    let mut thumb = file_meta(
        &thumb_id(&file.file_id),
        &format!("{}-t", file.file_unique_id),
        file.file_size.min(4096),
    );
    thumb["width"] = json!(scale(w));
    thumb["height"] = json!(scale(h));
    let mut full = file_meta(&file.file_id, &file.file_unique_id, file.file_size);
    full["width"] = json!(w);
    full["height"] = json!(h);
    json!([thumb, full])
}

/// The file id of the small size of a photo; the fake serves the original's bytes for it.
pub(crate) fn thumb_id(file_id: &str) -> String {
    format!("{file_id}-thumb")
}

/// (width, height) of a PNG, GIF or JPEG, from its header.
pub(crate) fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        return Some((be32(&bytes[16..20]), be32(&bytes[20..24])));
    }
    if (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) && bytes.len() >= 10 {
        let w = u16::from_le_bytes([bytes[6], bytes[7]]);
        let h = u16::from_le_bytes([bytes[8], bytes[9]]);
        return Some((w.into(), h.into()));
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        // Decoding the three WebP flavours is not worth it for a fake: any plausible size does.
        return Some((512, 512));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_size(bytes);
    }
    None
}

fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        // SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let h = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]);
            let w = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]);
            return Some((w.into(), h.into()));
        }
        i += 2 + len;
    }
    None
}

/// Telegram guesses a document's MIME type from its name when the client sends none.
pub(crate) fn guess_mime(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_gif_sizes_come_from_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&1024u32.to_be_bytes());
        png.extend_from_slice(&1536u32.to_be_bytes());
        assert_eq!(image_size(&png), Some((1024, 1536)));
        assert_eq!(image_size(b"GIF89a\x10\x00\x20\x00"), Some((16, 32)));
        assert_eq!(image_size(b"not an image"), None);
    }

    #[test]
    fn jpeg_size_skips_to_the_frame_header() {
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, // APP0, 2 bytes of payload
            0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x30, 0x00, 0x40, 0x03, 0x00, 0x00,
        ];
        assert_eq!(image_size(&jpeg), Some((64, 48)));
    }
}
