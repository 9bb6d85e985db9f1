//! A tokenbot role as a real OS process (`tokenbot relay`, `worker`, `projector`, `bot`), for
//! tests that kill one with SIGKILL and start it again: its own HTTP_ADDR, its output in a log
//! file, killed when dropped.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::http_get::http_get;
use crate::ports::free_port;
use crate::process::{temp_dir, warn};

/// How long a role may take to answer `/health` after it was started (it migrates, connects to
/// Postgres and NATS, and the bot registers its webhook).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two probes of a process that is not up yet: a separate process has no event to
/// await, so we poll, with [`READY_TIMEOUT`] as the deadline.
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// One role process. Its log (stdout and stderr, across restarts) is at [`RoleProcess::log`].
#[derive(Debug)]
pub struct RoleProcess {
    name: String,
    binary: PathBuf,
    role: String,
    env: Vec<(OsString, OsString)>,
    addr: SocketAddr,
    log: PathBuf,
    child: Option<tokio::process::Child>,
}

impl RoleProcess {
    /// Starts `binary role` with `env` (plus HTTP_ADDR on a free port) and waits until `/health`
    /// answers. `name` tells processes of one role apart in logs and messages.
    ///
    /// Panics when the process cannot be started, exits, or does not answer in time; the
    /// message names its log file.
    pub async fn start<K, V>(
        name: &str,
        binary: &Path,
        role: &str,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> RoleProcess
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        Self::start_at(name, binary, role, addr, env).await
    }

    /// As [`RoleProcess::start`] on `addr` (chosen beforehand with [`crate::free_port`], say, so
    /// that a proxy in front of it can be started first).
    pub async fn start_at<K, V>(
        name: &str,
        binary: &Path,
        role: &str,
        addr: SocketAddr,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> RoleProcess
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        // One directory for the logs of every role process of this test process.
        static LOGS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        let dir = LOGS.get_or_init(|| temp_dir("roles").unwrap_or_else(|e| panic!("testkit: {e}")));
        let mut process = RoleProcess {
            name: name.to_string(),
            binary: binary.to_path_buf(),
            role: role.to_string(),
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            addr,
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        process.restart().await;
        process
    }

    /// This process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it serves `/health`, `/metrics` (and the webhook, for a bot).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Whether it runs (started and not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills it (SIGKILL: no shutdown, connections dropped mid-flight) and waits until it is
    /// gone. No-op when it is not running.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take()
            && let Err(e) = child.kill().await
        {
            warn(&format!("could not kill {}: {e}", self.name));
        }
    }

    /// Starts it again (same address, same environment, the log continued) and waits until
    /// `/health` answers. No-op when it runs.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .unwrap_or_else(|e| panic!("testkit: cannot open {}: {e}", self.log.display()));
        let child = tokio::process::Command::new(&self.binary)
            .arg(&self.role)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HTTP_ADDR", self.addr.to_string())
            .stdin(Stdio::null())
            .stdout(log.0)
            .stderr(log.1)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "testkit: cannot start {} ({}): {e}",
                    self.name,
                    self.binary.display()
                )
            });
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// The text of `/metrics` (Prometheus format); an error when it does not answer.
    pub async fn metrics(&self) -> Result<String, String> {
        match http_get(self.addr, "/metrics").await? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("/metrics answered {status}: {body}")),
        }
    }

    /// The value of the metric `name` (without labels) in `/metrics`; None when absent or when
    /// the process does not answer.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = self.metrics().await.ok()?;
        metric_value(&text, name)
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match http_get(self.addr, "/health").await {
                Ok(_) => return,
                Err(e) => e,
            };
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "testkit: {} exited ({status}) before answering /health; log: {}",
                    self.name,
                    self.log.display()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "testkit: {} did not answer /health at {} within {} s ({last}); log: {}",
                    self.name,
                    self.addr,
                    READY_TIMEOUT.as_secs(),
                    self.log.display()
                );
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

/// The value of an unlabelled sample `name` in Prometheus text.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::metric_value;

    #[test]
    fn reads_an_unlabelled_sample() {
        let text = "# TYPE tokenbot_relay_leader gauge\ntokenbot_relay_leader 1\n\
                    tokenbot_relay_published_total 42\nother{a=\"b\"} 3\n";
        assert_eq!(metric_value(text, "tokenbot_relay_leader"), Some(1.0));
        assert_eq!(
            metric_value(text, "tokenbot_relay_published_total"),
            Some(42.0)
        );
        assert_eq!(metric_value(text, "tokenbot_relay"), None);
    }
}
