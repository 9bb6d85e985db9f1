//! Postgres URLs with TLS: [`PgConfig`] reads `sslmode`/`sslrootcert` as libpq does and carries
//! the rustls connector ([`PgTls`]) every pool and dedicated connection uses.

mod config;
mod tls;
mod verification;

pub use config::{PgConfig, PgUrlError, SslMode};
pub use tls::{PgTls, PgTlsConnect, PgTlsError, PgTlsStream, RootsError};
pub use verification::{RootCerts, Verification};
