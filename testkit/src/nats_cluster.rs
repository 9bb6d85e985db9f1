//! A NATS cluster on loopback: several nats-server processes with routes to each other and
//! JetStream (each its own store), for tests that lose a node and bring it back.
//!
//! Readiness is what JetStream says, not a pause: a node counts as up once its monitoring port
//! answers `/healthz` with 200 (in 2.9 that includes its streams and consumers being current)
//! and `/jsz` names a meta leader (a fresh cluster answers `/healthz` before it elected one).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::http_get::http_get;
use crate::nats::server_command;
use crate::ports::free_port;
use crate::process::{StartError, temp_dir, warn};

/// How long a node may take to be up (elections take a few seconds after a restart).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two probes of a node that is not up yet: there is no event to await across
/// processes, so we poll, with [`READY_TIMEOUT`] as the deadline.
const PROBE_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Node {
    name: String,
    client_port: u16,
    cluster_port: u16,
    monitor_port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

/// N nats-server processes named n1..nN in one cluster; killed, and their stores removed, when
/// dropped.
#[derive(Debug)]
pub struct NatsCluster {
    name: String,
    nodes: Vec<Node>,
    dir: PathBuf,
}

impl NatsCluster {
    /// Starts `size` nodes on free ports and waits until JetStream has a meta leader.
    ///
    /// Panics with the reason (and the node's log) when a node cannot start.
    pub async fn start(size: usize) -> NatsCluster {
        let dir = temp_dir("nats-cluster").unwrap_or_else(|e| panic!("testkit: {e}"));
        let nodes = (1..=size)
            .map(|i| Node {
                name: format!("n{i}"),
                client_port: free_port(),
                cluster_port: free_port(),
                monitor_port: free_port(),
                dir: dir.join(format!("n{i}")),
                child: None,
            })
            .collect();
        let mut cluster = NatsCluster {
            name: format!("tc{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            nodes,
            dir,
        };
        for i in 0..size {
            cluster.spawn(i);
        }
        for i in 0..size {
            cluster.wait_ready(i).await;
        }
        cluster
    }

    /// Every node's client URL, comma-separated (NATS_URL of a process using the cluster).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many nodes the cluster has (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s name (`n1`...).
    pub fn node_name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Kills node `i` (SIGKILL, like a crash) and waits until it is gone. No-op when stopped.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take()
            && let Err(e) = child.kill().await
        {
            warn(&format!(
                "could not kill nats-server {}: {e}",
                self.nodes[i].name
            ));
        }
    }

    /// Starts node `i` again on the same ports with the same store, and waits until it is up
    /// and the cluster has a meta leader. No-op when running.
    pub async fn restart(&mut self, i: usize) {
        if self.nodes[i].child.is_none() {
            self.spawn(i);
        }
        self.wait_ready(i).await;
    }

    /// Waits until every running node is up (see the module's doc).
    pub async fn wait_healthy(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                self.wait_ready(i).await;
            }
        }
    }

    fn spawn(&mut self, i: usize) {
        let routes = self
            .nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &mut self.nodes[i];
        let child = std::fs::create_dir_all(&node.dir)
            .map_err(|source| StartError::Io {
                what: format!("cannot create {}", node.dir.display()),
                source,
            })
            .and_then(|()| server_command(node.client_port, &node.dir))
            .map(|mut command| {
                command
                    .args(["--server_name", &node.name, "--cluster_name", &self.name])
                    .args(["-m", &node.monitor_port.to_string()])
                    .arg("--cluster")
                    .arg(format!("nats://127.0.0.1:{}", node.cluster_port))
                    .args(["--routes", &routes]);
                tokio::process::Command::from(command)
            })
            .and_then(|mut command| {
                command
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|source| StartError::Spawn {
                        what: format!("nats-server {}", node.name),
                        source,
                    })
            })
            .unwrap_or_else(|e| panic!("testkit: cannot start the NATS cluster: {e}"));
        node.child = Some(child);
    }

    /// Polls node `i` until it is up; panics after [`READY_TIMEOUT`] or when it exits.
    async fn wait_ready(&mut self, i: usize) {
        let monitor = SocketAddr::from((Ipv4Addr::LOCALHOST, self.nodes[i].monitor_port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match node_state(monitor).await {
                Ok(()) => return,
                Err(e) => e,
            };
            let node = &mut self.nodes[i];
            let log =
                || std::fs::read_to_string(node.dir.join("nats-server.log")).unwrap_or_default();
            if let Some(status) = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "testkit: nats-server {} exited ({status}); its log:\n{}",
                    node.name,
                    log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "testkit: nats-server {} not up within {} s ({last}); its log:\n{}",
                    node.name,
                    READY_TIMEOUT.as_secs(),
                    log()
                );
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

/// Ok when the node's `/healthz` is 200 and its `/jsz` names a meta leader.
async fn node_state(monitor: SocketAddr) -> Result<(), String> {
    let (status, body) = http_get(monitor, "/healthz").await?;
    if status != 200 {
        return Err(format!("/healthz {status}: {}", body.trim()));
    }
    let (_, jsz) = http_get(monitor, "/jsz").await?;
    if has_meta_leader(&jsz) {
        Ok(())
    } else {
        Err("no JetStream meta leader yet".to_string())
    }
}

/// Whether `/jsz`'s `meta_cluster` names a leader (`"leader": "n2"`, absent or empty while
/// electing). Read as text: the harness has no JSON parser, and the field is flat.
fn has_meta_leader(jsz: &str) -> bool {
    let Some(meta) = jsz.split_once("\"meta_cluster\"").map(|(_, rest)| rest) else {
        return false;
    };
    let meta = meta.split('}').next().unwrap_or_default();
    meta.split_once("\"leader\"")
        .and_then(|(_, rest)| rest.split('"').nth(1))
        .is_some_and(|leader| !leader.is_empty())
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.child.as_mut() {
                crate::nats::kill_and_reap(child);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::has_meta_leader;

    #[test]
    fn reads_the_meta_leader() {
        let electing = r#"{"meta_cluster": {"name": "c", "cluster_size": 3}, "x": 1}"#;
        let elected = r#"{"meta_cluster": {"name": "c", "leader": "n3", "peer": "p"}}"#;
        let empty = r#"{"meta_cluster": {"name": "c", "leader": ""}}"#;
        assert!(!has_meta_leader(electing));
        assert!(has_meta_leader(elected));
        assert!(!has_meta_leader(empty));
        assert!(!has_meta_leader("{}"));
    }
}
