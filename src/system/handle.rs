//! The running system: its roles on one shutdown signal. Whichever role stops first (an error,
//! or the signal) stops the others; then every role finishes what it holds.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Database, Ledger, LogCursor};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::roles::Prepared;

/// What [`super::SystemBuilder::start`] returns.
pub struct SystemHandle {
    ledger: Ledger,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
    relayed: watch::Receiver<LogCursor>,
    projected: watch::Receiver<LogCursor>,
    http_addr: Option<SocketAddr>,
    roles: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl SystemHandle {
    pub(super) fn spawn(prepared: Prepared) -> Self {
        let mut roles = JoinSet::new();
        for (name, role) in prepared.roles {
            roles.spawn(async move { (name, role.await) });
        }
        Self {
            ledger: prepared.ledger,
            js: prepared.js,
            shutdown: prepared.shutdown,
            relayed: prepared.relayed,
            projected: prepared.projected,
            http_addr: prepared.http_addr,
            roles,
        }
    }

    /// The ledger every role runs on.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The JetStream connection every role uses.
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    /// The signal every role stops on.
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The relay's checkpoint: the last event JetStream acknowledged.
    pub fn relayed(&self) -> watch::Receiver<LogCursor> {
        self.relayed.clone()
    }

    /// The cursor every projection has reached.
    pub fn projected(&self) -> watch::Receiver<LogCursor> {
        self.projected.clone()
    }

    /// Where the HTTP server listens, when one runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Asks every role to stop taking work; [`Self::join`] waits for them.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until a role stops (an error, or the shutdown signal), stops the others and waits
    /// for them to finish what they hold. The first error, naming its role, is returned.
    pub async fn join(mut self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        while let Some(done) = self.roles.join_next().await {
            self.shutdown.cancel();
            let failure = match done {
                Ok((_, Ok(()))) => continue,
                Ok((name, Err(e))) => e.context(format!("the {name} stopped")),
                Err(e) => anyhow::anyhow!("a role panicked: {e}"),
            };
            if outcome.is_ok() {
                outcome = Err(failure);
            }
        }
        outcome
    }

    /// Shuts down and joins.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown();
        self.join().await
    }

    /// Waits (at most `timeout`) until the projector has applied everything committed so far.
    pub async fn wait_projected(&self, timeout: Duration) -> anyhow::Result<()> {
        let Some(target) = last_committed(self.ledger.store().database()).await? else {
            return Ok(());
        };
        let mut projected = self.projected();
        tokio::time::timeout(timeout, projected.wait_for(|c| *c >= target))
            .await
            .context("the projector did not catch up in time")?
            .context("the projector stopped")?;
        Ok(())
    }
}

/// The newest committed event's place in the global order.
pub async fn last_committed(db: &Database) -> anyhow::Result<Option<LogCursor>> {
    let client = db.pool().get().await?;
    let row = client
        .query_opt(
            "SELECT tx_id::text, position FROM ledger.events ORDER BY tx_id DESC, position DESC LIMIT 1",
            &[],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(LogCursor {
        tx_id: row.try_get::<_, String>(0)?.parse()?,
        position: row.try_get(1)?,
    }))
}

impl Drop for SystemHandle {
    /// A handle dropped without `join` still stops its roles (a test that ends, a failed run).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
