//! The API's extractors, in the shape of axum's `Path`, `Query` and `Json` but answering every
//! refusal with the API's problem+json ([`crate::rejection`]) and naming the field at fault.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use tokenbot_ledger::{ChargeId, TelegramId};

use crate::error::ApiError;

/// The `{telegram_id}` of an `/admin/users/...` route, parsed once: anything but a Telegram user
/// id is 400 naming `telegram_id`.
#[derive(Debug, Clone, Copy)]
pub struct UserId(pub TelegramId);

impl<S: Send + Sync> FromRequestParts<S> for UserId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.parse::<TelegramId>()
            .map(Self)
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "telegram_id", e.to_string()))
    }
}

/// The `{charge_id}` of an `/admin/payments/...` route: Telegram's `telegram_payment_charge_id`,
/// checked once; anything else is 400 naming `charge_id`.
#[derive(Debug, Clone)]
pub struct ChargePath(pub ChargeId);

impl<S: Send + Sync> FromRequestParts<S> for ChargePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.parse::<ChargeId>()
            .map(Self)
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "charge_id", e.to_string()))
    }
}

/// The query string as `T`; parameters `T` does not name are ignored.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let params = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        Ok(Self(serde_path_to_error::deserialize(params)?))
    }
}

/// A JSON object body as `T`, whatever the `Content-Type` (as the admin API has always
/// accepted). Not JSON, or JSON but not an object: 400; a field of the wrong type or value: 422
/// naming it.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, state).await?;
        // Serde's derived structs also accept a JSON array, field by field in order: only an
        // object names its fields, so anything else is refused before it can be read that way.
        if body.trim_ascii_start().first() != Some(&b'{') {
            serde_json::from_slice::<IgnoredAny>(&body)?;
            return Err(ApiError::bad_request(
                "the body must be a JSON object (see /openapi.json)",
            ));
        }
        let mut json = serde_json::Deserializer::from_slice(&body);
        let value = serde_path_to_error::deserialize(&mut json)?;
        json.end()?;
        Ok(Self(value))
    }
}
