//! The admin key check. With no key configured the admin routes do not exist (404): the admin
//! API is never open by accident. A missing or wrong key is 401, logged with the client's
//! address; an address that keeps failing is refused with 429 for a while, even with a right
//! key, so that guessing costs time.
//!
//! Keys are named (`ADMIN_API_KEYS=alice:<sha256 hex>,...`) and only their SHA-256 digests are
//! configured, so no plaintext key sits in an environment file. The given key's digest is
//! compared with every configured digest in constant time, so neither a key's content nor which
//! entry matched leaks through timing. A request that passes carries the [`AdminName`] in its
//! extensions, for the handlers to record who acted.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The header the admin key travels in.
pub const HEADER: &str = "x-admin-api-key";

/// Failed authentications an address may make within [`FAILURE_WINDOW`] before it is refused.
pub const MAX_FAILURES: u32 = 10;
/// How long failures are remembered, and how long an address is refused once over the limit.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond, expired entries are dropped first.
const MAX_TRACKED: usize = 10_000;

/// An admin key's name: ASCII letters, digits, `-`, `_` and `.`, 1 to 64 characters (it goes
/// into event metadata and logs as is).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdminName(String);

impl AdminName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<Self, AdminKeysError> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(name.to_string()))
        } else {
            Err(AdminKeysError::Name(name.to_string()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `ADMIN_API_KEYS` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminKeysError {
    /// An entry is not `name:digest`.
    #[error("entry {0:?} is not name:sha256-hex (make one with `tokenbot admin key new <name>`)")]
    Entry(String),
    /// A name breaks [`AdminName`]'s rule.
    #[error("name {0:?} is not 1 to 64 letters, digits, '-', '_' or '.'")]
    Name(String),
    /// A digest is not 64 hex digits.
    #[error(
        "the digest of {0:?} is not 64 hex digits (the SHA-256 of the key, never the key itself)"
    )]
    Digest(String),
    /// Two entries share a name, which would make the actor ambiguous.
    #[error("the name {0:?} appears twice")]
    Duplicate(String),
}

/// The configured admin keys, by name, as digests; empty: the admin API is off.
#[derive(Clone, Default)]
pub struct AdminKeys(Arc<Vec<(AdminName, [u8; 32])>>);

/// Names only: a digest is no secret, but there is nothing to learn from it in a log either.
impl fmt::Debug for AdminKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl AdminKeys {
    /// No key: the admin routes answer 404.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `name:sha256hex,name:sha256hex` (spaces around entries ignored).
    pub fn parse(list: &str) -> Result<Self, AdminKeysError> {
        let mut keys = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, hex_digest) = entry
                .split_once(':')
                .ok_or_else(|| AdminKeysError::Entry(entry.to_string()))?;
            let name = AdminName::parse(name.trim())?;
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hex_digest.trim(), &mut digest)
                .map_err(|_| AdminKeysError::Digest(name.to_string()))?;
            keys.push((name, digest));
        }
        Self::from_entries(keys)
    }

    /// One plaintext key under `name` (the old single `ADMIN_API_KEY`, and tests).
    pub fn plaintext(name: AdminName, key: &str) -> Self {
        Self(Arc::new(vec![(name, digest(key))]))
    }

    /// These keys and `other`'s; a name in both is an error.
    pub fn merge(self, other: AdminKeys) -> Result<Self, AdminKeysError> {
        let entries = self.0.iter().chain(other.0.iter()).cloned().collect();
        Self::from_entries(entries)
    }

    fn from_entries(keys: Vec<(AdminName, [u8; 32])>) -> Result<Self, AdminKeysError> {
        for (i, (name, _)) in keys.iter().enumerate() {
            if keys[..i].iter().any(|(other, _)| other == name) {
                return Err(AdminKeysError::Duplicate(name.to_string()));
            }
        }
        Ok(Self(Arc::new(keys)))
    }

    /// Whether any key is configured (the admin API is on).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, for the start-up line.
    pub fn names(&self) -> impl Iterator<Item = &AdminName> {
        self.0.iter().map(|(name, _)| name)
    }

    /// The configuration line for `key` under `name`: `name:sha256hex`.
    pub fn line(name: &AdminName, key: &str) -> String {
        format!("{name}:{}", hex::encode(digest(key)))
    }

    /// Whose key `given` is. Every entry is compared, in constant time.
    fn identify(&self, given: &str) -> Option<AdminName> {
        let given = digest(given);
        let mut found = None;
        for (name, expected) in self.0.iter() {
            if bool::from(given.ct_eq(expected)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// `Some(key)` is one key named `default`, for the callers that have only one.
impl From<Option<&str>> for AdminKeys {
    fn from(key: Option<&str>) -> Self {
        match key {
            Some(key) => Self::plaintext(AdminName(DEFAULT_NAME.to_string()), key),
            None => Self::none(),
        }
    }
}

/// The name the old single `ADMIN_API_KEY` acts under.
pub const DEFAULT_NAME: &str = "default";

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Failed authentications per client address, in fixed windows.
#[derive(Default)]
pub struct FailedAuth(Mutex<HashMap<IpAddr, (Instant, u32)>>);

impl FailedAuth {
    /// When `client` may try again, if it is over the limit now.
    fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = *map.get(&client)?;
        let ends = start + FAILURE_WINDOW;
        (count >= MAX_FAILURES && now < ends).then(|| ends - now)
    }

    /// Counts a failure of `client`; returns its failures in the current window.
    fn fail(&self, client: IpAddr, now: Instant) -> u32 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (start, _)| now < *start + FAILURE_WINDOW);
        }
        let entry = map.entry(client).or_insert((now, 0));
        if now >= entry.0 + FAILURE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

/// What the admin middleware needs: the keys and the failure counts.
#[derive(Clone)]
pub struct AdminAuth {
    keys: AdminKeys,
    failures: Arc<FailedAuth>,
}

impl AdminAuth {
    /// Checks requests against `keys`.
    pub fn new(keys: AdminKeys) -> Self {
        Self {
            keys,
            failures: Arc::default(),
        }
    }
}

/// The client's address; without `ConnectInfo` (a server not started with it) every client
/// shares one bucket, which errs on the side of refusing.
fn client_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Middleware in front of every admin route.
pub async fn require_admin(
    State(auth): State<AdminAuth>,
    mut request: Request,
    next: Next,
) -> Response {
    if auth.keys.is_empty() {
        return ApiError::not_found("no such route").into_response();
    }
    let client = client_of(&request);
    let now = Instant::now();
    if let Some(wait) = auth.failures.blocked(client, now) {
        return too_many(wait);
    }
    let given = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    let who = given.and_then(|key| auth.keys.identify(key));
    match who {
        Some(name) => {
            request.extensions_mut().insert(name);
            next.run(request).await
        }
        None => {
            let failures = auth.failures.fail(client, now);
            let reason = if given.is_some() {
                "wrong key"
            } else {
                "no key"
            };
            tracing::warn!(%client, reason, failures, "admin authentication failed");
            metrics::counter!("tokenbot_admin_auth_failures_total").increment(1);
            ApiError::unauthorized().into_response()
        }
    }
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = ApiError::too_many_requests(format!(
        "too many failed admin authentications from this address; try again in {seconds} s"
    ))
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&seconds.to_string()).unwrap_or(HeaderValue::from_static("60")),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_named_digests_and_bad_entries_are_named() {
        let alice = AdminName::parse("alice").unwrap();
        let line = AdminKeys::line(&alice, "alice-key-0123456789");
        let keys = AdminKeys::parse(&format!(" {line} , bob:{}", "0".repeat(64))).unwrap();
        assert_eq!(keys.identify("alice-key-0123456789"), Some(alice));
        assert_eq!(keys.identify("alice-key-012345678"), None);
        assert_eq!(
            AdminKeys::parse("alice").err(),
            Some(AdminKeysError::Entry("alice".into()))
        );
        assert_eq!(
            AdminKeys::parse("al ice:00").err(),
            Some(AdminKeysError::Name("al ice".into()))
        );
        assert_eq!(
            AdminKeys::parse("alice:plaintext-key-here").err(),
            Some(AdminKeysError::Digest("alice".into()))
        );
        assert_eq!(
            AdminKeys::parse(&format!("{line},{line}")).err(),
            Some(AdminKeysError::Duplicate("alice".into()))
        );
    }

    #[test]
    fn an_address_is_refused_after_the_limit_until_its_window_ends() {
        let failures = FailedAuth::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for n in 1..=MAX_FAILURES {
            assert_eq!(failures.blocked(a, t0), None);
            assert_eq!(failures.fail(a, t0), n);
        }
        assert_eq!(failures.blocked(a, t0), Some(FAILURE_WINDOW));
        assert_eq!(
            failures.blocked(b, t0),
            None,
            "other addresses are not affected"
        );
        assert_eq!(failures.blocked(a, t0 + FAILURE_WINDOW), None);
        assert_eq!(failures.fail(a, t0 + FAILURE_WINDOW), 1, "a new window");
    }
}
