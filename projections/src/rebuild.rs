//! Rebuilding a projection from the log into shadow tables, then swapping them in; and comparing
//! the live tables with a fresh replay (`projections diff`, for auditors).
//!
//! Neither holds a transaction id while it replays. Readers of the global order (relay, sealer,
//! projector, and so the worker's intake) wait for every transaction that has one, anywhere on
//! the server; a replay of a long log takes seconds. So both replay first, without any lock,
//! then take the projection's advisory lock (which a projector's batch takes before it writes,
//! so waiting for it assigns no id either), catch up the little that happened meanwhile, and
//! only then compare or swap.

use std::collections::HashMap;
use std::time::Instant;

use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use tokenbot_ledger::migrations::MIGRATION_LOCK_KEY;
use tokenbot_ledger::{Database, LogCursor};

use crate::error::ProjectionError;
use crate::runtime::{
    BACKGROUND_BATCH, LIVE_SCHEMA, Projection, catch_up_batched as catch_up_in, checkpoints,
    lock_keys,
};

/// Where `diff` replays: the temporary schema of its own session, so a role that may only read
/// (an auditor's) can run it, and nothing is left behind if it dies.
const DIFF_SCHEMA: &str = "pg_temp";

/// Empty copies of the live tables of `projections`, and a checkpoints table, in `shadow`.
fn shadow_ddl(shadow: &str, projections: &[Projection], temporary: bool) -> String {
    let create = if temporary {
        "CREATE TEMP TABLE"
    } else {
        "CREATE TABLE"
    };
    let mut ddl =
        format!("{create} {shadow}.checkpoints (LIKE {LIVE_SCHEMA}.checkpoints INCLUDING ALL);");
    for table in projections.iter().flat_map(|p| p.tables()) {
        ddl.push_str(&format!(
            "{create} {shadow}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL);"
        ));
    }
    ddl
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// The projections rebuilt.
    pub projections: Vec<&'static str>,
    /// Events replayed.
    pub events: u64,
    /// How long it took.
    pub seconds: f64,
}

