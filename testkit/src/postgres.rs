//! One database per test on a shared Postgres server.
//!
//! Why a database per test rather than a schema or a transaction rolled back at the end: the code
//! under test runs its own migrations, opens pools, commits, takes advisory locks and listens;
//! only a whole database gives it a clean, private world while every test shares one server and
//! all run in parallel.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

use crate::ports::free_port;
use crate::process::{
    StartError, cleanup_after_exit, find_binary, is_root, postgres_tool, postgres_tool_line, run,
    shell_quote, temp_dir, warn,
};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Connections a private server accepts: each test may hold a pool of 16 plus the pools of the
/// code under test, and tests run in parallel.
const PRIVATE_MAX_CONNECTIONS: u32 = 300;

/// The admin URL, decided once per test process: probing and possibly starting a server is too
/// slow to repeat for every test, and every test must end up on the same server.
static ADMIN_URL: OnceCell<String> = OnceCell::const_new();

/// The URL of the server's maintenance database (`postgres`).
async fn admin_url() -> &'static str {
    ADMIN_URL.get_or_init(discover).await
}

/// `TEST_DATABASE_URL` (or the local default) when a server accepts connections there; otherwise
/// a private server started for this process.
async fn discover() -> String {
    let configured =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
    let config = tokio_postgres::Config::from_str(&configured).unwrap_or_else(|e| {
        panic!("testkit: TEST_DATABASE_URL {configured:?} is not a Postgres URL: {e}")
    });
    match tokio::time::timeout(Duration::from_secs(3), config.connect(NoTls)).await {
        Ok(Ok(_)) => return configured,
        // A server answered and said no (authentication, missing database): starting another
        // server would hide a misconfiguration, so say what is wrong instead.
        Ok(Err(e)) if e.as_db_error().is_some() => panic!(
            "testkit: the Postgres server at {configured} refused the connection: {}; \
             fix TEST_DATABASE_URL or the server's pg_hba.conf (trust for user postgres)",
            describe(&e)
        ),
        Ok(Err(e)) => warn(&format!(
            "no Postgres accepts connections at {configured} ({}); starting a private server",
            describe(&e)
        )),
        Err(_) => warn(&format!(
            "no Postgres answered at {configured} within 3 s; starting a private server"
        )),
    }
    tokio::task::spawn_blocking(start_private_server)
        .await
        .unwrap_or_else(|e| panic!("testkit: starting a private Postgres panicked: {e}"))
        .unwrap_or_else(|e| panic!("testkit: cannot start a private Postgres: {e}"))
}

