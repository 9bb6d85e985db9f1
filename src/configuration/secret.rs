//! URLs that may carry a password (`DATABASE_URL`, `MIGRATION_DATABASE_URL`, `NATS_URL`): kept
//! behind `secrecy`, and shown with the password masked wherever they are printed (messages,
//! `Debug`), so a log or an error report never holds one.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// What a masked password reads as.
const MASK: &str = "***";

/// A connection URL whose password never prints.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    /// Wraps `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL itself, password included: only for connecting.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with its password (if any) masked, for messages.
    pub fn redacted(&self) -> String {
        redact(self.expose())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

/// Masks the password of `scheme://user:password@host/...` and of libpq's
/// `... password=secret ...` form; anything else is returned as it is.
pub fn redact(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let start = scheme_end + 3;
            return format!("{}{MASK}{}", &url[..start + colon + 1], &url[start + at..]);
        }
        return url.to_string();
    }
    url.split(' ')
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_every_form() {
        assert_eq!(
            redact("postgres://tokenbot:s3cret@db:5432/tokenbot"),
            "postgres://tokenbot:***@db:5432/tokenbot"
        );
        assert_eq!(
            redact("nats://u:p%40ss@nats:4222"),
            "nats://u:***@nats:4222"
        );
        assert_eq!(
            redact("host=db user=x password=s3cret dbname=t"),
            "host=db user=x password=*** dbname=t"
        );
    }

    #[test]
    fn urls_without_a_password_are_unchanged() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/tokenbot",
            "nats://127.0.0.1:4222",
            "postgres://db/x?user=a:b@c",
        ] {
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let url = SecretUrl::new("postgres://a:hunter2@h/d");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!format!("{url}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://a:hunter2@h/d");
    }
}
