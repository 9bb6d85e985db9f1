//! Applying the log to read models: in global order, in batches, each projection's checkpoint
//! written in the same transaction as its rows, so an event is applied exactly once even when the
//! process dies between two statements, and a redelivered event is recognised and skipped.

use std::collections::{BTreeSet, HashMap};

use deadpool_postgres::{GenericClient, Pool};
use tokenbot_ledger::global_order::read_log;
use tokenbot_ledger::{LogCursor, RawEvent, RecordedEvent, StreamId};

use crate::error::ProjectionError;
use crate::{purchases, tasks, users};

/// The schema the live read models live in.
pub const LIVE_SCHEMA: &str = "projections";

/// Events read from Postgres per catch-up batch.
pub const CATCH_UP_BATCH: i64 = 10_000;

/// Events per batch of a replay that runs beside the live system (rebuild, diff): each batch's
/// write holds a transaction id, and with it every reader of the global order, for as long as
/// it takes, so these stay small.
pub const BACKGROUND_BATCH: i64 = 2_000;

/// A read model with its own tables and checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    /// The `projections.users` read model.
    Users,
    /// The `projections.tasks` read model.
    Tasks,
    /// The `projections.purchases` read model.
    Purchases,
}

impl Projection {
    /// Every projection, in the order they are applied.
    pub const ALL: [Projection; 3] = [Projection::Users, Projection::Tasks, Projection::Purchases];

    /// Its name, as operators type it (`users`, `tasks`).
    pub fn name(self) -> &'static str {
        match self {
            Projection::Users => "users",
            Projection::Tasks => "tasks",
            Projection::Purchases => "purchases",
        }
    }

    /// The projection named `name`.
    pub fn parse(name: &str) -> Result<Self, ProjectionError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection(name.to_string()))
    }

    /// Its tables (in its schema).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Projection::Users => &["users"],
            Projection::Tasks => &["tasks"],
            Projection::Purchases => &["purchases"],
        }
    }

    /// The stream category it reads.
    fn category(self) -> &'static str {
        match self {
            Projection::Users => StreamId::ACCOUNT,
            Projection::Tasks => StreamId::TASK,
            Projection::Purchases => StreamId::PURCHASE,
        }
    }

    async fn apply(
        self,
        client: &impl GenericClient,
        schema: &str,
        events: &[&RecordedEvent],
    ) -> Result<(), ProjectionError> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            Projection::Users => {
                let ids: Vec<i64> = events
                    .iter()
                    .filter_map(|e| users::key(e))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut rows = users::load(client, schema, &ids).await?;
                for e in events {
                    users::apply(&mut rows, e)?;
                }
                let touched: Vec<&users::UserRow> =
                    ids.iter().filter_map(|id| rows.get(id)).collect();
                users::store(client, schema, &touched).await
            }
            Projection::Tasks => {
                let ids: Vec<uuid::Uuid> = events
                    .iter()
                    .filter_map(|e| tasks::key(e))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut rows = tasks::load(client, schema, &ids).await?;
                for e in events {
                    tasks::apply(&mut rows, e)?;
                }
                let touched: Vec<&tasks::TaskRow> =
                    ids.iter().filter_map(|id| rows.get(id)).collect();
                tasks::store(client, schema, &touched).await
            }
            Projection::Purchases => {
                let ids: Vec<uuid::Uuid> = events
                    .iter()
                    .filter_map(|e| purchases::key(e))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut rows = purchases::load(client, schema, &ids).await?;
                for e in events {
                    purchases::apply(&mut rows, e)?;
                }
                let touched: Vec<&purchases::PurchaseRow> =
                    ids.iter().filter_map(|id| rows.get(id)).collect();
                purchases::store(client, schema, &touched).await
            }
        }
    }
}

