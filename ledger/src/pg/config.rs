//! A Postgres URL as libpq reads it, TLS included.
//!
//! tokio-postgres parses `sslmode` itself but knows only `disable`, `prefer` and `require` (its
//! `config.rs` rejects any other value, and rejects `sslrootcert` as an unknown option), and it
//! verifies nothing on its own: verification is the TLS connector's business. So the two TLS
//! parameters are taken out of the URL here, the rest goes to tokio-postgres, and
//! [`super::tls::PgTls`] does what the mode asks.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::str::FromStr;

use super::tls::{PgTls, RootsError};
use super::verification::{RootCerts, Verification};

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked (unless
    /// `sslrootcert` is given, as libpq does).
    Prefer,
    /// TLS or no connection; the certificate is not checked (unless `sslrootcert` is given).
    Require,
    /// TLS, and the server's certificate chain must lead to a trusted root.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The URL's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether to ask for TLS and whether plain is acceptable.
    fn transport(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Pg;
        match self {
            Self::Disable => Pg::Disable,
            Self::Prefer => Pg::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => Pg::Require,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a Postgres URL is not usable.
#[derive(Debug, thiserror::Error)]
pub enum PgUrlError {
    /// `sslmode` has a value libpq does not know.
    #[error("sslmode={0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    SslMode(String),
    /// tokio-postgres rejects the rest of the URL.
    #[error("not a valid Postgres URL")]
    Invalid(#[source] tokio_postgres::Error),
    /// The root certificates cannot be loaded.
    #[error("cannot load the root certificates for TLS")]
    Roots(#[source] RootsError),
}

/// A parsed Postgres URL: tokio-postgres's configuration plus the TLS it asks for. Derefs to
/// [`tokio_postgres::Config`] for everything else (user, database, hosts).
#[derive(Clone)]
pub struct PgConfig {
    postgres: tokio_postgres::Config,
    mode: SslMode,
    root_cert: Option<String>,
    tls: PgTls,
}

impl PgConfig {
    /// Parses `url` (URL or key=value form); loads `sslrootcert` now so that a missing file is
    /// reported at start.
    pub fn parse(url: &str) -> Result<Self, PgUrlError> {
        let (rest, params) = split_tls_params(url);
        let mut postgres = tokio_postgres::Config::from_str(&rest).map_err(PgUrlError::Invalid)?;
        let mode = match params.mode {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(&m).ok_or(PgUrlError::SslMode(m))?,
        };
        postgres.ssl_mode(mode.transport());
        let verification = match (mode, params.root_cert.clone()) {
            (SslMode::Disable, _) | (SslMode::Prefer | SslMode::Require, None) => {
                Verification::None
            }
            (mode, root) => Verification::Chain {
                roots: match root.as_deref() {
                    None | Some("system") => RootCerts::System,
                    Some(path) => RootCerts::File(PathBuf::from(path)),
                },
                host_name: mode == SslMode::VerifyFull,
            },
        };
        let tls = PgTls::new(&verification).map_err(PgUrlError::Roots)?;
        Ok(Self {
            postgres,
            mode,
            root_cert: params.root_cert,
            tls,
        })
    }

    /// `sslmode=…[&sslrootcert=…]`, for a URL rebuilt from this configuration.
    pub fn tls_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("sslmode", self.mode.as_str());
        if let Some(root) = &self.root_cert {
            query.append_pair("sslrootcert", root);
        }
        query.finish()
    }

    /// The `sslmode` asked for (`prefer` when the URL names none, as libpq).
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// The TLS connector for this URL's mode.
    pub fn tls(&self) -> PgTls {
        self.tls.clone()
    }

    /// Opens one connection outside any pool; the caller drives (or spawns) the connection.
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, super::tls::PgTlsStream>,
        ),
        tokio_postgres::Error,
    > {
        self.postgres.connect(self.tls()).await
    }
}

impl FromStr for PgConfig {
    type Err = PgUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl Deref for PgConfig {
    type Target = tokio_postgres::Config;

    fn deref(&self) -> &Self::Target {
        &self.postgres
    }
}

impl DerefMut for PgConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.postgres
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres's Debug redacts the password.
        f.debug_struct("PgConfig")
            .field("postgres", &self.postgres)
            .field("sslmode", &self.mode)
            .finish()
    }
}

#[derive(Debug, Default, PartialEq)]
struct TlsParams {
    mode: Option<String>,
    root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of `url`, returning the rest unchanged otherwise.
fn split_tls_params(url: &str) -> (String, TlsParams) {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            params.mode = Some(value);
            true
        }
        "sslrootcert" => {
            params.root_cert = Some(value);
            true
        }
        _ => false,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_string(), params);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let mut parsed = form_urlencoded::parse(pair.as_bytes());
                !matches!(parsed.next(), Some((k, v)) if take(&k, v.to_string()))
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, params);
    }
    // key=value form: only unquoted values are recognised, which covers both parameters in
    // practice (a mode is one word; a path with spaces must use the URL form).
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|word| {
            !matches!(word.split_once('='), Some((k, v)) if !v.starts_with('\'') && take(k.trim(), v.to_string()))
        })
        .collect();
    (kept.join(" "), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_form_loses_only_the_tls_parameters() {
        let (rest, tls) = split_tls_params(
            "postgres://u:p@db.example:5433/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(
            rest,
            "postgres://u:p@db.example:5433/app?application_name=x"
        );
        assert_eq!(tls.mode.as_deref(), Some("verify-full"));
        assert_eq!(tls.root_cert.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn key_value_form_loses_only_the_tls_parameters() {
        let (rest, tls) = split_tls_params("host=db user=u sslmode=require dbname=app");
        assert_eq!(rest, "host=db user=u dbname=app");
        assert_eq!(tls.mode.as_deref(), Some("require"));
        assert_eq!(tls.root_cert, None);
    }

    #[test]
    fn modes_map_to_what_tokio_postgres_does() {
        let cases = [
            ("", SslMode::Prefer),
            ("?sslmode=disable", SslMode::Disable),
            ("?sslmode=require", SslMode::Require),
            ("?sslmode=verify-ca", SslMode::VerifyCa),
            ("?sslmode=verify-full", SslMode::VerifyFull),
        ];
        for (query, mode) in cases {
            let config = PgConfig::parse(&format!("postgres://u@h/db{query}")).unwrap();
            assert_eq!(config.ssl_mode(), mode, "{query}");
            assert_eq!(config.get_ssl_mode(), mode.transport(), "{query}");
            assert_eq!(config.get_dbname(), Some("db"));
        }
    }

    #[test]
    fn unknown_mode_and_missing_root_file_are_named() {
        let e = PgConfig::parse("postgres://u@h/db?sslmode=verify").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sslmode=\"verify\" is not one of disable, prefer, require, verify-ca, verify-full"
        );
        let e =
            PgConfig::parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem")
                .unwrap_err();
        assert_eq!(e.to_string(), "cannot load the root certificates for TLS");
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert!(cause.starts_with("cannot read /nonexistent.pem"), "{cause}");
    }
}
