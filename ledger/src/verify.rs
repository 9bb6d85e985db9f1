//! The auditor's check: recompute the hash chain and every aggregate from the first event, and
//! name the first position where the log disagrees with itself (or with a signed checkpoint).
//!
//! The whole run reads one snapshot: a `REPEATABLE READ READ ONLY` transaction, so the events,
//! the chain, its length and the stream heads are all as of one moment. The sealer works beside
//! the relay all the time; read piecemeal, a batch could end on an unsealed event that was
//! sealed before the next batch was read, and verify would report a gap that never existed. A
//! read-only transaction takes no transaction id, so it holds back no reader of the global order
//! (only vacuum, for as long as it runs).

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::checkpoint::SignedCheckpoint;
use crate::error::LedgerError;
use crate::events::Event;
use crate::global_order::{EVENT_COLUMNS, HORIZON_PATIENCE, LogCursor, LogSnapshot, RawEvent};
use crate::hash_chain::{GENESIS, Hash, link};
use crate::ids::TaskId;
use crate::store::EventStore;
use crate::stream::{Position, StreamId, StreamVersion};
use crate::task::TaskState;
use crate::tokens::Tokens;

/// Rows read per query while verifying.
const VERIFY_BATCH: i64 = 10_000;

/// The first inconsistency found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The event where the log stops being trustworthy (None: not tied to one event).
    pub position: Option<Position>,
    /// What is wrong there.
    pub reason: String,
}

/// What holding the log against signed checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointsChecked {
    /// Checkpoints given.
    pub given: u64,
    /// Checkpoints the log matched (all of them on a clean log).
    pub matched: u64,
    /// The newest matching checkpoint's chain seq: everything up to it is as it was signed.
    pub last_matched_seq: Option<u64>,
}

/// What `ledger verify` found (printed as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// Events covered by the hash chain.
    pub sealed: u64,
    /// Committed events the sealer has not reached yet (checked for rules, not for the chain).
    pub unsealed: u64,
    /// Streams checked against their heads.
    pub streams: u64,
    /// Open accounts.
    pub accounts: u64,
    /// Tasks.
    pub tasks: u64,
    /// Sum of every account's balance.
    pub total_balance: u64,
    /// Sum of every grant.
    pub tokens_granted: u64,
    /// Sum of every debit.
    pub tokens_debited: u64,
    /// Sum of every refund.
    pub tokens_refunded: u64,
    /// Hex of the last sealed hash: keep it elsewhere to detect a rewritten chain later.
    pub head_hash: Option<String>,
    /// False when a transaction that was open when verify started was still open after the
    /// patience ran out: what it commits is not covered by this run.
    pub covers_start: bool,
    /// Present when the run was given checkpoints.
    pub checkpoints: Option<CheckpointsChecked>,
    /// The first inconsistency, if any.
    pub violation: Option<Violation>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.violation.is_none()
    }
}

/// How a verify run reads the log.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Rows read per query.
    pub batch_size: i64,
    /// Count the events first so that progress has a total (one more scan of the log).
    pub count_total: bool,
    /// Signed checkpoints to hold the chain against. Their signatures must have been checked
    /// already (see [`SignedCheckpoint::verify`]); verify compares what they say with the log.
    pub checkpoints: Vec<SignedCheckpoint>,
    /// How long to wait for transactions open at the start (see [`LogSnapshot::open`]).
    pub horizon_patience: std::time::Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            batch_size: VERIFY_BATCH,
            count_total: false,
            checkpoints: Vec::new(),
            horizon_patience: HORIZON_PATIENCE,
        }
    }
}

/// Reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyProgress {
    /// Events checked so far.
    pub checked: u64,
    /// Events in the snapshot, when [`VerifyOptions::count_total`] asked for it.
    pub total: Option<u64>,
}

enum State {
    Account(Account),
    Task(TaskState),
    Other,
}

/// A task's money, as the account side recorded it.
struct Debit {
    account: StreamId,
    amount: Tokens,
    /// Where its refund is, once there is one.
    refunded_at: Option<Position>,
}

/// One side of a refund, waiting for its other side within the same transaction.
struct RefundSide {
    task_id: TaskId,
    amount: Tokens,
    position: Position,
    /// `TokensRefunded` (account side) or `TaskRefunded` (task side).
    on_account: bool,
}

/// Where the chain stands against the checkpoints still to be reached.
struct CheckpointWalk {
    pending: VecDeque<SignedCheckpoint>,
    checked: CheckpointsChecked,
    /// The first event sealed after the last matching checkpoint: a divergence lies between it
    /// and the checkpoint that failed.
    since: Option<(u64, Position)>,
}

