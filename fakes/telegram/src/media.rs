//! Documents and photos the bot sends, and getFile for the files the fake holds.

use serde_json::{Value, json};

use crate::messages::{caption, inline_markup, reply_target, set, set_formatted, target_chat};
use crate::request::Request;
use crate::state::{FileKind, Inner};
use crate::wire::{self, ApiError, Reply};

/// Telegram lets bots download files up to this size through getFile.
const DOWNLOAD_LIMIT: usize = 20 * 1024 * 1024;

/// The file a send method carries: a fresh upload, or the id of a file Telegram already has.
/// URLs are not fetched: the fake answers them as it answers an unknown id.
fn input_file(
    inner: &mut Inner,
    req: &Request,
    field: &str,
    kind: FileKind,
) -> Result<String, ApiError> {
    if let Some(part) = req.files.get(field) {
        if part.bytes.is_empty() {
            return Err(ApiError::bad_request("file must be non-empty"));
        }
        if kind == FileKind::Photo && wire::image_size(&part.bytes).is_none() {
            return Err(ApiError::bad_request("IMAGE_PROCESS_FAILED"));
        }
        let name = part.file_name.as_deref().filter(|n| !n.is_empty());
        let mime = part
            .content_type
            .as_deref()
            .filter(|m| *m != "application/octet-stream")
            .or_else(|| name.and_then(wire::guess_mime));
        let file = inner.store_file(part.bytes.clone(), name, mime, kind, true);
        return Ok(file.file_id);
    }
    match req.str(field) {
        Some(id) if inner.files.contains_key(id) => Ok(id.to_owned()),
        Some(_) => Err(ApiError::bad_request(
            "wrong file identifier/HTTP URL specified",
        )),
        None => Err(ApiError::bad_request(format!(
            "there is no {field} in the request"
        ))),
    }
}

/// Checks and builds everything of a media message but the media itself.
fn media_message(inner: &mut Inner, req: &Request) -> Result<(i64, Value), ApiError> {
    let chat_id = target_chat(inner, req)?;
    let caption = caption(req)?;
    let markup = inline_markup(req)?;
    let reply_to = reply_target(inner, chat_id, req)?;
    let mut message = json!({});
    set_formatted(&mut message, "caption", "caption_entities", caption);
    set(&mut message, "reply_markup", markup);
    set(&mut message, "reply_to_message", reply_to);
    Ok((chat_id, message))
}

/// Takes the message id only once everything was accepted, as Telegram does.
fn send(inner: &mut Inner, chat_id: i64, media: (&str, Value), rest: Value) -> Reply {
    let mut message = inner.new_bot_message(chat_id);
    if let (Some(m), Value::Object(rest)) = (message.as_object_mut(), rest) {
        m.insert(media.0.to_owned(), media.1);
        m.extend(rest);
    }
    inner.store_message(chat_id, &message);
    Ok(message)
}

pub(crate) fn send_document(inner: &mut Inner, req: &Request) -> Reply {
    let (chat_id, rest) = media_message(inner, req)?;
    let id = input_file(inner, req, "document", FileKind::Document)?;
    let document = match inner.files.get(&id) {
        Some(f) => wire::document(
            &f.file_ref(),
            f.file_name.as_deref(),
            f.mime_type.as_deref(),
        ),
        None => {
            return Err(ApiError::bad_request(
                "wrong file identifier/HTTP URL specified",
            ));
        }
    };
    send(inner, chat_id, ("document", document), rest)
}

pub(crate) fn send_photo(inner: &mut Inner, req: &Request) -> Reply {
    let (chat_id, rest) = media_message(inner, req)?;
    let id = input_file(inner, req, "photo", FileKind::Photo)?;
    let photo = match inner.files.get(&id) {
        Some(f) => wire::photo_sizes(&f.file_ref()),
        None => {
            return Err(ApiError::bad_request(
                "wrong file identifier/HTTP URL specified",
            ));
        }
    };
    send(inner, chat_id, ("photo", photo), rest)
}

pub(crate) fn get_file(inner: &mut Inner, req: &Request) -> Reply {
    let id = req.str("file_id").unwrap_or_default();
    let file = inner
        .files
        .get(id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    if file.bytes.len() > DOWNLOAD_LIMIT {
        return Err(ApiError::bad_request("file is too big"));
    }
    Ok(json!({
        "file_id": file.file_id,
        "file_unique_id": file.unique_id,
        "file_size": file.bytes.len(),
        "file_path": file.path,
    }))
}
