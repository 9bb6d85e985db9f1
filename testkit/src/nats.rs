//! NATS for tests: the shared server with a name prefix per test, or a private server that a
//! test may stop and start.
//!
//! Why a prefix instead of a server per test: a nats-server with JetStream takes a moment to
//! start and holds a store; parallel tests share one and keep out of each other's way by
//! naming their streams, consumers and subjects with their own prefix.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::OnceCell;

use crate::ports::free_port;
use crate::process::{StartError, cleanup_after_exit, find_binary, shell_quote, temp_dir, warn};

const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// How long a server we started may take to accept connections before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared server's URL, decided once per test process so that all tests use one server and
/// at most one private server is started.
static SHARED_URL: OnceCell<String> = OnceCell::const_new();

/// The shared NATS server (JetStream enabled) and a prefix that is this test's alone.
#[derive(Debug, Clone)]
pub struct TestNats {
    url: String,
    prefix: String,
}

impl TestNats {
    /// `TEST_NATS_URL` (default `nats://127.0.0.1:4222`) when a server answers there, otherwise a
    /// private `nats-server -js` started once for this process and stopped after it exits.
    ///
    /// Panics with the reason when no server can be reached or started.
    pub async fn start() -> TestNats {
        let url = SHARED_URL.get_or_init(discover).await.clone();
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        TestNats { url, prefix }
    }

