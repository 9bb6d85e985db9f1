//! The admin key check. With no key configured the admin routes do not exist (404): the admin
//! API is never open by accident. A missing or wrong key is 401. Keys are compared as SHA-256
//! digests in constant time, so neither their content nor their length leaks through timing.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The header the admin key travels in.
pub const HEADER: &str = "x-admin-api-key";

/// The configured admin key, kept only as its digest; `None`: the admin API is off.
#[derive(Clone, Copy)]
pub struct AdminKey(Option<[u8; 32]>);

impl AdminKey {
    /// `None` turns the admin routes off.
    pub fn new(key: Option<&str>) -> Self {
        Self(key.map(digest))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Middleware in front of every admin route.
pub async fn require_admin(
    State(AdminKey(expected)): State<AdminKey>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = expected else {
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