struct Verifier {
    report: VerifyReport,
    previous: Hash,
    chain_ended: bool,
    streams: HashMap<StreamId, (StreamVersion, State)>,
    debits: HashMap<TaskId, Debit>,
    /// The transaction being read and the refund sides it holds so far.
    tx_id: u64,
    refunds: Vec<RefundSide>,
    walk: Option<CheckpointWalk>,
}

impl Verifier {
    fn new(mut checkpoints: Vec<SignedCheckpoint>) -> Self {
        let walk = (!checkpoints.is_empty()).then(|| {
            checkpoints.sort_by_key(|c| c.seq);
            checkpoints.dedup_by_key(|c| c.seq);
            CheckpointWalk {
                checked: CheckpointsChecked {
                    given: checkpoints.len() as u64,
                    matched: 0,
                    last_matched_seq: None,
                },
                pending: checkpoints.into(),
                since: None,
            }
        });
        Self {
            report: VerifyReport {
                events: 0,
                sealed: 0,
                unsealed: 0,
                streams: 0,
                accounts: 0,
                tasks: 0,
                total_balance: 0,
                tokens_granted: 0,
                tokens_debited: 0,
                tokens_refunded: 0,
                head_hash: None,
                covers_start: true,
                checkpoints: None,
                violation: None,
            },
            previous: GENESIS,
            chain_ended: false,
            streams: HashMap::new(),
            debits: HashMap::new(),
            tx_id: 0,
            refunds: Vec::new(),
            walk,
        }
    }

    fn fail(&mut self, position: Option<Position>, reason: impl Into<String>) {
        if self.report.violation.is_none() {
            self.report.violation = Some(Violation {
                position,
                reason: reason.into(),
            });
        }
    }

    fn check(&mut self, e: &RawEvent, seq: Option<i64>, stored: Option<Vec<u8>>) {
        if e.tx_id != self.tx_id {
            self.settle_refunds();
            self.tx_id = e.tx_id;
        }
        self.report.events += 1;
        self.check_chain(e, seq, stored);
        self.check_rules(e);
    }

    fn check_chain(&mut self, e: &RawEvent, seq: Option<i64>, stored: Option<Vec<u8>>) {
        let Some(seq) = seq else {
            self.chain_ended = true;
            self.report.unsealed += 1;
            return;
        };
        if self.chain_ended {
            self.fail(
                Some(e.position),
                "an event before this one is missing from the hash chain",
            );
            return;
        }
        let expected_seq = self.report.sealed + 1;
        if u64::try_from(seq).ok() != Some(expected_seq) {
            self.fail(
                Some(e.position),
                format!("chain sequence {seq} where {expected_seq} was expected: an event was removed or inserted"),
            );
            return;
        }
        let hash = link(&self.previous, e);
        if stored.as_deref() != Some(&hash[..]) {
            self.fail(
                Some(e.position),
                "hash mismatch: the event was altered after it was sealed",
            );
            return;
        }
        self.previous = hash;
        self.report.sealed += 1;
        self.check_checkpoint(e.position);
    }

    /// Compares the chain, just extended to `sealed` links ending at `position`, with the
    /// checkpoint signed at that length, if any.
    fn check_checkpoint(&mut self, position: Position) {
        let seq = self.report.sealed;
        let hash = self.previous;
        let Some(walk) = self.walk.as_mut() else {
            return;
        };
        walk.since.get_or_insert((seq, position));
        let Some(cp) = walk.pending.front() else {
            return;
        };
        if cp.seq != seq {
            return;
        }
        let mismatch = if cp.position != position.0 {
            Some(format!(
                "names position {} at chain seq {seq} but the chain has position {position} there",
                cp.position
            ))
        } else if cp.head_hash != hash {
            Some(format!(
                "holds hash {} at chain seq {seq} but the log hashes to {} there",
                hex::encode(cp.head_hash),
                hex::encode(hash)
            ))
        } else {
            None
        };
        let Some(mismatch) = mismatch else {
            walk.checked.matched += 1;
            walk.checked.last_matched_seq = Some(seq);
            walk.pending.pop_front();
            walk.since = None;
            return;
        };
        let (from_seq, from_position) = walk.since.unwrap_or((seq, position));
        let signed_at = cp.signed_at.to_rfc3339();
        walk.pending.clear();
        self.fail(
            Some(from_position),
            format!(
                "the log differs from the checkpoint signed at {signed_at}: it {mismatch}; \
                 an event between chain seq {from_seq} (position {from_position}) and seq {seq} \
                 (position {position}) was changed, removed or inserted after it was signed"
            ),
        );
    }

