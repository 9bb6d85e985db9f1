//! OpenAI Images (`/v1/images/generations`, `/v1/images/edits`) over reqwest. One attempt per
//! call (reqwest does not retry), a request timeout, `Retry-After` honoured via the error, base64
//! or URL results, and a size limit on everything downloaded.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use tokenbot_ledger::TaskKind;

use super::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, Refusal};

/// Largest image accepted from the provider (a 1536x1024 PNG is a few MB).
pub const MAX_RESULT_BYTES: usize = 25 * 1024 * 1024;

/// Where and how to reach the OpenAI Images API.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// OPENAI_BASE_URL, e.g. `https://api.openai.com/v1` or a gateway.
    pub base_url: String,
    /// OPENAI_API_KEY, sent as `Authorization: Bearer`.
    pub api_key: String,
    /// One attempt's limit (the original's SDK default of 600 s let stuck calls linger).
    pub timeout: Duration,
}

/// The OpenAI Images provider: `images/generations` and `images/edits` over HTTP, one attempt per
/// call, with OpenAI's errors sorted into retryable and permanent ones.
pub struct OpenAiImages {
    http: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAiImages {
    /// A provider with its own HTTP client whose timeout is the config's, so a hung call ends
    /// as a retryable failure; fails only when the TLS backend cannot start.
    pub fn new(config: OpenAiConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(Self { http, config })
    }

    async fn attempt(&self, request: &ImageRequest) -> Result<GeneratedImage, ProviderError> {
        let response = self
            .request(request)?
            .bearer_auth(&self.config.api_key)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_limited(response).await?;
        if !status.is_success() {
            return Err(classify(status, &body, retry_after));
        }
        let parsed: ImagesResponse = serde_json::from_slice(&body).map_err(|e| {
            retryable(format!(
                "the provider's answer is not the expected JSON: {e}"
            ))
        })?;
        let item = parsed
            .data
            .into_iter()
            .next()
            .ok_or_else(|| retryable("the provider returned no image".into()))?;
        Ok(GeneratedImage {
            png: self.image(item).await?,
            usage: parsed.usage,
        })
    }

    /// The HTTP request for `request`: JSON to `images/generations`, or multipart with the source
    /// picture to `images/edits`.
    fn request(&self, request: &ImageRequest) -> Result<reqwest::RequestBuilder, ProviderError> {
        let base = self.config.base_url.trim_end_matches('/');
        match request.kind {
            TaskKind::Generate => {
                Ok(self
                    .http
                    .post(format!("{base}/images/generations"))
                    .json(&serde_json::json!({
                        "model": request.model.as_str(),
                        "prompt": request.prompt.as_str(),
                        "n": 1,
                        "quality": request.quality.as_str(),
                        "size": request.size.as_str(),
                    })))
            }
            TaskKind::Edit => Ok(self
                .http
                .post(format!("{base}/images/edits"))
                .multipart(edit_form(request)?)),
        }
    }

    /// The picture's bytes: decoded from base64, or downloaded when the provider sent a link.
    async fn image(&self, item: ImageItem) -> Result<Bytes, ProviderError> {
        match (item.b64_json, item.url) {
            (Some(b64), _) => base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map(Bytes::from)
                .map_err(|e| retryable(format!("the image is not valid base64: {e}"))),
            (None, Some(url)) => {
                let r = self.http.get(&url).send().await.map_err(transport)?;
                if !r.status().is_success() {
                    return Err(retryable(format!("image download answered {}", r.status())));
                }
                read_limited(r).await
            }
            (None, None) => Err(retryable("the provider returned no image".into())),
        }
    }
}

/// An edit's multipart body: the fields of a generation plus the source picture, sent with its
/// real content type.
fn edit_form(request: &ImageRequest) -> Result<reqwest::multipart::Form, ProviderError> {
    let source = request
        .source
        .as_ref()
        .ok_or_else(|| ProviderError::Permanent {
            refusal: Refusal::InvalidImage,
            reason: "an edit needs a source image".into(),
        })?;
    let part = reqwest::multipart::Part::bytes(source.bytes.to_vec())
        .file_name(source.file_name.clone())
        .mime_str(&source.content_type)
        .map_err(|e| ProviderError::Permanent {
            refusal: Refusal::InvalidImage,
            reason: e.to_string(),
        })?;
    Ok(reqwest::multipart::Form::new()
        .text("model", request.model.as_str().to_string())
        .text("prompt", request.prompt.as_str().to_string())
        .text("n", "1")
        .text("quality", request.quality.as_str())
        .text("size", request.size.as_str())
        .part("image", part))
}

/// A failure another attempt may not repeat (a garbled or empty answer), with no pause asked.
fn retryable(reason: String) -> ProviderError {
    ProviderError::Retryable {
        reason,
        retry_after: None,
    }
}

impl ImageProvider for OpenAiImages {
    fn create<'a>(
        &'a self,
        request: &'a ImageRequest,
    ) -> BoxFuture<'a, Result<GeneratedImage, ProviderError>> {
        Box::pin(self.attempt(request))
    }
}

#[derive(Deserialize)]
struct ImagesResponse {
    data: Vec<ImageItem>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ImageItem {
    b64_json: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<String>,
}

fn transport(e: reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "unreachable"
    };
    ProviderError::Retryable {
        reason: format!("the provider {what}: {e}"),
        retry_after: None,
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Bytes, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_RESULT_BYTES {
            return Err(ProviderError::Permanent {
                refusal: Refusal::BadRequest,
                reason: format!("the provider's answer exceeds {MAX_RESULT_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// Which failures deserve another attempt.
fn classify(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> ProviderError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let message = detail
        .as_ref()
        .map(|d| d.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).to_string());
    let code = detail.and_then(|d| d.code).unwrap_or_default();
    let reason = format!("{status}: {message}");
    match status {
        StatusCode::TOO_MANY_REQUESTS => ProviderError::Retryable {
            reason,
            retry_after,
        },
        s if s.is_server_error() => ProviderError::Retryable {
            reason,
            retry_after,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Permanent {
            refusal: Refusal::Configuration,
            reason,
        },
        _ if code == "moderation_blocked" || code == "content_policy_violation" => {
            ProviderError::Permanent {
                refusal: Refusal::Moderation,
                reason,
            }
        }
        _ if code.starts_with("invalid_image") => ProviderError::Permanent {
            refusal: Refusal::InvalidImage,
            reason,
        },
        _ => ProviderError::Permanent {
            refusal: Refusal::BadRequest,
            reason,
        },
    }
}
