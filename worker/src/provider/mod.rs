//! Image providers: what the worker asks for, what it gets back, and which failures are worth
//! retrying. The worker owns all retries; providers make exactly one attempt.

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokenbot_ledger::{ImageSize, ModelId, Prompt, Quality, TaskKind};

pub mod openai;

/// The source picture of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceImage {
    pub bytes: Bytes,
    pub file_name: String,
    /// `image/jpeg`, `image/png` or `image/webp`: sent as the part's content type, so the
    /// provider is not told a JPEG is a PNG (the original's quirk).
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    pub kind: TaskKind,
    pub model: ModelId,
    pub prompt: Prompt,
    pub quality: Quality,
    pub size: ImageSize,
    pub source: Option<SourceImage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedImage {
    pub png: Bytes,
    /// The provider's usage report, kept in `TaskSucceeded` for cost audits.
    pub usage: Option<serde_json::Value>,
}

/// Why a permanent failure is permanent: the user is told which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider's safety system refused the prompt or image.
    Moderation,
    /// The source image is not usable.
    InvalidImage,
    /// The request itself is invalid (a bug or an unsupported option).
    BadRequest,
    /// Our credentials or configuration are wrong; no retry will help.
    Configuration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth another attempt (rate limit, server error, timeout, network, garbled answer).
    #[error("temporary provider failure: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// No retry can fix it.
    #[error("provider refused: {reason}")]
    Permanent { refusal: Refusal, reason: String },
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Retryable { .. })
    }
}

/// Makes one attempt at an image.
pub trait ImageProvider: Send + Sync {
    fn create<'a>(
        &'a self,
        request: &'a ImageRequest,
    ) -> BoxFuture<'a, Result<GeneratedImage, ProviderError>>;
}
