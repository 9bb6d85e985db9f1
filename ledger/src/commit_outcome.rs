//! What became of a transaction whose `COMMIT` went unanswered.
//!
//! The batch writer pipelines the write statement, `COMMIT` and `NOTIFY`. When the connection
//! breaks after `COMMIT` may have reached the server (or any answer after it is lost), the
//! client cannot tell a committed batch from a rolled-back one, and running the commands again
//! would apply the unkeyed ones twice. So every batch reads its transaction id
//! (`pg_current_xact_id()`, in a statement that runs after the stream locks are held, see
//! docs/architecture.md) and its backend's pid before anything is written; after such a failure
//! this module asks Postgres, on another connection, what became of that transaction id
//! (`pg_xact_status`):
//!
//! - `committed`: the batch's events are read back by event id; every command is answered from
//!   what was decided.
//! - `aborted`: nothing was written; the commands may safely run again.
//! - `in progress`: the server has not noticed that the connection is gone (a half-open TCP
//!   connection can stay so for as long as keepalives allow). After [`TERMINATE_AFTER`], the
//!   backend is terminated by its pid (only while it still runs that very transaction, so a
//!   reused pid is never hit) and the question is asked again: a terminated backend either
//!   finishes the commit it is in (`committed`) or rolls back (`aborted`).
//! - no answer until the caller's deadline (Postgres unreachable): unknown, and the commands get
//!   [`crate::LedgerError::OutcomeUnknown`].

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::stream::Position;

/// The transaction of one batch, as the server named it.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    /// `pg_current_xact_id()` as text (an `xid8`, which tokio-postgres has no type for).
    pub xid: String,
    /// `pg_backend_pid()` of the connection that ran it.
    pub pid: i32,
}

/// What was learned.
pub(crate) enum Learned {
    /// Committed. Positions of the batch's events by event id, or `None` if the server answered
    /// the status but not the read-back before the deadline.
    Committed {
        positions: Option<HashMap<Uuid, Position>>,
        client: Option<Box<deadpool_postgres::Object>>,
    },
    /// Rolled back: nothing of the batch was written.
    Aborted,
    /// No answer in time.
    Unknown,
}

/// How long a transaction may stay "in progress" after its connection broke before its backend
/// is terminated. A server that saw the connection close has rolled back or committed by then;
/// one that did not may not notice for minutes.
pub(crate) const TERMINATE_AFTER: Duration = Duration::from_secs(1);
/// How long `pg_terminate_backend` waits for the backend to exit (milliseconds, its unit).
const TERMINATE_WAIT_MS: i64 = 2_000;
/// First and longest pause between two questions.
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

enum Status {
    Committed,
    Aborted,
    InProgress,
}

/// Asks until the answer is known or `wait` has passed. `event_ids` are the ids the batch wrote
/// (read back when it committed).
pub(crate) async fn learn(
    pool: &deadpool_postgres::Pool,
    tx: &InFlight,
    event_ids: &[Uuid],
    wait: Duration,
) -> Learned {
    let started = Instant::now();
    let deadline = started + wait;
    let mut pause = crate::backoff::Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    let mut terminated = false;
    let mut committed = false;
    loop {
        match ask(pool, tx).await {
            Ok((Status::Committed, client)) => {
                committed = true;
                match read_positions(&client, event_ids).await {
                    Ok(positions) => {
                        metrics::counter!("tokenbot_ledger_commit_outcomes_learned_total", "outcome" => "committed").increment(1);
                        return Learned::Committed {
                            positions: Some(positions),
                            client: Some(Box::new(client)),
                        };
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "committed; reading its events back failed")
                    }
                }
            }
            Ok((Status::Aborted, _)) => {
                metrics::counter!("tokenbot_ledger_commit_outcomes_learned_total", "outcome" => "aborted")
                    .increment(1);
                return Learned::Aborted;
            }
            Ok((Status::InProgress, client)) => {
                if !terminated && started.elapsed() >= TERMINATE_AFTER {
                    match terminate(&client, tx).await {
                        Ok(found) => {
                            tracing::warn!(pid = tx.pid, xid = %tx.xid, found, "terminated the backend of a batch whose connection was lost");
                            terminated = true;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "terminating the batch's backend failed")
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "asking for a batch's outcome failed"),
        }
        let now = Instant::now();
        if now >= deadline {
            if committed {
                metrics::counter!("tokenbot_ledger_commit_outcomes_learned_total", "outcome" => "committed")
                    .increment(1);
                return Learned::Committed {
                    positions: None,
                    client: None,
                };
            }
            metrics::counter!("tokenbot_ledger_commit_outcomes_learned_total", "outcome" => "unknown")
                .increment(1);
            return Learned::Unknown;
        }
        tokio::time::sleep(pause.next_pause().min(deadline - now)).await;
    }
}

#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    #[error("pg_xact_status answered {0:?}")]
    Unexpected(Option<String>),
}

async fn ask(
    pool: &deadpool_postgres::Pool,
    tx: &InFlight,
) -> Result<(Status, deadpool_postgres::Object), AskError> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT pg_xact_status($1::text::xid8)", &[&tx.xid])
        .await?;
    let status: Option<String> = row.try_get(0)?;
    let status = match status.as_deref() {
        Some("committed") => Status::Committed,
        Some("aborted") => Status::Aborted,
        Some("in progress") => Status::InProgress,
        // NULL: the id is older than the oldest status kept (cannot happen seconds later).
        _ => return Err(AskError::Unexpected(status)),
    };
    Ok((status, client))
}

async fn read_positions(
    client: &deadpool_postgres::Object,
    event_ids: &[Uuid],
) -> Result<HashMap<Uuid, Position>, tokio_postgres::Error> {
    if event_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "SELECT event_id, position FROM ledger.events WHERE event_id = ANY($1)",
            &[&event_ids],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Terminates the backend while it still runs the transaction; false if it no longer does.
async fn terminate(
    client: &deadpool_postgres::Object,
    tx: &InFlight,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT pg_terminate_backend(pid, $3) FROM pg_stat_activity \
             WHERE pid = $1 AND backend_xid = $2::text::xid8::xid",
            &[&tx.pid, &tx.xid, &TERMINATE_WAIT_MS],
        )
        .await?;
    Ok(row.is_some())
}