    fn check_rules(&mut self, raw: &RawEvent) {
        let e = match raw.decode() {
            Ok(e) => e,
            Err(err) => {
                return self.fail(Some(raw.position), format!("event does not decode: {err}"));
            }
        };
        let entry = self.streams.entry(e.stream_id.clone()).or_insert_with(|| {
            let state = match e.stream_id.category() {
                StreamId::ACCOUNT => State::Account(Account::default()),
                StreamId::TASK => State::Task(TaskState::default()),
                _ => State::Other,
            };
            (StreamVersion::NONE, state)
        });
        if e.version != entry.0.next() {
            let msg = format!(
                "{} jumps from version {} to {}",
                e.stream_id, entry.0, e.version
            );
            return self.fail(Some(e.position), msg);
        }
        entry.0 = e.version;
        let applied = match &mut entry.1 {
            State::Account(a) => a.apply(&e.event, e.recorded_at),
            State::Task(t) => t.apply(&e.event, e.recorded_at),
            State::Other => Ok(()),
        };
        if let Err(err) = applied {
            return self.fail(Some(e.position), format!("{}: {err}", e.stream_id));
        }
        match &e.event {
            Event::TokensGranted(g) => {
                self.report.tokens_granted += g.amount.get();
            }
            Event::TokensDebited(d) => {
                self.report.tokens_debited += d.amount.get();
                self.debits.insert(
                    d.task_id,
                    Debit {
                        account: e.stream_id.clone(),
                        amount: d.amount,
                        refunded_at: None,
                    },
                );
            }
            Event::TokensRefunded(r) => {
                self.report.tokens_refunded += r.amount.get();
                self.check_account_refund(&e.stream_id, e.position, r.task_id, r.amount);
            }
            Event::TaskRefunded(r) => {
                if let Some(task_id) = e.stream_id.task_id() {
                    self.refunds.push(RefundSide {
                        task_id,
                        amount: r.amount,
                        position: e.position,
                        on_account: false,
                    });
                }
            }
            _ => {}
        }
    }

    /// A `TokensRefunded`: for a task debited before, to the account that was debited, at most
    /// once, never above the debit. Its task side is matched when the transaction ends.
    fn check_account_refund(
        &mut self,
        account: &StreamId,
        position: Position,
        task_id: TaskId,
        amount: Tokens,
    ) {
        self.refunds.push(RefundSide {
            task_id,
            amount,
            position,
            on_account: true,
        });
        let Some(debit) = self.debits.get_mut(&task_id) else {
            return self.fail(
                Some(position),
                format!("refund for task {task_id} which was never debited"),
            );
        };
        let problem = if let Some(first) = debit.refunded_at {
            Some(format!(
                "second refund of task {task_id}: it was already refunded at position {first}"
            ))
        } else if debit.account != *account {
            Some(format!(
                "refund of task {task_id} to {account}, but {} was debited for it",
                debit.account
            ))
        } else if amount > debit.amount {
            Some(format!(
                "refund of {amount} exceeds the debit of {} for task {task_id}",
                debit.amount
            ))
        } else {
            None
        };
        debit.refunded_at.get_or_insert(position);
        if let Some(problem) = problem {
            self.fail(Some(position), problem);
        }
    }

