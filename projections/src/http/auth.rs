//! The admin key check. With no key configured the admin routes do not exist (404): the admin
//! API is never open by accident. A missing or wrong key is 401. Keys are compared as SHA-256
//! digests in constant time, so neither their content nor their length leaks through timing.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AdminState;
use super::error::ApiError;

pub const HEADER: &str = "x-admin-api-key";

pub(crate) fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub async fn require_admin(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = state.inner.admin_key_digest else {
        return Err(ApiError::not_found("no such route"));
    };
    let given = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(digest)
        .ok_or_else(ApiError::unauthorized)?;
    if bool::from(given.ct_eq(&expected)) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::unauthorized())
    }
}