/// Advisory lock keys of the tables of `projections` in `schema`, sorted (so that takers of
/// several never deadlock). Every batch that writes them takes these first, before any write
/// gives its transaction an id; `projections diff` and `rebuild` hold them to stop the live
/// tables moving while they compare or swap, and so make the projector wait without holding
/// back anyone else's horizon.
pub(crate) fn lock_keys(schema: &str, projections: &[Projection]) -> Vec<i64> {
    // FNV-1a: stable across processes and releases, unlike std's hasher.
    let fnv = |text: &str| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let mut keys: Vec<i64> = projections
        .iter()
        .map(|p| fnv(&format!("projection:{schema}.{}", p.name())) as i64)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Where each projection has got to (START for one that never ran).
pub async fn checkpoints(
    client: &impl GenericClient,
    schema: &str,
) -> Result<HashMap<Projection, LogCursor>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT name, tx_id::text, position FROM {schema}.checkpoints"),
            &[],
        )
        .await?;
    let mut out: HashMap<Projection, LogCursor> = Projection::ALL
        .iter()
        .map(|p| (*p, LogCursor::START))
        .collect();
    for r in rows {
        let name: String = r.try_get(0)?;
        let Ok(p) = Projection::parse(&name) else {
            continue;
        };
        let tx: String = r.try_get(1)?;
        out.insert(p, LogCursor::from_db(&tx, r.try_get(2)?)?);
    }
    Ok(out)
}

/// The oldest checkpoint among `projections`: where a reader feeding all of them must start.
pub async fn min_checkpoint(
    pool: &Pool,
    schema: &str,
    projections: &[Projection],
) -> Result<LogCursor, ProjectionError> {
    let client = pool.get().await?;
    let all = checkpoints(&client, schema).await?;
    Ok(projections
        .iter()
        .filter_map(|p| all.get(p))
        .copied()
        .min()
        .unwrap_or(LogCursor::START))
}

/// Outcome of one [`apply_batch`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Events applied per projection (skipped ones not counted).
    pub events: HashMap<Projection, u64>,
    /// The cursor every projection has reached afterwards (the last event of the batch).
    pub cursor: Option<LogCursor>,
}

/// Applies a contiguous run of events to `projections` in one transaction. `after` is the cursor
/// of the event just before the run: a projection whose checkpoint is older than that would miss
/// events, so the whole batch is refused with `Behind` (nothing written). Events at or before a
/// projection's checkpoint are skipped for that projection.
pub async fn apply_batch(
    pool: &Pool,
    schema: &str,
    projections: &[Projection],
    after: LogCursor,
    events: &[RawEvent],
) -> Result<Applied, ProjectionError> {
    let Some(last) = events.last() else {
        return Ok(Applied::default());
    };
    let last_cursor = last.cursor();
    debug_assert!(
        events.windows(2).all(|w| w[0].cursor() < w[1].cursor()),
        "events arrive in global order"
    );
    let decoded: Vec<RecordedEvent> = events
        .iter()
        .map(|e| e.decode())
        .collect::<Result<_, _>>()?;

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // The advisory locks serialize each projection's writers (a second projector process, a
    // rebuild swapping tables, a diff comparing): taken before anything is written, so waiting
    // for them gives this transaction no id. It gets one at its first write (the rows, after
    // the events were loaded and applied in memory), which keeps the time it holds back every
    // reader of the global order short.
    tx.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k",
        &[&lock_keys(schema, projections)],
    )
    .await?;
    let mut applied = Applied {
        cursor: Some(last_cursor),
        ..Default::default()
    };
    for p in projections {
        let checkpoint = checkpoint_of(&tx, schema, *p).await?;
        if checkpoint < after {
            return Err(ProjectionError::Behind {
                projection: p.name(),
                checkpoint: checkpoint.to_string(),
            });
        }
        if last_cursor <= checkpoint {
            continue;
        }
        let fresh: Vec<&RecordedEvent> = decoded
            .iter()
            .filter(|e| {
                LogCursor {
                    tx_id: e.tx_id,
                    position: e.position.0,
                } > checkpoint
            })
            .filter(|e| e.stream_id.category() == p.category())
            .collect();
        p.apply(&tx, schema, &fresh).await?;
        advance(&tx, schema, *p, last_cursor, fresh.len()).await?;
        applied.events.insert(*p, fresh.len() as u64);
    }
    tx.commit().await?;
    let lag_s = (chrono::Utc::now() - last.recorded_at)
        .num_milliseconds()
        .max(0) as f64
        / 1000.0;
    for (p, n) in &applied.events {
        metrics::counter!("tokenbot_projection_events_total", "projection" => p.name())
            .increment(*n);
        metrics::gauge!("tokenbot_projection_lag_seconds", "projection" => p.name()).set(lag_s);
    }
    Ok(applied)
}