    /// The shared server's URL; isolation between tests comes from [`TestNats::prefix`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `t` and 8 hex digits, unique per test: start the test's stream, consumer and subject
    /// names with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

async fn discover() -> String {
    let configured =
        std::env::var("TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_string());
    match read_info(&address(&configured)).await {
        Ok(_) => return configured,
        Err(e) => warn(&format!(
            "no NATS server answers at {configured} ({e}); starting a private nats-server"
        )),
    }
    start_shared_server()
        .await
        .unwrap_or_else(|e| panic!("testkit: cannot start a private nats-server: {e}"))
}

/// Starts a private nats-server with JetStream (as the harness does when none is reachable) and
/// returns its URL. For `tokenbot demo` on a machine without a running server.
pub async fn start_private_nats() -> Result<String, String> {
    start_shared_server().await.map_err(|e| e.to_string())
}

/// A nats-server that lives as long as this test process; it is not a child we keep (statics
/// are never dropped), so [`cleanup_after_exit`] kills it and removes its store afterwards.
async fn start_shared_server() -> Result<String, StartError> {
    let dir = temp_dir("nats")?;
    let port = free_port();
    let mut child = server_command(port, &dir)?
        .spawn()
        .map_err(|source| StartError::Spawn {
            what: "nats-server".to_string(),
            source,
        })?;
    cleanup_after_exit(&format!(
        "kill {} 2>/dev/null; sleep 1; rm -rf {}",
        child.id(),
        shell_quote(&dir.to_string_lossy())
    ));
    let url = format!("nats://127.0.0.1:{port}");
    wait_until_ready(&url, &dir, || child.try_wait().ok().flatten()).await;
    warn(&format!(
        "private nats-server on port {port}, store in {}",
        dir.display()
    ));
    Ok(url)
}

/// `nats-server -js` on 127.0.0.1:`port`, store and log under `dir`.
pub(crate) fn server_command(port: u16, dir: &Path) -> Result<std::process::Command, StartError> {
    let binary = find_binary("nats-server").ok_or(StartError::NotFound {
        binary: "nats-server",
        hint: "install it (Debian package nats-server) or set TEST_NATS_URL",
    })?;
    let mut command = std::process::Command::new(binary);
    command
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("store"))
        .arg("-l")
        .arg(dir.join("nats-server.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(command)
}

/// `host:port` of a NATS URL: first server of a list, without scheme and credentials.
fn address(url: &str) -> String {
    let first = url.split(',').next().unwrap_or_default().trim();
    let without_scheme = first.split_once("://").map_or(first, |(_, rest)| rest);
    let without_user = without_scheme
        .rsplit_once('@')
        .map_or(without_scheme, |(_, host)| host);
    let host_port = without_user.trim_end_matches('/');
    if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    }
}

/// Connects and reads the `INFO {...}` line a NATS server sends first; a bare open port (some
/// other program, or a server still starting) does not count.
async fn read_info(addr: &str) -> Result<String, String> {
    let probe = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(stream.take(64 * 1024))
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        if line.starts_with("INFO") {
            Ok(line)
        } else {
            Err(format!("no INFO line, got {:?}", line.trim_end()))
        }
    };
    tokio::time::timeout(Duration::from_secs(2), probe)
        .await
        .unwrap_or_else(|_| Err("no INFO line within 2 s".to_string()))
}

/// Polls until the server at `url` sends INFO; panics after [`READY_TIMEOUT`] or as soon as the
/// process exits, quoting the server's log.
async fn wait_until_ready(
    url: &str,
    dir: &Path,
    mut exited: impl FnMut() -> Option<std::process::ExitStatus>,
) {
    let addr = address(url);
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let last_error = match read_info(&addr).await {
            Ok(_) => return,
            Err(e) => e,
        };
        let log = || std::fs::read_to_string(dir.join("nats-server.log")).unwrap_or_default();
        if let Some(status) = exited() {
            panic!(
                "testkit: nats-server for {url} exited ({status}) before accepting connections; \
                 its log:\n{}",
                log()
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "testkit: nats-server at {url} did not accept connections within {} s \
                 (last: {last_error}); its log:\n{}",
                READY_TIMEOUT.as_secs(),
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A private nats-server (JetStream) on its own port and store, for tests that stop and restart
/// NATS. Killed, and its store removed, when dropped.
#[derive(Debug)]
pub struct OwnedNats {
    url: String,
    port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl OwnedNats {
    /// Starts a new server on a free port and waits until it accepts connections.
    pub async fn spawn() -> OwnedNats {
        let dir = temp_dir("nats-owned").unwrap_or_else(|e| panic!("testkit: {e}"));
        let port = free_port();
        let mut nats = OwnedNats {
            url: format!("nats://127.0.0.1:{port}"),
            port,
            dir,
            child: None,
        };
        nats.start().await;
        nats
    }

    /// This server's URL (stable across stop and start, so clients reconnect to it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server (SIGKILL, like a crash) and waits until it is gone, so that connecting
    /// is refused as soon as this returns. No-op when stopped.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take()
            && let Err(e) = child.kill().await
        {
            warn(&format!("could not kill nats-server at {}: {e}", self.url));
        }
    }

    /// Starts the server again on the same port with the same store (so JetStream streams and
    /// their messages survive) and waits until it accepts connections. No-op when running.
    pub async fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        let child = server_command(self.port, &self.dir)
            .map(tokio::process::Command::from)
            .and_then(|mut command| {
                command
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|source| StartError::Spawn {
                        what: "nats-server".to_string(),
                        source,
                    })
            })
            .unwrap_or_else(|e| panic!("testkit: cannot start nats-server: {e}"));
        let child = self.child.insert(child);
        wait_until_ready(&self.url, &self.dir, || child.try_wait().ok().flatten()).await;
    }
}

impl Drop for OwnedNats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            kill_and_reap(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SIGKILLs a server and waits briefly until it is gone (kill_on_drop would kill it without
/// waiting), so that its store is not removed under a live server. For `Drop`, hence blocking.
pub(crate) fn kill_and_reap(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
    for _ in 0..200 {
        if !matches!(child.try_wait(), Ok(None)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn address_strips_scheme_credentials_and_lists() {
        assert_eq!(address("nats://127.0.0.1:4222"), "127.0.0.1:4222");
        assert_eq!(address("nats://u:p@host:1234/"), "host:1234");
        assert_eq!(address("tls://a:1,nats://b:2"), "a:1");
        assert_eq!(address("localhost"), "localhost:4222");
    }
}
