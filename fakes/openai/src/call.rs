//! What a request asks of the fake and what the fake records of it: the behaviours a test
//! scripts, and the calls it reads back to check what the client sent.

use std::time::Duration;

/// What the fake does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// 200 with a base64 PNG.
    Ok,
    /// Wait, then 200.
    Latency(Duration),
    /// 500, as OpenAI's "The server had an error while processing your request".
    ServerError,
    /// 429 with a `Retry-After` header.
    RateLimited {
        /// The `Retry-After` value, in seconds.
        retry_after_s: u64,
    },
    /// Never answer (until a ten-minute cap): the client's timeout must fire.
    Hang,
    /// 400 `moderation_blocked`: the safety system refused the prompt.
    Moderation,
    /// 400 `invalid_image_format`.
    InvalidImage,
    /// 400 with this message.
    BadRequest(String),
    /// 200 whose body is not JSON.
    MalformedBody,
    /// 200 with a URL to the image instead of base64.
    UrlResult,
}

/// Which of OpenAI's image endpoints a call came in on, so a test can tell a generation from an
/// edit of an uploaded picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/images/generations`: a picture from a prompt alone.
    Generations,
    /// `POST /v1/images/edits`: a picture from a prompt and an uploaded image (multipart).
    Edits,
}

/// The uploaded source image of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedImage {
    /// The multipart part's file name, as the client sent it (a photo's name in Telegram).
    pub file_name: Option<String>,
    /// The part's MIME type; OpenAI refuses anything but PNG, JPEG and WebP.
    pub content_type: Option<String>,
    /// Size in bytes (an empty upload is refused like OpenAI does).
    pub len: usize,
}

/// One request as the fake saw it, refused ones included, so tests can check exactly what the
/// worker sent (model, quality, size, the upload) and how often it retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The endpoint it came in on.
    pub endpoint: Endpoint,
    /// Whether it carried the fake's key in `Authorization: Bearer` (a refused call is recorded
    /// too, with `false`).
    pub authorized: bool,
    /// The `model` field, as sent.
    pub model: Option<String>,
    /// The `prompt` field, as sent; scripts by prompt match on it.
    pub prompt: Option<String>,
    /// The `quality` field (`low`, `medium`, `high`), as sent.
    pub quality: Option<String>,
    /// The `size` field (`1024x1024`...), as sent.
    pub size: Option<String>,
    /// The `n` field: how many images were asked for.
    pub n: Option<u64>,
    /// The uploaded source image of an edit; `None` for generations.
    pub image: Option<UploadedImage>,
    /// What the fake did with it (`Behavior::Ok` for an unauthorized call, which gets a 401).
    pub behavior: Behavior,
}
