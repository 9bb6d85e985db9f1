//! The auditor's check: recompute the hash chain and every aggregate from the first event, and
//! name the first position where the log disagrees with itself (or with a signed checkpoint).
//!
//! The whole run reads one snapshot: a `REPEATABLE READ READ ONLY` transaction, so the events,
//! the chain, its length and the stream heads are all as of one moment. The sealer works beside
//! the relay all the time; read piecemeal, a batch could end on an unsealed event that was
//! sealed before the next batch was read, and verify would report a gap that never existed. A
//! read-only transaction takes no transaction id, so it holds back no reader of the global order
//! (only vacuum, for as long as it runs).

use crate::error::LedgerError;
use crate::global_order::{EVENT_COLUMNS, LogCursor, LogSnapshot, RawEvent};
use crate::store::EventStore;
use crate::stream::StreamId;

mod payments;
mod report;
mod rules;

pub use report::{CheckpointsChecked, VerifyOptions, VerifyProgress, VerifyReport, Violation};
use rules::{Head, Verifier};

/// Verifies the whole log. `progress` is told how many events have been checked so far.
pub async fn verify(
    store: &EventStore,
    progress: impl FnMut(VerifyProgress),
) -> Result<VerifyReport, LedgerError> {
    verify_with(store, &VerifyOptions::default(), progress).await
}

/// [`verify`] with explicit options.
pub async fn verify_with(
    store: &EventStore,
    options: &VerifyOptions,
    progress: impl FnMut(VerifyProgress),
) -> Result<VerifyReport, LedgerError> {
    let snapshot = LogSnapshot::open(store.database(), options.horizon_patience).await?;
    let total = match options.count_total {
        true => Some(snapshot.count().await?),
        false => None,
    };
    let mut v = Verifier::new(options.checkpoints.clone(), snapshot.covers_start());
    walk_log(&snapshot, options, total, &mut v, progress).await?;
    let tx = snapshot.client();
    // Links whose events are gone (deleted with the guard disabled, beyond the last event read).
    let chained: i64 = tx
        .query_one("SELECT count(*) FROM ledger.chain", &[])
        .await?
        .try_get(0)?;
    v.finish_chain(chained);
    v.check_heads(stream_heads(tx).await?);
    snapshot.close().await?;
    Ok(v.summarize())
}

/// Hands every event of the snapshot, with its chain link, to the walker, batch by batch.
async fn walk_log(
    snapshot: &LogSnapshot,
    options: &VerifyOptions,
    total: Option<u64>,
    v: &mut Verifier,
    mut progress: impl FnMut(VerifyProgress),
) -> Result<(), LedgerError> {
    let tx = snapshot.client();
    let horizon = snapshot.horizon().to_string();
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, c.seq, c.hash FROM ledger.events e \
         LEFT JOIN ledger.chain c ON c.position = e.position \
         WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) AND e.tx_id < $4::text::xid8 \
         ORDER BY e.tx_id, e.position LIMIT $3"
    );
    let stmt = tx.prepare(&sql).await?;
    let batch = options.batch_size.max(1);
    let mut cursor = LogCursor::START;
    loop {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &cursor.tx_id.to_string(),
            &cursor.position,
            &batch,
            &horizon,
        ];
        let rows = tx.query(&stmt, &params).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        cursor = RawEvent::from_row(last)?.cursor();
        for row in &rows {
            let e = RawEvent::from_row(row)?;
            v.check(&e, row.try_get(10)?, row.try_get(11)?);
        }
        progress(VerifyProgress {
            checked: v.events(),
            total,
        });
    }
}

/// Every stream head, as stored.
async fn stream_heads(tx: &tokio_postgres::Client) -> Result<Vec<Head>, LedgerError> {
    let rows = tx
        .query(
            "SELECT stream_id, version, snapshot, snapshot_version FROM ledger.streams",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Head {
                id: StreamId::from_db(row.try_get(0)?),
                version: row.try_get(1)?,
                snapshot: row.try_get(2)?,
                snapshot_version: row.try_get(3)?,
            })
        })
        .collect()
}
