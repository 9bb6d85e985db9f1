//! One database per test.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::ports::free_port;
use crate::process::{find_binary, is_root, run_as_postgres};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static ADMIN_URL: OnceLock<String> = OnceLock::new();

/// The URL of the server's `postgres` database: TEST_DATABASE_URL, else the local server, else
/// a server this process starts in a temp directory (once).
pub fn admin_url() -> String {
    ADMIN_URL
        .get_or_init(|| {
            let configured = std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
            if reachable(&configured) {
                configured
            } else {
                eprintln!("testkit: nothing answers at {configured}; starting a private Postgres");
                start_private_server()
            }
        })
        .clone()
}

fn reachable(url: &str) -> bool {
    let Ok(config) = tokio_postgres::Config::from_str(url) else {
        return false;
    };
    // A blocking probe on a throwaway runtime: admin_url() may be called from any context.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| {
                rt.block_on(async {
                    matches!(
                        tokio::time::timeout(Duration::from_secs(3), config.connect(NoTls)).await,
                        Ok(Ok(_))
                    )
                })
            })
            .unwrap_or(false)
    })
    .join()
    .unwrap_or(false)
}

fn start_private_server() -> String {
    let initdb = find_binary("initdb")
        .unwrap_or_else(|| panic!("testkit: no initdb found; install postgresql"));
    let pg_ctl = find_binary("pg_ctl")
        .unwrap_or_else(|| panic!("testkit: no pg_ctl found; install postgresql"));
    let dir = std::env::temp_dir().join(format!("tokenbot-testkit-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("testkit: cannot create {}: {e}", dir.display()));
    if is_root() {
        let _ = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
    }
    let port = free_port();
    let data_s = data.to_string_lossy().to_string();
    let out = run_as_postgres(&initdb, &["-A", "trust", "-U", "postgres", "-D", &data_s])
        .unwrap_or_else(|e| panic!("testkit: initdb failed to run: {e}"));
    assert!(
        out.status.success(),
        "testkit: initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
        dir.to_string_lossy()
    );
    let log = dir.join("server.log").to_string_lossy().to_string();
    let out = run_as_postgres(
        &pg_ctl,
        &["-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"],
    )
    .unwrap_or_else(|e| panic!("testkit: pg_ctl failed to run: {e}"));
    assert!(
        out.status.success(),
        "testkit: pg_ctl start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// A database of its own for one test. Dropped (WITH FORCE) when this value is dropped, unless
/// TESTKIT_KEEP_DB=1 (for looking at it after a failure).
pub struct TestDatabase {
    url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let admin = admin_url();
        let name = format!("tb_test_{}", uuid::Uuid::new_v4().simple());
        let client = admin_client().await;
        client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .await
            .unwrap_or_else(|e| panic!("testkit: cannot create database {name}: {e}"));
        let mut config = tokio_postgres::Config::from_str(&admin)
            .unwrap_or_else(|e| panic!("testkit: bad admin url: {e}"));
        config.dbname(&name);
        let url = replace_db(&admin, &name);
        TestDatabase { url, name }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool of up to 16 connections to this database.
    pub fn pool(&self) -> Pool {
        let config = tokio_postgres::Config::from_str(&self.url)
            .unwrap_or_else(|e| panic!("testkit: bad url: {e}"));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(16)
            .build()
            .unwrap_or_else(|e| panic!("testkit: pool: {e}"))
    }
}

fn replace_db(url: &str, db: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, tail)) => {
            let query = tail
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{base}/{db}{query}")
        }
        None => url.to_string(),
    }
}

/// A connection to the server's `postgres` database.
pub async fn admin_client() -> tokio_postgres::Client {
    let admin = admin_url();
    let (client, connection) = tokio_postgres::connect(&admin, NoTls)
        .await
        .unwrap_or_else(|e| panic!("testkit: cannot connect to {admin}: {e}"));
    tokio::spawn(connection);
    client
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var("TESTKIT_KEEP_DB").is_ok_and(|v| v == "1") {
            eprintln!("testkit: keeping database {}", self.name);
            return;
        }
        let name = self.name.clone();
        let admin = admin_url();
        // Drop cannot await; a short-lived thread with its own runtime does the cleanup.
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, NoTls)
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("testkit: could not drop database {}: {e}", self.name),
            Err(_) => eprintln!("testkit: the cleanup thread for {} panicked", self.name),
        }
    }
}