/// Starts a private Postgres (as the harness does when none is reachable) and returns the URL
/// of its `postgres` database. For `tokenbot demo` on a machine without a running server.
pub async fn start_private_postgres() -> Result<String, String> {
    tokio::task::spawn_blocking(start_private_server)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// `initdb` + `pg_ctl start` in a temp dir, on a free port, with trust auth for `postgres`.
///
/// `fsync=off` because the data is thrown away; the server is stopped and its directory removed
/// after the test process exits (see [`cleanup_after_exit`]).
fn start_private_server() -> Result<String, StartError> {
    let (port, _) = start_server_with("pg", |_| Ok(String::new()))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// A private server as [`start_private_server`] starts it, after `prepare` has put its files in
/// the server's directory (before that is handed to the `postgres` user); the options `prepare`
/// returns are added to the server's command line. Returns the port and the directory.
pub(crate) fn start_server_with(
    kind: &str,
    prepare: impl FnOnce(&Path) -> Result<String, StartError>,
) -> Result<(u16, PathBuf), StartError> {
    let (initdb, pg_ctl) = find_tools()?;
    let dir = temp_dir(kind)?;
    let options = prepare(&dir)?;
    if is_root() {
        // initdb and postgres run as `postgres` (they refuse root), so they must own the dir.
        let mut chown = std::process::Command::new("chown");
        chown.args(["-R", "postgres:postgres"]).arg(&dir);
        run("chown of the Postgres temp dir to postgres", chown)?;
    }
    let data = path_arg(&dir.join("data"));
    run(
        "initdb",
        postgres_tool(
            &initdb,
            &args(&[
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
                &data,
            ]),
        ),
    )?;
    // Registered before the start so that a half-started server is cleaned up as well.
    let stop = postgres_tool_line(&pg_ctl, &args(&["-D", &data, "-m", "immediate", "stop"]));
    cleanup_after_exit(&format!(
        "{stop} >/dev/null 2>&1; rm -rf {}",
        shell_quote(&path_arg(&dir))
    ));
    let port = start_server(&pg_ctl, &dir, &options)?;
    warn(&format!(
        "private Postgres {} on port {port}, data in {}",
        pg_ctl.display(),
        dir.display()
    ));
    Ok((port, dir))
}

/// `initdb` and the `pg_ctl` of the same installation (a data directory only works with its
/// own version).
pub(crate) fn find_tools() -> Result<(PathBuf, PathBuf), StartError> {
    let initdb = find_binary("initdb").ok_or(StartError::NotFound {
        binary: "initdb",
        hint: "install Postgres (Debian package postgresql) or set TEST_DATABASE_URL",
    })?;
    let pg_ctl = std::fs::canonicalize(&initdb)
        .ok()
        .and_then(|real| real.parent().map(|dir| dir.join("pg_ctl")))
        .filter(|candidate| candidate.is_file())
        .or_else(|| find_binary("pg_ctl"))
        .ok_or(StartError::NotFound {
            binary: "pg_ctl",
            hint: "install Postgres (Debian package postgresql) or set TEST_DATABASE_URL",
        })?;
    Ok((initdb, pg_ctl))
}

/// `pg_ctl start` on the data under `dir`, on a free port (returned); a failure carries the
/// server's own log, which says why.
pub(crate) fn start_server(pg_ctl: &Path, dir: &Path, extra: &str) -> Result<u16, StartError> {
    let data = path_arg(&dir.join("data"));
    let log = path_arg(&dir.join("postgres.log"));
    let port = free_port();
    // pg_ctl hands -o to the shell that starts postgres, hence the quoting of the socket dir.
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections={PRIVATE_MAX_CONNECTIONS} {extra}",
        shell_quote(&path_arg(dir))
    );
    let started = run(
        "pg_ctl start",
        postgres_tool(
            pg_ctl,
            &args(&[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ]),
        ),
    );
    match started {
        Err(StartError::Failed {
            what,
            status,
            output,
        }) => {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            Err(StartError::Failed {
                what,
                status,
                output: format!("{output}\nserver log:\n{server_log}"),
            })
        }
        other => other.map(|_| port),
    }
}

/// An error with its causes: tokio-postgres' own text ("db error", "error connecting to
/// server") leaves the useful part in the source chain.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let chain = std::iter::successors(Some(error), |e| e.source());
    chain
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

pub(crate) fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

pub(crate) fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A connection to the server's maintenance database, for creating, dropping and inspecting
/// databases. Panics when the server cannot be reached.
pub async fn admin_client() -> tokio_postgres::Client {
    connect(admin_url().await).await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("testkit: cannot connect to {url}: {}", describe(&e)));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("testkit: admin connection ended: {e}");
        }
    });
    client
}

/// A database of its own for one test.
///
/// Dropped (`WITH (FORCE)`, so connections the test left open do not block it) when this value
/// is dropped. Set `TESTKIT_KEEP_DB=1` to keep it for a look after a failure; its name is then
/// printed.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    name: String,
    admin_url: &'static str,
}

