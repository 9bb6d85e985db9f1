//! One error type for the API, rendered as RFC 9457 `application/problem+json`: every answer that
//! is not a success, from a rule of the ledger to a malformed request (see [`crate::rejection`]),
//! goes through [`ApiError`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokenbot_ledger::{DomainError, LedgerError};
use utoipa::ToSchema;

use tokenbot_projections::ProjectionError;

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name as the request spells it (`amount`, `telegram_id`, `limit`...).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `https://tokenbot.dev/problems/<slug>`: what kind of problem, for programs.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind in words.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case, for people.
    pub detail: String,
    /// The fields that failed validation, when that is the problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An answer other than success; it renders as a [`Problem`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 502: Telegram refused what the request needed from it; `detail` says what was done.
    pub fn bad_gateway(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, kind, title, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 401: the admin key is missing or wrong.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "send the admin API key in the X-Admin-API-Key header",
        )
    }

    /// 429: the client must wait (the caller adds `Retry-After`).
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        )
    }

    /// 400: the request is malformed as a whole.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// A field's value is wrong: 400 for the shape of the request (path, headers, JSON syntax),
    /// 422 for a well-formed body whose values break a rule.
    pub fn field(status: StatusCode, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(
            status,
            "invalid-field",
            "Invalid request",
            format!("{field}: {message}"),
        );
        e.errors.push(FieldError {
            field: field.to_string(),
            message,
        });
        e
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 503: a dependency does not answer; nothing was done.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// 500.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }

    /// A request that axum refused before any handler ran (a body too large, say), with the
    /// status it chose.
    pub fn rejected(status: StatusCode, detail: impl Into<String>) -> Self {
        if status == StatusCode::BAD_REQUEST {
            return Self::bad_request(detail);
        }
        Self::new(
            status,
            "rejected",
            status.canonical_reason().unwrap_or("Rejected"),
            detail,
        )
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match &e {
            LedgerError::Domain(DomainError::AccountNotFound(id)) => {
                Self::not_found(format!("user {id} has no account"))
            }
            LedgerError::Domain(DomainError::TaskNotFound(id)) => {
                Self::not_found(format!("task {id} does not exist"))
            }
            LedgerError::Domain(
                DomainError::ZeroAmount | DomainError::GrantTooLarge { .. } | DomainError::Overflow,
            ) => Self::field(StatusCode::UNPROCESSABLE_ENTITY, "amount", e.to_string()),
            LedgerError::Domain(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule",
                "Refused by a ledger rule",
                e.to_string(),
            ),
            // draft-ietf-httpapi-idempotency-key-header: a key reused with another payload is
            // 422; 409 is kept for a repeat while the first is in flight (crate::idempotency).
            LedgerError::IdempotencyConflict { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                format!("{e}: the Idempotency-Key was already used with a different request body"),
            ),
            LedgerError::OutcomeUnknown { .. } => {
                tracing::error!(error = %tokenbot_ledger::error::chain(&e), "admin command: outcome unknown");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome-unknown",
                    "Outcome unknown",
                    format!(
                        "{e}. It may or may not have been applied. Retry with the same \
                         Idempotency-Key: a repeat is answered from the first result. A request \
                         sent without one may apply twice if repeated; look at \
                         GET /admin/users/{{telegram_id}}/ledger before sending it again."
                    ),
                )
            }
            _ if e.is_transient() => {
                tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "admin command: database unavailable");
                Self::unavailable(format!(
                    "{e}. Nothing was written; the request may be sent again."
                ))
            }
            _ => {
                tracing::error!(error = %tokenbot_ledger::error::chain(&e), "admin request failed");
                Self::internal(e.to_string())
            }
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> Self {
        tracing::error!(error = %tokenbot_ledger::error::chain(&e), "admin query failed");
        Self::internal(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(format!("database: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://tokenbot.dev/problems/{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("X-Admin-API-Key"),
            );
        }
        response
    }
}