    /// At the end of a transaction, every refund must have both sides in it: `TokensRefunded`
    /// on the account and `TaskRefunded` on the task, for the same amount. (A task that was
    /// never debited, as the import writes for a failed task the account could not have paid
    /// for, carries the task-side mark alone: nothing moved, so nothing comes back.)
    fn settle_refunds(&mut self) {
        let mut sides = std::mem::take(&mut self.refunds);
        let mut unpaired = Vec::new();
        while let Some(side) = sides.pop() {
            let partner = sides.iter().position(|o| {
                o.on_account != side.on_account
                    && o.task_id == side.task_id
                    && o.amount == side.amount
            });
            match partner {
                Some(i) => {
                    sides.swap_remove(i);
                }
                None if !side.on_account && !self.debits.contains_key(&side.task_id) => {}
                None => unpaired.push(side),
            }
        }
        let Some(first) = unpaired.into_iter().min_by_key(|s| s.position) else {
            return;
        };
        let (this, other) = if first.on_account {
            ("TokensRefunded", "TaskRefunded on the task")
        } else {
            ("TaskRefunded", "TokensRefunded on the debited account")
        };
        self.fail(
            Some(first.position),
            format!(
                "{this} of {} for task {} has no matching {other} in the same transaction",
                first.amount, first.task_id
            ),
        );
    }
}

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
    mut progress: impl FnMut(VerifyProgress),
) -> Result<VerifyReport, LedgerError> {
    let snapshot = LogSnapshot::open(store.database(), options.horizon_patience).await?;
    let tx = snapshot.client();
    let horizon = snapshot.horizon().to_string();
    let total = match options.count_total {
        true => Some(snapshot.count().await?),
        false => None,
    };
    let mut v = Verifier::new(options.checkpoints.clone());
    v.report.covers_start = snapshot.covers_start();
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
        let rows = tx
            .query(
                &stmt,
                &[
                    &cursor.tx_id.to_string(),
                    &cursor.position,
                    &batch,
                    &horizon,
                ],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        cursor = RawEvent::from_row(last)?.cursor();
        for row in &rows {
            let e = RawEvent::from_row(row)?;
            v.check(&e, row.try_get(10)?, row.try_get(11)?);
        }
        progress(VerifyProgress {
            checked: v.report.events,
            total,
        });
    }
    v.settle_refunds();

    // Links whose events are gone (deleted with the guard disabled, beyond the last event read).
    let chained: i64 = tx
        .query_one("SELECT count(*) FROM ledger.chain", &[])
        .await?
        .try_get(0)?;
    if u64::try_from(chained).ok() != Some(v.report.sealed) && v.report.violation.is_none() {
        let msg = format!(
            "the chain has {chained} links but {} sealed events were found",
            v.report.sealed
        );
        v.fail(None, msg);
    }
    if v.report.sealed > 0 {
        v.report.head_hash = Some(hex::encode(v.previous));
    }
    if let Some(walk) = v.walk.take() {
        if let Some(cp) = walk.pending.front() {
            let msg = format!(
                "the checkpoint signed at {} covers chain seq {} but the log has only {} sealed \
                 events: sealed events were removed, or the database was restored to an earlier \
                 point",
                cp.signed_at.to_rfc3339(),
                cp.seq,
                v.report.sealed
            );
            v.fail(None, msg);
        }
        v.report.checkpoints = Some(walk.checked);
    }

    check_stream_heads(tx, &mut v).await?;
    snapshot.close().await?;
    summarize(&mut v);
    Ok(v.report)
}

/// Stream heads and their snapshots must agree with the fold.
async fn check_stream_heads(
    tx: &tokio_postgres::Client,
    v: &mut Verifier,
) -> Result<(), LedgerError> {
    let heads = tx
        .query(
            "SELECT stream_id, version, snapshot, snapshot_version FROM ledger.streams",
            &[],
        )
        .await?;
    let mut head_versions = HashMap::with_capacity(heads.len());
    for row in &heads {
        let id = StreamId::from_db(row.try_get(0)?);
        let version: i64 = row.try_get(1)?;
        let snapshot: Option<serde_json::Value> = row.try_get(2)?;
        let snapshot_version: Option<i32> = row.try_get(3)?;
        head_versions.insert(id.clone(), version);
        let Some((folded_version, state)) = v.streams.get(&id) else {
            // Its events were committed in this snapshot but lie beyond the horizon.
            continue;
        };
        if u64::try_from(version).ok() != Some(folded_version.0) {
            continue; // Later events of the stream lie beyond the horizon; not comparable.
        }
        let drift = match (state, snapshot, snapshot_version) {
            (State::Account(a), Some(s), Some(Account::SNAPSHOT_VERSION)) => {
                serde_json::from_value::<Account>(s).ok().as_ref() != Some(a)
            }
            (State::Task(t), Some(s), Some(TaskState::SNAPSHOT_VERSION)) => {
                serde_json::from_value::<TaskState>(s).ok().as_ref() != Some(t)
            }
            _ => false,
        };
        if drift {
            v.fail(
                None,
                format!("the stored snapshot of {id} differs from its events"),
            );
        }
    }
    let headless = v.streams.keys().find(|id| !head_versions.contains_key(*id));
    if let Some(id) = headless.cloned() {
        v.fail(None, format!("{id} has events but no stream head"));
    }
    Ok(())
}

/// Totals, and conservation: every token in a balance was granted, and left only by a net debit.
fn summarize(v: &mut Verifier) {
    v.report.streams = v.streams.len() as u64;
    for (_, state) in v.streams.values() {
        match state {
            State::Account(a) => {
                v.report.accounts += 1;
                v.report.total_balance += a.balance.get();
            }
            State::Task(_) => v.report.tasks += 1,
            State::Other => {}
        }
    }
    let expected_total = v.report.tokens_granted + v.report.tokens_refunded
        - v.report
            .tokens_debited
            .min(v.report.tokens_granted + v.report.tokens_refunded);
    if v.report.violation.is_none() && expected_total != v.report.total_balance {
        let msg = format!(
            "balances sum to {} but grants + refunds - debits = {expected_total}",
            v.report.total_balance
        );
        v.fail(None, msg);
    }
}
