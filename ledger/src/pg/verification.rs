//! What the server's certificate is checked against: decided by [`super::config`] from the URL,
//! applied by [`super::tls`].

use std::fmt;
use std::path::PathBuf;

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// `sslrootcert=system`, or no `sslrootcert` with a `verify-*` mode: the machine's store.
    System,
    /// `sslrootcert=<file>`: the PEM certificates in that file, and no others.
    File(PathBuf),
}

impl fmt::Display for RootCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("the system's root certificates"),
            Self::File(path) => write!(f, "sslrootcert={}", path.display()),
        }
    }
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Not at all (encryption only): `prefer`/`require` without `sslrootcert`.
    None,
    /// The chain must lead to one of `roots`; with `host_name`, the certificate must also name
    /// the host.
    Chain {
        /// The trusted roots.
        roots: RootCerts,
        /// `verify-full`.
        host_name: bool,
    },
}
