//! `POST /admin/users/{telegram_id}/tokens`: an admin grant. The body is [`GrantRequest`],
//! checked while it is read; the ledger applies its own rules (the largest grant, an open
//! account) and the `Idempotency-Key` makes a repeat safe.

use std::fmt;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use tokenbot_ledger::{Actor, CommandContext, GrantKind, Tokens};
use utoipa::ToSchema;

use crate::auth::AdminName;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, UserId};
use crate::idempotency;
use crate::state::AdminState;

/// Longest grant reason kept.
const MAX_REASON_CHARS: usize = 500;

/// The grant body: `{"amount": 1000, "reason": "support ticket 17"}`. Fields it does not name
/// are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct GrantRequest {
    /// A positive whole number of tokens.
    #[serde(default)]
    #[schema(value_type = u64, minimum = 1, required = true)]
    pub amount: Option<Amount>,
    /// Why (kept in the ledger; at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// A grant the ledger can be asked for: the body checked, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Positive.
    pub amount: Tokens,
    /// Trimmed, not empty, at most [`MAX_REASON_CHARS`] characters.
    pub reason: Option<String>,
}

impl TryFrom<GrantRequest> for Grant {
    type Error = ApiError;

    fn try_from(request: GrantRequest) -> Result<Self, ApiError> {
        let invalid = |field, message: String| {
            ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
        };
        let Some(Amount(amount)) = request.amount else {
            return Err(invalid("amount", "is required".into()));
        };
        let reason = match request.reason {
            Some(r) if r.chars().count() > MAX_REASON_CHARS => {
                return Err(invalid(
                    "reason",
                    format!("at most {MAX_REASON_CHARS} characters"),
                ));
            }
            r => r.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()),
        };
        Ok(Self { amount, reason })
    }
}

/// A positive whole number of tokens, as JSON writes it: `0` and negatives are "not positive",
/// `1.5` is "not whole", and a string is not a number at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Tokens);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Whole;

        impl Visitor<'_> for Whole {
            type Value = Tokens;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number, not a string or other value")
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Tokens, E> {
                if n == 0 {
                    return Err(E::custom("must be positive"));
                }
                Tokens::new(n).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Tokens, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom("must be positive")),
                }
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tokens, E> {
                Err(E::custom("must be a whole number"))
            }
        }

        deserializer.deserialize_any(Whole).map(Self)
    }
}

/// The grant's answer: the balance before and after.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantResponse {
    /// Whose balance.
    pub telegram_id: i64,
    /// Before the grant.
    pub old_balance: u64,
    /// The amount granted.
    pub added: u64,
    /// After the grant.
    pub new_balance: u64,
}

/// Grants tokens to a user; a repeat with the same `Idempotency-Key` returns the first result.
#[utoipa::path(post, path = "/admin/users/{telegram_id}/tokens", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key (a quoted string or bare, the same key): a repeat returns the first result; 422 if reused with another body, 409 while the first is in flight; keys are kept for ever")),
    request_body = GrantRequest,
    responses((status = 200, body = GrantResponse), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, description = "The same Idempotency-Key is still being processed", body = Problem),
              (status = 422, body = Problem),
              (status = 503, description = "Postgres unavailable (nothing written), or the outcome could not be learned (`outcome-unknown`: retry with the same Idempotency-Key)", body = Problem)),
    security(("admin_key" = [])))]
pub async fn grant(
    State(state): State<AdminState>,
    Extension(admin): Extension<AdminName>,
    UserId(id): UserId,
    headers: HeaderMap,
    ApiJson(request): ApiJson<GrantRequest>,
) -> Result<Response, ApiError> {
    let Grant { amount, reason } = request.try_into()?;
    let mut ctx = CommandContext::new(Actor::Admin {
        telegram_id: None,
        via: "http".into(),
        name: Some(admin.as_str().to_string()),
    });
    let key = idempotency::key(&headers, "admin-http")?;
    // Held until the answer is built: a repeat meanwhile is 409.
    let _claim = match &key {
        Some(key) => Some(state.inner.in_flight.claim(key)?),
        None => None,
    };
    if let Some(key) = key {
        ctx = ctx.with_key(key);
    }
    let done = state
        .inner
        .ledger
        .grant(&ctx, id, amount, GrantKind::Admin, reason)
        .await?;
    let mut response = Json(GrantResponse {
        telegram_id: id.get(),
        old_balance: done.value.balance_before.get(),
        added: done.value.amount.get(),
        new_balance: done.value.balance_after.get(),
    })
    .into_response();
    if done.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str) -> Result<Grant, String> {
        let request: GrantRequest = serde_json::from_str(body).map_err(|e| e.to_string())?;
        Grant::try_from(request).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn a_grant_is_a_positive_whole_amount_and_a_short_trimmed_reason() {
        assert_eq!(
            check(r#"{"amount": 5, "reason": "  support  ", "extra": true}"#),
            Ok(Grant {
                amount: Tokens::from_const(5),
                reason: Some("support".into())
            })
        );
        assert_eq!(
            check(r#"{"amount": 5, "reason": "   "}"#).map(|g| g.reason),
            Ok(None)
        );
        for (body, says) in [
            (r#"{"amount": 0}"#, "must be positive"),
            (r#"{"amount": -5}"#, "must be positive"),
            (r#"{"amount": 1.9}"#, "must be a whole number"),
            (r#"{"amount": "5"}"#, "not a string"),
            (r#"{"reason": "x"}"#, "is required"),
            (r#"{"amount": null}"#, "is required"),
        ] {
            let refused = check(body).expect_err(body);
            assert!(refused.contains(says), "{body}: {refused}");
        }
        let long = format!(r#"{{"amount": 5, "reason": "{}"}}"#, "é".repeat(501));
        assert!(check(&long).expect_err("too long").contains("at most 500"));
        let just = format!(r#"{{"amount": 5, "reason": "{}"}}"#, "é".repeat(500));
        assert!(check(&just).is_ok());
    }
}
