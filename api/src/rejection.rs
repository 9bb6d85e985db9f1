//! Every way a request can be refused before a handler runs, mapped once into [`ApiError`]: the
//! extractors of [`crate::extract`] return these errors and `?` turns them into problem+json.
//!
//! The shape of the request (path, query string, JSON syntax) is 400; a well-formed JSON body
//! whose field breaks a rule is 422; both name the field.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use serde_json::error::Category;

use crate::error::ApiError;

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::rejected(r.status(), r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        Self::rejected(r.status(), r.body_text())
    }
}

/// A JSON body that is not JSON at all (syntax, end of input, trailing characters).
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::bad_request(format!("the body is not valid JSON: {e}"))
    }
}

/// A JSON body that does not fit its type: the field's own message, under the field's name.
impl From<serde_path_to_error::Error<serde_json::Error>> for ApiError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let field = e.path().to_string();
        let at_root = e.path().iter().next().is_none();
        let inner = e.into_inner();
        match inner.classify() {
            Category::Data if at_root => Self::bad_request(format!("the body: {}", bare(&inner))),
            Category::Data => Self::field(StatusCode::UNPROCESSABLE_ENTITY, &field, bare(&inner)),
            Category::Syntax | Category::Eof | Category::Io => inner.into(),
        }
    }
}

/// A query string parameter that does not fit its type.
impl From<serde_path_to_error::Error<serde_urlencoded::de::Error>> for ApiError {
    fn from(e: serde_path_to_error::Error<serde_urlencoded::de::Error>) -> Self {
        if e.path().iter().next().is_none() {
            return Self::bad_request(format!("the query string: {}", e.inner()));
        }
        Self::field(
            StatusCode::BAD_REQUEST,
            &e.path().to_string(),
            e.inner().to_string(),
        )
    }
}

/// The message of a serde_json error without the " at line L column C" that its `Display` adds
/// (serde_json has no accessor for the bare message; the suffix's format is fixed in its
/// `ErrorImpl`'s `Display`): a field's problem is about its value, not where it sat in the text.
fn bare(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_message_loses_its_position_and_keeps_its_text() {
        let e = serde_json::from_str::<u8>("\n  300").expect_err("too large");
        assert!(e.to_string().ends_with(" at line 2 column 5"), "{e}");
        assert_eq!(bare(&e), "invalid value: integer `300`, expected u8");
    }
}