impl TestDatabase {
    /// Creates `tb_test_<uuid>` from `template0` (always clean and, unlike `template1`, never
    /// "being accessed by other users" when tests create databases concurrently).
    ///
    /// Panics with the reason when no server can be reached or started.
    pub async fn create() -> TestDatabase {
        let admin_url = admin_url().await;
        let name = format!("tb_test_{}", uuid::Uuid::new_v4().simple());
        connect(admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .await
            .unwrap_or_else(|e| panic!("testkit: cannot create database {name}: {}", describe(&e)));
        let url = with_dbname(admin_url, &name);
        TestDatabase {
            url,
            name,
            admin_url,
        }
    }

    /// A connection URL for this database, for code under test that takes a URL. It connects
    /// as the server's superuser (`postgres`): the owner, who migrates and may tamper.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same database as another role (without a password: the harness's servers trust local
    /// connections). The role must exist; the code under test creates its roles when it migrates.
    pub fn url_as(&self, role: &str) -> String {
        with_user(&self.url, role)
    }

    /// The database's name (`tb_test_` and a random suffix), for tests that connect to it or
    /// inspect it by name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new pool of up to 16 connections to this database.
    pub fn pool(&self) -> Pool {
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(self.url.clone());
        config.manager = Some(ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        });
        config.pool = Some(PoolConfig::new(16));
        config
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .unwrap_or_else(|e| panic!("testkit: cannot build a pool for {}: {e}", self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var("TESTKIT_KEEP_DB").is_ok_and(|v| v == "1") {
            warn(&format!(
                "keeping database {} (TESTKIT_KEEP_DB=1): {}",
                self.name, self.url
            ));
            return;
        }
        let name = self.name.clone();
        let admin_url = self.admin_url;
        // Drop cannot await, and may run inside or outside a runtime; a short-lived thread with
        // its own runtime works in every case. Bounded, so a stuck server cannot hang the test.
        let cleanup = move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let drop_it = async {
                    let (client, connection) = tokio_postgres::connect(admin_url, NoTls).await?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await
                };
                match tokio::time::timeout(Duration::from_secs(30), drop_it).await {
                    Ok(result) => result.map_err(|e| describe(&e)),
                    Err(_) => Err("timed out after 30 s".to_string()),
                }
            })
        };
        let outcome = std::thread::Builder::new()
            .name("testkit-drop-db".to_string())
            .spawn(cleanup)
            .map_err(|e| e.to_string())
            .and_then(|handle| {
                handle
                    .join()
                    .map_err(|_| "the cleanup thread panicked".to_string())
            })
            .and_then(|result| result);
        if let Err(e) = outcome {
            warn(&format!("could not drop database {}: {e}", self.name));
        }
    }
}

/// `url` connecting as `user`, without a password: the user part of a `postgres://` URL is
/// replaced; a `key=value` string gets a trailing `user=` (and an empty `password=`).
fn with_user(url: &str, user: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            return format!("{scheme}{user}@{host}{tail}");
        }
    }
    format!("{url} user={user} password=''")
}

/// `url` pointing at database `db`: the path of a `postgres://` URL is replaced (query kept); a
/// `key=value` connection string gets a trailing `dbname=`, which overrides an earlier one.
fn with_dbname(url: &str, db: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (before_query, query) = match rest.split_once('?') {
                Some((before, query)) => (before, format!("?{query}")),
                None => (rest, String::new()),
            };
            let authority = before_query.split('/').next().unwrap_or_default();
            return format!("{scheme}{authority}/{db}{query}");
        }
    }
    format!("{url} dbname={db}")
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn user_replaces_the_user_and_password() {
        use super::with_user;
        assert_eq!(
            with_user("postgres://postgres@127.0.0.1:5432/x", "w"),
            "postgres://w@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_user("postgresql://u:p@h:1/x?sslmode=disable", "w"),
            "postgresql://w@h:1/x?sslmode=disable"
        );
        assert_eq!(with_user("postgres://h:1/x", "w"), "postgres://w@h:1/x");
        let parsed: tokio_postgres::Config = with_user("host=h user=postgres dbname=x", "w")
            .parse()
            .expect("key=value string parses");
        assert_eq!(parsed.get_user(), Some("w"));
    }

    #[test]
    fn dbname_replaces_the_path_and_keeps_the_query() {
        assert_eq!(
            with_dbname("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_dbname("postgresql://u:p@h:1/postgres?sslmode=disable", "x"),
            "postgresql://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_dbname("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_dbname("host=127.0.0.1 user=postgres dbname=postgres", "x"),
            "host=127.0.0.1 user=postgres dbname=postgres dbname=x"
        );
        let parsed: tokio_postgres::Config =
            with_dbname("host=127.0.0.1 user=postgres dbname=postgres", "x")
                .parse()
                .expect("key=value string parses");
        assert_eq!(parsed.get_dbname(), Some("x"));
    }
}
