//! A private Postgres primary with a hot standby streaming from it, for the tests of reads off
//! the primary. The primary allows replication from 127.0.0.1 (trust, in its own `pg_hba.conf`);
//! the standby is a `pg_basebackup -R` of it on another port. A test can pause the standby's
//! replay to hold it at a known point (stale reads it can see), then resume it. Both servers are
//! stopped and their directories removed after the test process exits.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::postgres::{args, find_tools, path_arg, start_server, start_server_with};
use crate::process::{
    StartError, cleanup_after_exit, find_binary, is_root, postgres_tool, postgres_tool_line, run,
    shell_quote, temp_dir,
};

/// Who may connect, and replicate: everyone local, without a password.
const HBA: &str = "local all all trust\n\
                   host all all 127.0.0.1/32 trust\n\
                   local replication all trust\n\
                   host replication all 127.0.0.1/32 trust\n";

/// A primary and its hot standby.
pub struct PgReplica {
    primary: u16,
    standby: u16,
}

impl PgReplica {
    /// Starts both. Panics when they cannot be started (a broken test machine), with the reason.
    pub async fn start() -> PgReplica {
        match tokio::task::spawn_blocking(start).await {
            Ok(Ok(replica)) => replica,
            Ok(Err(e)) => panic!("testkit: cannot start a Postgres primary and standby: {e}"),
            Err(e) => panic!("testkit: starting a Postgres primary and standby panicked: {e}"),
        }
    }

    /// Database `db` on the primary, as `user`.
    pub fn primary_url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.primary)
    }

    /// Database `db` on the standby (read-only), as `user`.
    pub fn standby_url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.standby)
    }

    /// Stops applying WAL on the standby: from the next record on, it serves the data as of now
    /// until [`Self::resume_replay`] (it still receives WAL meanwhile).
    pub async fn pause_replay(&self) {
        self.on_standby("SELECT pg_wal_replay_pause()").await;
    }

    /// Applies WAL on the standby again.
    pub async fn resume_replay(&self) {
        self.on_standby("SELECT pg_wal_replay_resume()").await;
    }

    /// Waits until the standby has replayed everything the primary wrote so far. Polled: Postgres
    /// tells no client when replay advances. Panics after `timeout`.
    pub async fn replayed(&self, timeout: Duration) {
        let primary = connect(&self.primary_url("postgres", "postgres")).await;
        let lsn: String = primary
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .unwrap_or_else(|e| panic!("testkit: primary WAL position: {e}"))
            .get(0);
        let standby = connect(&self.standby_url("postgres", "postgres")).await;
        let deadline = Instant::now() + timeout;
        loop {
            let done: bool = standby
                .query_one(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                    &[&lsn],
                )
                .await
                .unwrap_or_else(|e| panic!("testkit: standby replay position: {e}"))
                .get(0);
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "testkit: the standby did not replay up to {lsn} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn on_standby(&self, sql: &str) {
        connect(&self.standby_url("postgres", "postgres"))
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("testkit: {sql} on the standby: {e}"));
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("testkit: cannot connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

fn start() -> Result<PgReplica, StartError> {
    let hba_option = |dir: &Path| {
        format!(
            "-c hba_file={}",
            shell_quote(&path_arg(&dir.join("pg_hba.conf")))
        )
    };
    let (primary, primary_dir) = start_server_with("pg-primary", |dir| {
        std::fs::write(dir.join("pg_hba.conf"), HBA).map_err(|source| StartError::Io {
            what: format!("cannot write {}", dir.join("pg_hba.conf").display()),
            source,
        })?;
        Ok(format!(
            "-c wal_level=replica -c max_wal_senders=4 {}",
            hba_option(dir)
        ))
    })?;
    let (_, pg_ctl) = find_tools()?;
    let basebackup = pg_ctl
        .parent()
        .map(|bin| bin.join("pg_basebackup"))
        .filter(|candidate| candidate.is_file())
        .or_else(|| find_binary("pg_basebackup"))
        .ok_or(StartError::NotFound {
            binary: "pg_basebackup",
            hint: "install Postgres (Debian package postgresql)",
        })?;
    let dir = temp_dir("pg-standby")?;
    if is_root() {
        let mut chown = std::process::Command::new("chown");
        chown.args(["-R", "postgres:postgres"]).arg(&dir);
        run("chown of the standby's temp dir to postgres", chown)?;
    }
    let data = path_arg(&dir.join("data"));
    let stop = postgres_tool_line(&pg_ctl, &args(&["-D", &data, "-m", "immediate", "stop"]));
    cleanup_after_exit(&format!(
        "{stop} >/dev/null 2>&1; rm -rf {}",
        shell_quote(&path_arg(&dir))
    ));
    // -R writes standby.signal and primary_conninfo; -X stream brings the WAL the copy needs.
    let port = primary.to_string();
    run(
        "pg_basebackup",
        postgres_tool(
            &basebackup,
            &args(&[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ]),
        ),
    )?;
    let standby = start_server(&pg_ctl, &dir, &hba_option(&primary_dir))?;
    Ok(PgReplica { primary, standby })
}
