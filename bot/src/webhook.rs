//! Webhook mode: Telegram POSTs updates to `/webhook`; only requests carrying the secret token
//! registered with setWebhook are accepted (compared in constant time). The original accepted
//! anything when no secret was configured; here a webhook cannot be set up without one.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use subtle::ConstantTimeEq;
use teloxide::Bot;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::Update;
use tokenbot_ledger::backoff::Backoff;

use crate::app::App;

/// The header Telegram sends the webhook's secret token in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Where Telegram delivers updates, and how hard `setWebhook` is tried at start.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// WEBHOOK_URL + "/webhook".
    pub url: reqwest::Url,
    /// WEBHOOK_SECRET_TOKEN: 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule).
    pub secret: String,
    /// setWebhook attempts at start (WEBHOOK_MAX_RETRIES) and the first pause between them,
    /// growing by `backoff` each time (the original's retry policy).
    pub max_retries: u32,
    /// The first pause between attempts (WEBHOOK_RETRY_DELAY_SECONDS).
    pub retry_delay: Duration,
    /// The factor each pause grows by (WEBHOOK_RETRY_BACKOFF).
    pub backoff: f64,
}

/// Checks a secret token against Telegram's rules.
pub fn valid_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Clone)]
struct Hook {
    app: App,
    secret: std::sync::Arc<str>,
}

/// The `/webhook` route.
pub fn router(app: App, secret: &str) -> Router {
    Router::new()
        .route("/webhook", post(receive))
        .with_state(Hook {
            app,
            secret: secret.into(),
        })
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Some(given) = headers.get(SECRET_HEADER) else {
        metrics::counter!("tokenbot_bot_webhook_rejected_total", "reason" => "missing_secret")
            .increment(1);
        return StatusCode::UNAUTHORIZED;
    };
    let matches: bool = given.as_bytes().ct_eq(hook.secret.as_bytes()).into();
    if !matches {
        metrics::counter!("tokenbot_bot_webhook_rejected_total", "reason" => "wrong_secret")
            .increment(1);
        return StatusCode::FORBIDDEN;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "webhook body is not an update");
            return StatusCode::BAD_REQUEST;
        }
    };
    match hook.app.handle_update(update).await {
        Ok(()) => StatusCode::OK,
        // Telegram sends it again later: the database was unreachable.
        Err(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        // The user was told; answering an error would only make Telegram send it again.
        Err(_) => StatusCode::OK,
    }
}

/// The longest pause between two setWebhook attempts, however many there are.
pub const SET_WEBHOOK_PAUSE_MAX: Duration = Duration::from_secs(600);

/// Registers the webhook, retrying with backoff; gives up (returning the last error) after
/// `max_retries` attempts.
pub async fn set_webhook(bot: &Bot, config: &WebhookConfig) -> Result<(), teloxide::RequestError> {
    let mut backoff =
        Backoff::new(config.retry_delay, SET_WEBHOOK_PAUSE_MAX).with_factor(config.backoff);
    let mut attempt = 1;
    loop {
        match bot
            .set_webhook(config.url.clone())
            .secret_token(config.secret.clone())
            .allowed_updates(crate::app::ALLOWED_UPDATES)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if attempt >= config.max_retries.max(1) => return Err(e),
            Err(e) => {
                let delay = backoff.next_pause();
                tracing::warn!(error = %e, attempt, ?delay, "setWebhook failed; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_telegrams_alphabet() {
        assert!(valid_secret("abc_DEF-123"));
        assert!(!valid_secret(""));
        assert!(!valid_secret("has space"));
        assert!(!valid_secret(&"x".repeat(257)));
    }
}
