//! A private Postgres that speaks TLS with a certificate the test made, for the tests of
//! `sslmode`. The shared server is never reconfigured: this one has its own data directory and
//! port, and is stopped after the test process exits, like the harness's other private servers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::postgres::{path_arg, start_server_with};
use crate::process::{StartError, shell_quote};

/// A private Postgres with `ssl=on`.
pub struct TlsPostgres {
    port: u16,
}

impl TlsPostgres {
    /// Starts a server presenting `cert_pem` (leaf first, then any intermediates) with the
    /// private key `key_pem`. Panics when the server cannot be started (a broken test machine).
    pub async fn start(cert_pem: String, key_pem: String) -> TlsPostgres {
        let started = tokio::task::spawn_blocking(move || start(&cert_pem, &key_pem)).await;
        match started {
            Ok(Ok(port)) => TlsPostgres { port },
            Ok(Err(e)) => panic!("testkit: cannot start a Postgres with TLS: {e}"),
            Err(e) => panic!("testkit: starting a Postgres with TLS panicked: {e}"),
        }
    }

    /// The port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@{host}:{port}/postgres?{query}`: `host` as the client should name
    /// the server (`localhost` and `127.0.0.1` both reach it; the certificate decides which
    /// one `verify-full` accepts).
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

fn start(cert_pem: &str, key_pem: &str) -> Result<u16, StartError> {
    let write = |path: &Path, text: &str, mode: u32| {
        std::fs::write(path, text)
            .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
            .map_err(|source| StartError::Io {
                what: format!("cannot write {}", path.display()),
                source,
            })
    };
    let (port, _dir) = start_server_with("pg-tls", |dir| {
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        write(&cert, cert_pem, 0o644)?;
        // Postgres refuses a key others can read.
        write(&key, key_pem, 0o600)?;
        Ok(format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            shell_quote(&path_arg(&cert)),
            shell_quote(&path_arg(&key))
        ))
    })?;
    Ok(port)
}
