//! TLS to Postgres as the URL's `sslmode`/`sslrootcert` ask, against a private server whose
//! certificate the test makes (a CA and a leaf naming only `localhost`).

// A test may panic on its own setup (servers, certificates): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokenbot_ledger::{Database, PgConfig};
use tokenbot_testkit::TlsPostgres;

struct Pki {
    /// The CA that signed the server's certificate.
    root: PathBuf,
    /// A CA that signed nothing the server has.
    other_root: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// Starts the server; returns it with the root certificates written to files.
async fn server() -> (TlsPostgres, Pki) {
    let (root_pem, issuer) = ca("tokenbot test CA");
    let (other_pem, _) = ca("someone else's CA");
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "tokenbot test server");
    let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let dir = std::env::temp_dir().join(format!("tokenbot-pg-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, pem: &str| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let pki = Pki {
        root: write("root.pem", &root_pem),
        other_root: write("other.pem", &other_pem),
        _dir: TempDir(dir.clone()),
    };
    let server = TlsPostgres::start(leaf.pem(), leaf_key.serialize_pem()).await;
    (server, pki)
}

fn root_param(path: &Path) -> String {
    format!("sslrootcert={}", path.display())
}

/// Whether the session this client runs in is encrypted, as the server sees it.
async fn encrypted(url: &str) -> Result<bool, String> {
    let config = PgConfig::parse(url).map_err(|e| chain(&e))?;
    let (client, connection) = config.connect().await.map_err(|e| chain(&e))?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    Ok(row.get(0))
}

/// The message and its causes, as `{e:#}` of anyhow prints them.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[tokio::test]
async fn sslmode_is_honoured_against_a_server_with_its_own_ca() {
    let (server, pki) = server().await;
    let root = root_param(&pki.root);

    // Encryption only: any certificate is taken, whatever the host is called.
    assert_eq!(
        encrypted(&server.url("127.0.0.1", "sslmode=require")).await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&server.url("127.0.0.1", "sslmode=prefer")).await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&server.url("127.0.0.1", "sslmode=disable")).await,
        Ok(false)
    );

    // The right root and the host the certificate names.
    let full = server.url("localhost", &format!("sslmode=verify-full&{root}"));
    assert_eq!(encrypted(&full).await, Ok(true));
    // verify-ca checks the chain only, so another name for the host is fine.
    let ca_only = server.url("127.0.0.1", &format!("sslmode=verify-ca&{root}"));
    assert_eq!(encrypted(&ca_only).await, Ok(true));

    // The pool every process uses goes through the same connector.
    let db = Database::connect(&full, 2).await.unwrap();
    let client = db.pool().get().await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[tokio::test]
async fn verify_full_refuses_a_wrong_root_or_a_wrong_host_by_name() {
    let (server, pki) = server().await;

    let wrong_root = server.url(
        "localhost",
        &format!("sslmode=verify-full&{}", root_param(&pki.other_root)),
    );
    assert_eq!(
        encrypted(&wrong_root).await,
        Err(format!(
            "error performing TLS handshake: the certificate of the Postgres server localhost is \
             not signed by sslrootcert={} (a wrong sslrootcert, or a server impersonating the \
             database)",
            pki.other_root.display()
        ))
    );

    let wrong_host = server.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&{}", root_param(&pki.root)),
    );
    assert_eq!(
        encrypted(&wrong_host).await,
        Err(
            "error performing TLS handshake: the certificate of the Postgres server does not \
             name 127.0.0.1 (sslmode=verify-full: the URL's host must be one of the names in the \
             certificate): certificate not valid for name \"127.0.0.1\"; certificate is only \
             valid for DnsName(\"localhost\")"
                .to_string()
        )
    );

    // A root file that is not there is reported when the URL is read, before any connection.
    let missing = server.url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/root.pem",
    );
    let e = encrypted(&missing).await.unwrap_err();
    assert!(
        e.starts_with(
            "cannot load the root certificates for TLS: cannot read /nonexistent/root.pem"
        ),
        "{e}"
    );
}