/// Replays the whole log once into shadow tables for all of `projections`, then swaps them in.
/// Runs as the owner of the projection tables (the swap drops and moves tables) and sets the
/// runtime roles' rights on the new tables in the same transaction.
pub async fn rebuild(
    pool: &Pool,
    projections: &[Projection],
    mut progress: impl FnMut(u64),
) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let mut projections = projections.to_vec();
    projections.sort();
    projections.dedup();
    let shadow = "projections_rebuild";
    pool.get()
        .await?
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {shadow} CASCADE; CREATE SCHEMA {shadow}; {}",
            shadow_ddl(shadow, &projections, false)
        ))
        .await?;
    // Everything visible now, without a lock: the long part.
    let mut events = 0u64;
    let replayed = catch_up_in(
        pool,
        shadow,
        &projections,
        LogCursor::START,
        None,
        BACKGROUND_BATCH,
        |n| {
            events = n;
            progress(n)
        },
    )
    .await?;

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // The projector's batches wait from here on; none is half-way (each takes the lock first).
    tx.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k",
        &[&lock_keys(LIVE_SCHEMA, &projections)],
    )
    .await?;
    // What was committed during the replay: little.
    let first = events;
    let cursor = catch_up_in(
        pool,
        shadow,
        &projections,
        replayed,
        None,
        BACKGROUND_BATCH,
        |n| {
            events = first + n;
            progress(first + n)
        },
    )
    .await?;
    // Rights are set under the migration lock (two concurrent GRANTs on a table conflict).
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    swap_in(&tx, shadow, &projections, cursor).await?;
    tokenbot_ledger::roles::apply_grants(&*tx).await?;
    tx.commit().await?;
    Ok(RebuildReport {
        projections: projections.iter().map(|p| p.name()).collect(),
        events,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Replaces the live tables of `projections` by the shadow schema's, sets their checkpoints to
/// `cursor` (with the shadow's event counts) and drops the shadow schema, in `tx`.
async fn swap_in(
    tx: &impl GenericClient,
    shadow: &str,
    projections: &[Projection],
    cursor: LogCursor,
) -> Result<(), ProjectionError> {
    let mut swap = String::new();
    for table in projections.iter().flat_map(|p| p.tables()) {
        swap.push_str(&format!(
            "DROP TABLE {LIVE_SCHEMA}.{table}; ALTER TABLE {shadow}.{table} SET SCHEMA {LIVE_SCHEMA};"
        ));
    }
    tx.batch_execute(&swap).await?;
    let shadow_events = applied_counts(tx, shadow).await?;
    for p in projections {
        tx.execute(
            &format!(
                "INSERT INTO {LIVE_SCHEMA}.checkpoints (name, tx_id, position, events) \
                 VALUES ($1, $2::text::xid8, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, \
                   events = EXCLUDED.events, updated_at = clock_timestamp()"
            ),
            &[
                &p.name(),
                &cursor.tx_id.to_string(),
                &cursor.position,
                &shadow_events.get(p.name()).copied().unwrap_or(0),
            ],
        )
        .await?;
    }
    tx.batch_execute(&format!("DROP SCHEMA {shadow} CASCADE"))
        .await?;
    Ok(())
}

/// Events applied per projection, from a checkpoints table.
async fn applied_counts(
    client: &impl deadpool_postgres::GenericClient,
    schema: &str,
) -> Result<HashMap<String, i64>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT name, events FROM {schema}.checkpoints"),
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A row that differs between the live read model and a fresh replay.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Difference {
    /// Which projection.
    pub projection: &'static str,
    /// Which of its tables.
    pub table: &'static str,
    /// "live only" or "replay only" (a changed row shows up once on each side).
    pub side: &'static str,
    /// The row, as JSON.
    pub row: serde_json::Value,
}

/// What `projections diff` found for one projection.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// Which projection.
    pub projection: &'static str,
    /// The point in the global order both sides were compared at.
    pub checkpoint: String,
    /// Rows that differ (bounded per table and side).
    pub differences: Vec<Difference>,
}

/// Most rows reported per table and side.
const DIFF_ROWS_SHOWN: i64 = 50;

/// Replays the log into temporary tables up to where the live projection is, then compares the
/// live tables with them. Needs only the right to read (and `TEMPORARY`, which every role has
/// by default). The live projector pauses only for the final catch-up and the comparison.
/// `progress` is told how many events have been replayed.
pub async fn diff(
    db: &Database,
    projection: Projection,
    mut progress: impl FnMut(u64),
) -> Result<DiffReport, ProjectionError> {
    // One connection of its own: the temporary tables and the session lock live in it, and both
    // go when it closes (dropping the pool), even if this returns early with an error.
    let own = Database::from_config(db.config().clone(), 1)
        .map_err(|e| ProjectionError::Setup(e.to_string()))?;
    let pool = own.pool();
    let live_checkpoint = || async {
        let client = pool.get().await?;
        let all = checkpoints(&client, LIVE_SCHEMA).await?;
        Ok::<_, ProjectionError>(all.get(&projection).copied().unwrap_or(LogCursor::START))
    };
    pool.get()
        .await?
        .batch_execute(&shadow_ddl(DIFF_SCHEMA, &[projection], true))
        .await?;
    let mut events = 0u64;
    let before = live_checkpoint().await?;
    let replayed = catch_up_in(
        pool,
        DIFF_SCHEMA,
        &[projection],
        LogCursor::START,
        Some(before),
        BACKGROUND_BATCH,
        |n| {
            events = n;
            progress(n)
        },
    )
    .await?;
    let key = lock_keys(LIVE_SCHEMA, &[projection]);
    pool.get()
        .await?
        .execute(
            "SELECT pg_advisory_lock(k) FROM unnest($1::int8[]) AS k",
            &[&key],
        )
        .await?;
    let live = live_checkpoint().await?;
    if live < replayed {
        return Err(ProjectionError::Moved {
            projection: projection.name(),
        });
    }
    let first = events;
    catch_up_in(
        pool,
        DIFF_SCHEMA,
        &[projection],
        replayed,
        Some(live),
        BACKGROUND_BATCH,
        |n| progress(first + n),
    )
    .await?;
    let client = pool.get().await?;
    let differences = compare(&client, projection).await?;
    client
        .execute(
            "SELECT pg_advisory_unlock(k) FROM unnest($1::int8[]) AS k",
            &[&key],
        )
        .await?;
    Ok(DiffReport {
        projection: projection.name(),
        checkpoint: live.to_string(),
        differences,
    })
}

/// The rows of `projection` that differ between the live tables and the diff schema's replay,
/// at most [`DIFF_ROWS_SHOWN`] per table and side.
async fn compare(
    client: &impl GenericClient,
    projection: Projection,
) -> Result<Vec<Difference>, ProjectionError> {
    let mut differences = Vec::new();
    for table in projection.tables() {
        for (side, a, b) in [
            ("live only", LIVE_SCHEMA, DIFF_SCHEMA),
            ("replay only", DIFF_SCHEMA, LIVE_SCHEMA),
        ] {
            let rows = client
                .query(
                    &format!("SELECT to_jsonb(d) FROM (SELECT * FROM {a}.{table} EXCEPT SELECT * FROM {b}.{table}) d LIMIT {DIFF_ROWS_SHOWN}"),
                    &[],
                )
                .await?;
            for r in rows {
                differences.push(Difference {
                    projection: projection.name(),
                    table,
                    side,
                    row: r.try_get(0)?,
                });
            }
        }
    }
    Ok(differences)
}

/// A projection's progress, for `projections status`.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectionStatus {
    /// Which projection.
    pub projection: &'static str,
    /// Where it has got to in the global order (`0:0`: never ran).
    pub checkpoint: String,
    /// The transaction id of the checkpoint.
    pub tx_id: u64,
    /// The position of the checkpoint.
    pub position: i64,
    /// Events applied to it.
    pub events: i64,
    /// When it last moved.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Checkpoints of all projections, for `projections status`.
pub async fn status(pool: &Pool) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("SELECT name, tx_id::text, position, events, updated_at FROM {LIVE_SCHEMA}.checkpoints"),
            &[],
        )
        .await?;
    let mut found = HashMap::new();
    for r in rows {
        let name: String = r.try_get(0)?;
        found.insert(name, r);
    }
    Projection::ALL
        .iter()
        .map(|p| {
            let Some(r) = found.get(p.name()) else {
                return Ok(ProjectionStatus {
                    projection: p.name(),
                    checkpoint: LogCursor::START.to_string(),
                    tx_id: 0,
                    position: 0,
                    events: 0,
                    updated_at: None,
                });
            };
            let cursor = LogCursor::from_db(&r.try_get::<_, String>(1)?, r.try_get(2)?)?;
            Ok(ProjectionStatus {
                projection: p.name(),
                checkpoint: cursor.to_string(),
                tx_id: cursor.tx_id,
                position: cursor.position,
                events: r.try_get(3)?,
                updated_at: Some(r.try_get(4)?),
            })
        })
        .collect()
}