/// A projection's checkpoint, read inside the batch's transaction (after its lock).
async fn checkpoint_of(
    tx: &impl GenericClient,
    schema: &str,
    p: Projection,
) -> Result<LogCursor, ProjectionError> {
    // Inserts only the first time (a conflict writes nothing and takes no transaction id).
    tx.execute(
        &format!(
            "INSERT INTO {schema}.checkpoints (name, tx_id, position) VALUES ($1, '0'::xid8, 0) ON CONFLICT (name) DO NOTHING"
        ),
        &[&p.name()],
    )
    .await?;
    let row = tx
        .query_one(
            &format!("SELECT tx_id::text, position FROM {schema}.checkpoints WHERE name = $1"),
            &[&p.name()],
        )
        .await?;
    let tx_text: String = row.try_get(0)?;
    Ok(LogCursor::from_db(&tx_text, row.try_get(1)?)?)
}

/// Moves a projection's checkpoint to `to`, counting `events` applied.
async fn advance(
    tx: &impl GenericClient,
    schema: &str,
    p: Projection,
    to: LogCursor,
    events: usize,
) -> Result<(), ProjectionError> {
    tx.execute(
        &format!(
            "UPDATE {schema}.checkpoints SET tx_id = $2::text::xid8, position = $3, events = events + $4, \
             updated_at = clock_timestamp() WHERE name = $1"
        ),
        &[&p.name(), &to.tx_id.to_string(), &to.position, &(events as i64)],
    )
    .await?;
    Ok(())
}

/// Reads from Postgres after `from` and applies until nothing more is visible; returns where it
/// stopped. `until`, when given, stops at that cursor (inclusive) for a point-in-time replay.
pub async fn catch_up(
    pool: &Pool,
    schema: &str,
    projections: &[Projection],
    from: LogCursor,
    until: Option<LogCursor>,
    progress: impl FnMut(u64),
) -> Result<LogCursor, ProjectionError> {
    catch_up_batched(
        pool,
        schema,
        projections,
        from,
        until,
        CATCH_UP_BATCH,
        progress,
    )
    .await
}

/// [`catch_up`] in batches of `batch_size` events.
pub async fn catch_up_batched(
    pool: &Pool,
    schema: &str,
    projections: &[Projection],
    from: LogCursor,
    until: Option<LogCursor>,
    batch_size: i64,
    mut progress: impl FnMut(u64),
) -> Result<LogCursor, ProjectionError> {
    let mut cursor = from;
    let mut done = 0u64;
    loop {
        let client = pool.get().await?;
        let mut batch = read_log(&client, cursor, batch_size.max(1)).await?;
        drop(client);
        if let Some(limit) = until {
            batch.retain(|e| e.cursor() <= limit);
        }
        let Some(last) = batch.last() else {
            return Ok(cursor);
        };
        let next = last.cursor();
        apply_batch(pool, schema, projections, cursor, &batch).await?;
        done += batch.len() as u64;
        progress(done);
        cursor = next;
        if until.is_some_and(|u| cursor >= u) {
            return Ok(cursor);
        }
    }
}
