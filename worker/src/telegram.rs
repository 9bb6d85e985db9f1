//! The worker's side of Telegram: sending the finished picture or the failure notice, and
//! fetching an edit's source image. Errors are sorted into "try again later" and "this chat cannot
//! be reached", because the two lead to different ledger outcomes (retry vs refund).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use teloxide::net::Download;
use teloxide::payloads::SendDocumentSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InputFile};
use teloxide::{ApiError, RequestError};
use tokenbot_ledger::TelegramId;
use tokenbot_telegram::Telegram;

use crate::provider::{ProviderError, Refusal, SourceImage};

/// Why Telegram did not take a message, sorted by what follows: try again later, or refund.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Flood control, a network failure or a Telegram outage.
    #[error("Telegram is unavailable: {reason}")]
    Retry {
        /// What Telegram or the network said, for the logs.
        reason: String,
        /// Telegram's flood-control wait, when it named one.
        after: Option<Duration>,
    },
    /// The user blocked the bot, deleted their account, or the chat is gone.
    #[error("the user cannot be reached: {0}")]
    Unreachable(String),
}

fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => SendError::Retry {
            reason: "flood control".into(),
            after: Some(s.duration()),
        },
        RequestError::Api(
            api @ (ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots),
        ) => SendError::Unreachable(api.to_string()),
        other => SendError::Retry {
            reason: other.to_string(),
            after: None,
        },
    }
}

/// Sends to and downloads from Telegram with the real Bot API client, through the rate limiter
/// the bot shares.
#[derive(Clone)]
pub struct Courier {
    bot: Telegram,
    max_source_bytes: u64,
}

impl Courier {
    /// A courier on `bot`'s Bot API client that refuses to download source images larger than
    /// `max_source_bytes`.
    pub fn new(bot: impl Into<Telegram>, max_source_bytes: u64) -> Self {
        Self {
            bot: bot.into(),
            max_source_bytes,
        }
    }

    /// Sends the picture as a PNG document; returns Telegram's file id of it.
    pub async fn send_result(
        &self,
        to: TelegramId,
        file_name: String,
        png: Bytes,
        caption: String,
    ) -> Result<String, SendError> {
        let chat = ChatId(to.get());
        let request = self
            .bot
            .bot()
            .send_document(chat, InputFile::memory(png).file_name(file_name))
            .caption(caption);
        let message = self.bot.message(chat, request).await.map_err(classify)?;
        message
            .document()
            .map(|d| d.file.id.0.clone())
            .ok_or_else(|| SendError::Retry {
                reason: "Telegram answered sendDocument without a document".into(),
                after: None,
            })
    }

    /// Sends a plain-text notice (a failure or a refund) to the user.
    pub async fn send_text(&self, to: TelegramId, text: String) -> Result<(), SendError> {
        let chat = ChatId(to.get());
        let request = self.bot.bot().send_message(chat, text);
        self.bot.message(chat, request).await.map_err(classify)?;
        Ok(())
    }

    /// Downloads an edit's source picture, refusing anything over the size limit or not a JPEG,
    /// PNG or WEBP (checked by its first bytes, not by what its name claims).
    pub async fn download_source(&self, file_id: &str) -> Result<SourceImage, ProviderError> {
        let retry = |reason: String| ProviderError::Retryable {
            reason,
            retry_after: None,
        };
        let invalid = |reason: String| ProviderError::Permanent {
            refusal: Refusal::InvalidImage,
            reason,
        };
        let request = self
            .bot
            .bot()
            .get_file(teloxide::types::FileId(file_id.to_string()));
        let file = match self.bot.call(request).await {
            Ok(f) => f,
            // Any refusal by the Bot API itself (wrong or expired file id) will not change.
            Err(RequestError::Api(e)) => {
                return Err(invalid(format!(
                    "Telegram cannot give the source image: {e}"
                )));
            }
            Err(e) => return Err(retry(format!("cannot look up the source image: {e}"))),
        };
        if u64::from(file.size) > self.max_source_bytes {
            return Err(invalid(format!(
                "the source image is {} bytes; the limit is {}",
                file.size, self.max_source_bytes
            )));
        }
        let mut stream = self.bot.bot().download_file_stream(&file.path);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| retry(format!("source image download failed: {e}")))?;
            if (bytes.len() + chunk.len()) as u64 > self.max_source_bytes {
                return Err(invalid(format!(
                    "the source image is larger than {} bytes",
                    self.max_source_bytes
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let (content_type, ext) = sniff(&bytes)
            .ok_or_else(|| invalid("the source is not a JPEG, PNG or WEBP image".into()))?;
        Ok(SourceImage {
            bytes: Bytes::from(bytes),
            file_name: format!("source.{ext}"),
            content_type: content_type.to_string(),
        })
    }
}

/// The image type by its magic bytes.
fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_three_formats_and_nothing_else() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest").map(|s| s.1), Some("png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).map(|s| s.1), Some("jpg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").map(|s| s.1), Some("webp"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn blocked_users_are_unreachable_and_flood_control_is_retried() {
        assert!(matches!(
            classify(RequestError::Api(ApiError::BotBlocked)),
            SendError::Unreachable(_)
        ));
        assert!(matches!(
            classify(RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(3))),
            SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
    }
}
