//! The `Idempotency-Key` header as draft-ietf-httpapi-idempotency-key-header has it:
//!
//! - the value is a Structured Field string (`"8e03978e-..."`); a bare token is taken too, and
//!   both forms are the same key;
//! - a repeat with the same payload is answered with the first result (the ledger keeps the key
//!   and the result, in the transaction that applied the command);
//! - a repeat with another payload is 422 (the ledger's `IdempotencyConflict`, see
//!   [`crate::error`]);
//! - a repeat while the first request is still being processed is 409, so a client retrying too
//!   eagerly learns to wait instead of queueing behind the first.
//!
//! In-flight keys are known per api process; a repeat reaching another process while the first
//! is in flight waits for it in Postgres and then gets its result, which is what the 409 asks the
//! client to do anyway.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use tokenbot_ledger::IdempotencyKey;

use crate::error::ApiError;

/// The header's name.
pub const HEADER: &str = "idempotency-key";

/// The key of `headers` scoped to `scope` (e.g. `admin-http`), if one is sent.
pub fn key(headers: &HeaderMap, scope: &str) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(unquote)
        .and_then(|k| IdempotencyKey::derived(scope, &k).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key",
                "1 to 180 printable ASCII characters, bare or as a quoted string",
            )
        })
}

/// A Structured Field string's content (RFC 8941 3.3.3: `\"` and `\\` are the only escapes),
/// or a bare value as it is. `None`: a quoted string that is not well formed.
fn unquote(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let Some(inner) = raw.strip_prefix('"') else {
        return Some(raw.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The keys whose first request this process is still serving.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<String>>);

/// A key claimed by [`InFlight::claim`]; released when dropped (the request answered, or its
/// future dropped with the connection).
pub struct Claim {
    set: Arc<InFlight>,
    key: String,
}

impl InFlight {
    /// Claims `key` for this request, or 409 when another request holds it.
    pub fn claim(self: &Arc<Self>, key: &IdempotencyKey) -> Result<Claim, ApiError> {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !set.insert(key.as_str().to_string()) {
            return Err(ApiError::conflict(
                "a request with this Idempotency-Key is still being processed; repeat it once \
                 that one is answered (the repeat then gets the same result)",
            ));
        }
        Ok(Claim {
            set: self.clone(),
            key: key.as_str().to_string(),
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut set = self.set.0.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_bare_forms_are_the_same_key() {
        assert_eq!(unquote("abc-17").as_deref(), Some("abc-17"));
        assert_eq!(unquote("\"abc-17\"").as_deref(), Some("abc-17"));
        assert_eq!(unquote(r#""a\"b\\c""#).as_deref(), Some(r#"a"b\c"#));
        assert_eq!(unquote("\"abc"), None);
        assert_eq!(unquote(r#""a"b""#), None);
        assert_eq!(unquote(r#""a\nb""#), None);
    }

    #[test]
    fn a_key_is_held_until_its_claim_is_dropped() {
        let set = Arc::new(InFlight::default());
        let key = IdempotencyKey::parse("k-1").unwrap();
        let first = set.claim(&key).unwrap();
        let refused = set.claim(&key).err().unwrap();
        assert!(format!("{refused:?}").contains("409"), "{refused:?}");
        drop(first);
        assert!(set.claim(&key).is_ok());
    }
}
