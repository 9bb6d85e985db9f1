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
    /// The picture as downloaded from Telegram, at most `max_source_bytes`.
    pub bytes: Bytes,
    /// Sent as the upload's file name; providers look at its extension.
    pub file_name: String,
    /// `image/jpeg`, `image/png` or `image/webp`: sent as the part's content type, so the
    /// provider is not told a JPEG is a PNG (the original's quirk).
    pub content_type: String,
}

/// One picture to make, as the task's `TaskRequested` asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    /// A generation from the prompt, or an edit of `source` (templates are generations).
    pub kind: TaskKind,
    /// The provider's model, as the user chose it.
    pub model: ModelId,
    /// What to draw (or how to change the source), already validated.
    pub prompt: Prompt,
    /// The quality the user paid for.
    pub quality: Quality,
    /// The size the user paid for.
    pub size: ImageSize,
    /// The picture to edit; required for edits, `None` for generations.
    pub source: Option<SourceImage>,
}

/// A provider's answer to one successful attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedImage {
    /// The picture, as sent to the user (PNG).
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

/// How one attempt failed, sorted by what the worker should do next: try again or refund.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth another attempt (rate limit, server error, timeout, network, garbled answer).
    #[error("temporary provider failure: {reason}")]
    Retryable {
        /// For the task's history (`TaskAttemptFailed`) and the logs; not shown to the user.
        reason: String,
        /// The provider's `Retry-After`, when it sent one; the worker waits at least this long.
        retry_after: Option<Duration>,
    },
    /// No retry can fix it.
    #[error("provider refused: {reason}")]
    Permanent {
        /// Which kind of refusal, so the user is told why in their language.
        refusal: Refusal,
        /// The provider's own words, for the task's history and the logs.
        reason: String,
    },
}

impl ProviderError {
    /// Whether another attempt may succeed (the worker schedules one) or the task must fail.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Retryable { .. })
    }
}

/// Makes one attempt at an image.
pub trait ImageProvider: Send + Sync {
    /// One call to the provider, no retries: the worker decides about those, under the task's
    /// lease and attempt count.
    fn create<'a>(
        &'a self,
        request: &'a ImageRequest,
    ) -> BoxFuture<'a, Result<GeneratedImage, ProviderError>>;
}
