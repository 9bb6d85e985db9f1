//! Rebuilding a projection from the log into shadow tables, then swapping them in; and comparing
//! the live tables with a fresh replay (`projections diff`, for auditors).

use std::time::Instant;

use deadpool_postgres::Pool;
use serde::Serialize;
use tokenbot_ledger::LogCursor;

use crate::error::ProjectionError;
use crate::runtime::{LIVE_SCHEMA, Projection, catch_up, checkpoints};

async fn prepare_shadow(
    pool: &Pool,
    shadow: &str,
    projections: &[Projection],
) -> Result<(), ProjectionError> {
    let client = pool.get().await?;
    let mut ddl = format!(
        "DROP SCHEMA IF EXISTS {shadow} CASCADE; CREATE SCHEMA {shadow}; \
         CREATE TABLE {shadow}.checkpoints (LIKE {LIVE_SCHEMA}.checkpoints INCLUDING ALL);"
    );
    for table in projections.iter().flat_map(|p| p.tables()) {
        ddl.push_str(&format!(
            "CREATE TABLE {shadow}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL);"
        ));
    }
    client.batch_execute(&ddl).await?;
    Ok(())
}

async fn drop_shadow(pool: &Pool, shadow: &str) -> Result<(), ProjectionError> {
    let client = pool.get().await?;
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {shadow} CASCADE"))
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub projections: Vec<&'static str>,
    pub events: u64,
    pub seconds: f64,
}

/// Replays the whole log once into shadow tables for all of `projections`, then swaps them in
/// while holding their checkpoint locks (a live projector waits meanwhile, then continues from
/// the rebuilt checkpoint).
pub async fn rebuild(
    pool: &Pool,
    projections: &[Projection],
    progress: impl FnMut(u64),
) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let mut projections = projections.to_vec();
    projections.sort();
    projections.dedup();
    let shadow = "projections_rebuild";
    prepare_shadow(pool, shadow, &projections).await?;
    let mut events = 0;
    let mut counting = progress;
    let cursor = catch_up(pool, shadow, &projections, LogCursor::START, None, |n| {
        events = n;
        counting(n)
    })
    .await?;

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    for p in &projections {
        tx.execute(
            &format!("INSERT INTO {LIVE_SCHEMA}.checkpoints (name, tx_id, position) VALUES ($1, '0'::xid8, 0) ON CONFLICT (name) DO NOTHING"),
            &[&p.name()],
        )
        .await?;
        // Sorted order, like every other taker of these locks.
        tx.execute(
            &format!("SELECT 1 FROM {LIVE_SCHEMA}.checkpoints WHERE name = $1 FOR UPDATE"),
            &[&p.name()],
        )
        .await?;
    }
    let mut swap = String::new();
    for table in projections.iter().flat_map(|p| p.tables()) {
        swap.push_str(&format!("DROP TABLE {LIVE_SCHEMA}.{table}; ALTER TABLE {shadow}.{table} SET SCHEMA {LIVE_SCHEMA};"));
    }
    tx.batch_execute(&swap).await?;
    for p in &projections {
        tx.execute(
            &format!(
                "UPDATE {LIVE_SCHEMA}.checkpoints SET tx_id = $2::text::xid8, position = $3, events = $4, updated_at = clock_timestamp() WHERE name = $1"
            ),
            &[&p.name(), &cursor.tx_id.to_string(), &cursor.position, &(events as i64)],
        )
        .await?;
    }
    tx.batch_execute(&format!("DROP SCHEMA {shadow} CASCADE"))
        .await?;
    tx.commit().await?;
    Ok(RebuildReport {
        projections: projections.iter().map(|p| p.name()).collect(),
        events,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A row that differs between the live read model and a fresh replay.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Difference {
    pub projection: &'static str,
    pub table: &'static str,
    /// "live only" or "replay only" (a changed row shows up once on each side).
    pub side: &'static str,
    pub row: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub projection: &'static str,
    /// The point in the global order both sides were compared at.
    pub checkpoint: String,
    pub differences: Vec<Difference>,
}

/// Most rows reported per table and side.
const DIFF_ROWS_SHOWN: i64 = 50;

/// Replays the log into a scratch schema up to the live checkpoint and compares, while holding
/// the checkpoint so the live projector cannot move during the comparison.
pub async fn diff(pool: &Pool, projection: Projection) -> Result<DiffReport, ProjectionError> {
    let shadow = format!("projections_diff_{}", projection.name());
    prepare_shadow(pool, &shadow, &[projection]).await?;
    let mut holder = pool.get().await?;
    let hold = holder.transaction().await?;
    // FOR SHARE: the projector's FOR UPDATE waits until the comparison is done.
    let row = hold
        .query_opt(
            &format!("SELECT tx_id::text, position FROM {LIVE_SCHEMA}.checkpoints WHERE name = $1 FOR SHARE"),
            &[&projection.name()],
        )
        .await?;
    let live = match row {
        None => LogCursor::START,
        Some(r) => LogCursor {
            tx_id: r.try_get::<_, String>(0)?.parse().unwrap_or(0),
            position: r.try_get(1)?,
        },
    };
    if live != LogCursor::START {
        catch_up(
            pool,
            &shadow,
            &[projection],
            LogCursor::START,
            Some(live),
            |_| {},
        )
        .await?;
    }
    let mut differences = Vec::new();
    for table in projection.tables() {
        for (side, a, b) in [
            ("live only", LIVE_SCHEMA, shadow.as_str()),
            ("replay only", shadow.as_str(), LIVE_SCHEMA),
        ] {
            let rows = hold
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
    hold.commit().await?;
    drop(holder);
    drop_shadow(pool, &shadow).await?;
    Ok(DiffReport {
        projection: projection.name(),
        checkpoint: live.to_string(),
        differences,
    })
}

/// Checkpoints of all projections, for `projections status`.
pub async fn status(pool: &Pool) -> Result<Vec<(&'static str, String)>, ProjectionError> {
    let client = pool.get().await?;
    let all = checkpoints(&client, LIVE_SCHEMA).await?;
    Ok(Projection::ALL
        .iter()
        .map(|p| {
            (
                p.name(),
                all.get(p).copied().unwrap_or_default().to_string(),
            )
        })
        .collect())
}
