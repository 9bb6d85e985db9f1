//! The HTTP side: OpenAI's endpoints, auth, error bodies and usage fields.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Multipart, Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::call::{Behavior, Endpoint, RecordedCall, UploadedImage};
use crate::png;
use crate::state::State;

/// How long a `Hang` holds the request before giving up on the client.
const HANG_CAP: Duration = Duration::from_secs(600);

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/images/generations", post(generations))
        .route("/v1/images/edits", post(edits))
        .route("/files/{file}", get(file))
        .layer(axum::extract::DefaultBodyLimit::max(50 * 1024 * 1024))
        .with_state(state)
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body =
        json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
    (status, axum::Json(body)).into_response()
}

fn authorized(state: &State, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(state.api_key.as_str())
}

/// Output tokens OpenAI reports for gpt-image-1 by quality and size.
fn output_tokens(quality: &str, size: &str) -> u64 {
    let column = match size {
        "1024x1536" => 1,
        "1536x1024" => 2,
        _ => 0,
    };
    match quality {
        "low" => [272, 408, 400][column],
        "high" => [4160, 6240, 6208][column],
        _ => [1056, 1584, 1568][column],
    }
}

/// What the caller's key earns it: its scripted behaviour, or (without the key) nothing scripted,
/// so an unauthorized call does not use up a test's script.
fn behavior_for(state: &State, authorized: bool, prompt: Option<&str>) -> (Behavior, Duration) {
    if authorized {
        state.next(prompt)
    } else {
        (Behavior::Ok, Duration::ZERO)
    }
}

/// Records the call and answers it: 401 without the key, `invalid` (the request's own fault)
/// next, then the scripted behaviour.
async fn respond(
    state: Arc<State>,
    call: RecordedCall,
    latency: Duration,
    invalid: Option<Response>,
) -> Response {
    if !call.authorized {
        state.record(call);
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        );
    }
    if let Some(refusal) = invalid {
        state.record(call);
        return refusal;
    }
    answer(state, call, latency).await
}

async fn answer(state: Arc<State>, call: RecordedCall, latency: Duration) -> Response {
    let _in_flight = state.enter();
    let quality = call.quality.clone().unwrap_or_else(|| "auto".into());
    let size = call.size.clone().unwrap_or_else(|| "auto".into());
    let behavior = call.behavior.clone();
    state.record(call);
    tokio::time::sleep(latency).await;
    match behavior {
        Behavior::Hang => {
            tokio::time::sleep(HANG_CAP).await;
            error(
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                None,
                "timed out",
            )
        }
        Behavior::Ok | Behavior::Latency(_) | Behavior::UrlResult => {
            if let Behavior::Latency(extra) = behavior {
                tokio::time::sleep(extra).await;
            }
            image(&state, behavior == Behavior::UrlResult, quality, size)
        }
        failing => failure(failing),
    }
}

/// The answer of a behaviour that fails at once, with OpenAI's status, error type, code and
/// message for it.
fn failure(behavior: Behavior) -> Response {
    match behavior {
        Behavior::RateLimited { retry_after_s } => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for images per minute. Please try again later.",
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Behavior::Moderation => error(
            StatusCode::BAD_REQUEST,
            "image_generation_user_error",
            Some("moderation_blocked"),
            "Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.",
        ),
        Behavior::InvalidImage => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("invalid_image_format"),
            "Invalid image file or mode for image 1, please check your image file.",
        ),
        Behavior::BadRequest(message) => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            &message,
        ),
        Behavior::MalformedBody => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"created\": 1, \"data\": [",
        )
            .into_response(),
        // `answer` handles the waiting and succeeding behaviours before it asks for a failure.
        Behavior::ServerError
        | Behavior::Hang
        | Behavior::Ok
        | Behavior::Latency(_)
        | Behavior::UrlResult => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        ),
    }
}

/// A 200 with one picture, as base64 or (`as_url`) a link the fake serves, and the usage
/// OpenAI reports for the quality and size.
fn image(state: &State, as_url: bool, quality: String, size: String) -> Response {
    let image = png::solid(8, [40, 120, 200]);
    let item = if as_url {
        json!({ "url": state.store_file(image) })
    } else {
        json!({ "b64_json": base64::engine::general_purpose::STANDARD.encode(&image) })
    };
    let output = output_tokens(&quality, &size);
    let body = json!({
        "created": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "background": "opaque",
        "output_format": "png",
        "quality": quality,
        "size": size,
        "data": [item],
        "usage": {
            "total_tokens": output + 50,
            "input_tokens": 50,
            "output_tokens": output,
            "input_tokens_details": { "text_tokens": 50, "image_tokens": 0 }
        }
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn generations(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = authorized(&state, &headers);
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "We could not parse the JSON body of your request.",
        );
    };
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let prompt = text("prompt");
    let (behavior, latency) = behavior_for(&state, authorized, prompt.as_deref());
    let invalid = prompt.as_deref().is_none_or(str::is_empty).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "Missing required parameter: 'prompt'.",
        )
    });
    let call = RecordedCall {
        endpoint: Endpoint::Generations,
        authorized,
        model: text("model"),
        prompt,
        quality: text("quality"),
        size: text("size"),
        n: req.get("n").and_then(Value::as_u64),
        image: None,
        behavior,
    };
    respond(state, call, latency, invalid).await
}

/// The text fields and the uploaded image of an edit's multipart body, or the 400 to answer.
async fn read_form(
    mut form: Multipart,
) -> Result<(HashMap<String, String>, Option<UploadedImage>), Response> {
    let mut fields = HashMap::new();
    let mut image = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok((fields, image)),
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    None,
                    "Malformed multipart body.",
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let Ok(bytes) = field.bytes().await else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "Could not read the multipart body.",
            ));
        };
        if name == "image" || name == "image[]" {
            image = Some(UploadedImage {
                file_name,
                content_type,
                len: bytes.len(),
            });
        } else {
            fields.insert(name, String::from_utf8_lossy(&bytes).to_string());
        }
    }
}

async fn edits(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let authorized = authorized(&state, &headers);
    let (fields, image) = match read_form(form).await {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    let prompt = fields.get("prompt").cloned();
    let (behavior, latency) = behavior_for(&state, authorized, prompt.as_deref());
    let image_ok = image.as_ref().is_some_and(|i| {
        i.len > 0
            && matches!(
                i.content_type.as_deref(),
                Some("image/png" | "image/jpeg" | "image/webp")
            )
    });
    let invalid = (!image_ok).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("invalid_image_format"),
            "Invalid file 'image': unsupported mimetype. Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
        )
    });
    let call = RecordedCall {
        endpoint: Endpoint::Edits,
        authorized,
        model: fields.get("model").cloned(),
        prompt,
        quality: fields.get("quality").cloned(),
        size: fields.get("size").cloned(),
        n: fields.get("n").and_then(|n| n.parse().ok()),
        image,
        behavior,
    };
    respond(state, call, latency, invalid).await
}

async fn file(AxumState(state): AxumState<Arc<State>>, Path(file): Path<String>) -> Response {
    let id = file.trim_end_matches(".png");
    match state.file(id) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
