//! NATS for tests: the shared local server with a unique name prefix per test, or a private
//! server that a test may stop and start.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::ports::free_port;
use crate::process::find_binary;

const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

static SHARED_URL: OnceLock<String> = OnceLock::new();

fn host_port(url: &str) -> String {
    url.trim_start_matches("nats://")
        .trim_end_matches('/')
        .to_string()
}

/// True when a NATS server answers with its INFO line.
pub async fn answers(url: &str) -> bool {
    let addr = host_port(url);
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.ok()?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"INFO")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

async fn wait_until_answers(url: &str) {
    // Bounded: 200 probes of at most 50 ms each.
    for _ in 0..200 {
        if answers(url).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("testkit: nats-server at {url} did not come up within 10 s");
}

fn spawn_server(port: u16, store: &std::path::Path) -> Child {
    let binary = find_binary("nats-server").unwrap_or_else(|| {
        panic!("testkit: nats-server not found; install it (Debian package nats-server)")
    });
    Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("testkit: cannot start nats-server: {e}"))
}

/// The shared NATS server and a prefix that is this test's alone.
pub struct TestNats {
    url: String,
    prefix: String,
}

impl TestNats {
    pub async fn start() -> TestNats {
        let url = match SHARED_URL.get() {
            Some(u) => u.clone(),
            None => {
                let configured =
                    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_string());
                let url = if answers(&configured).await {
                    configured
                } else {
                    eprintln!(
                        "testkit: nothing answers at {configured}; starting a private nats-server"
                    );
                    let port = free_port();
                    let dir = std::env::temp_dir()
                        .join(format!("tokenbot-testkit-nats-{}", std::process::id()));
                    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("testkit: {e}"));
                    // Leaked on purpose: the shared server lives as long as the test process.
                    std::mem::forget(spawn_server(port, &dir));
                    let url = format!("nats://127.0.0.1:{port}");
                    wait_until_answers(&url).await;
                    url
                };
                SHARED_URL.get_or_init(|| url).clone()
            }
        };
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        TestNats { url, prefix }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Unique per test: use it in stream, consumer and subject names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// A private nats-server on its own port and store, for tests that stop and restart it.
pub struct OwnedNats {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl OwnedNats {
    pub async fn spawn() -> OwnedNats {
        let port = free_port();
        let store = std::env::temp_dir().join(format!(
            "tokenbot-testkit-nats-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&store).unwrap_or_else(|e| panic!("testkit: {e}"));
        let mut me = OwnedNats {
            port,
            store,
            child: None,
        };
        me.start().await;
        me
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Starts again on the same port and store.
    pub async fn start(&mut self) {
        if self.child.is_none() {
            self.child = Some(spawn_server(self.port, &self.store));
            wait_until_answers(&self.url()).await;
        }
    }
}

impl Drop for OwnedNats {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
