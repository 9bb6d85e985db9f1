//! HTTP: `/bot<token>/<method>` in any of the encodings Telegram accepts, and
//! `/file/bot<token>/<path>` for downloads.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::methods;
use crate::request::{Request as BotRequest, Upload};
use crate::state::SharedState;
use crate::wire::{self, ApiError};

/// Telegram's upload limit for bots.
const BODY_LIMIT: usize = 50 * 1024 * 1024;

pub(crate) fn router(state: SharedState) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(api))
        .route("/file/{bot}/{*path}", get(download))
        .fallback(|| async { reply(Err(ApiError::new(404, "Not Found"))) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

fn token_ok(bot: &str) -> bool {
    bot.strip_prefix("bot") == Some(wire::TOKEN)
}

fn reply(result: wire::Reply) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(wire::ok_body(v))).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(e.body())).into_response()
        }
    }
}

async fn api(
    State(state): State<SharedState>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let mut req = BotRequest {
        method: methods::canonical(&method),
        ..Default::default()
    };
    let authorized = token_ok(&bot);
    if let Err(e) = read_params(request, &mut req).await {
        // Still a request the bot made: record it with what could be read.
        state.record(req, authorized);
        return reply(Err(e));
    }
    reply(state.handle(req, authorized).await)
}

async fn read_params(request: Request, req: &mut BotRequest) -> Result<(), ApiError> {
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        for (k, v) in pairs {
            req.params.insert(k, Value::String(v));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bad = |e: String| ApiError::bad_request(e);
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| bad(e.body_text()))?;
        read_multipart(multipart, req).await
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|e| bad(e.body_text()))?;
        for (k, v) in pairs {
            req.params.insert(k, Value::String(v));
        }
        Ok(())
    } else {
        let body = Bytes::from_request(request, &())
            .await
            .map_err(|e| bad(e.body_text()))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => {
                req.params.extend(map);
                Ok(())
            }
            // A payload without fields (getMe) may serialize as `null`.
            Ok(_) => Ok(()),
            Err(e) => Err(bad(format!("can't parse JSON object: {e}"))),
        }
    }
}

/// Fields whose text is never JSON, even when it looks like it.
const TEXT_FIELDS: &[&str] = &["text", "caption", "description", "title"];

async fn read_multipart(mut multipart: Multipart, req: &mut BotRequest) -> Result<(), ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::bad_request(e.body_text());
    let mut parts: HashMap<String, Upload> = HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        match file_name {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(bad)?;
                parts.insert(
                    name,
                    Upload {
                        file_name: Some(file_name),
                        content_type,
                        bytes,
                    },
                );
            }
            None => {
                let text = field.text().await.map_err(bad)?;
                let looks_json = text.starts_with('{') || text.starts_with('[');
                let value = match serde_json::from_str::<Value>(&text) {
                    Ok(v) if looks_json && !TEXT_FIELDS.contains(&name.as_str()) => v,
                    _ => Value::String(text),
                };
                req.params.insert(name, value);
            }
        }
    }
    // teloxide names the file part by a random id and points the parameter at it with
    // `attach://id`; other clients name the part after the parameter.
    let attached: Vec<(String, String)> = req
        .params
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.strip_prefix("attach://")?.to_owned())))
        .collect();
    for (param, part) in attached {
        if let Some(upload) = parts.remove(&part) {
            parts.insert(param, upload);
        }
    }
    for (name, upload) in parts {
        let mut described = Map::new();
        described.insert("file_name".into(), json!(upload.file_name));
        described.insert("len".into(), json!(upload.bytes.len()));
        if let Some(ct) = &upload.content_type {
            described.insert("content_type".into(), json!(ct));
        }
        req.params.insert(name.clone(), Value::Object(described));
        req.files.insert(name, upload);
    }
    Ok(())
}

async fn download(
    State(state): State<SharedState>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if !token_ok(&bot) {
        return reply(Err(ApiError::unauthorized()));
    }
    let found = {
        let inner = state.lock();
        inner
            .files
            .values()
            .find(|f| f.path == path)
            .map(|f| (f.bytes.clone(), f.mime_type.clone()))
    };
    match found {
        Some((bytes, mime)) => {
            let mut headers = HeaderMap::new();
            let mime = mime.unwrap_or_else(|| "application/octet-stream".into());
            if let Ok(v) = mime.parse() {
                headers.insert(header::CONTENT_TYPE, v);
            }
            (StatusCode::OK, headers, bytes).into_response()
        }
        None => reply(Err(ApiError::new(404, "Not Found"))),
    }
}
