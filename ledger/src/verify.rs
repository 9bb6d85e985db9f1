//! The auditor's check: recompute the hash chain and every aggregate from the first event, and
//! name the first position where the log disagrees with itself.

use std::collections::HashMap;

use serde::Serialize;

use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::error::LedgerError;
use crate::global_order::{EVENT_COLUMNS, LogCursor, RawEvent};
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
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub sealed: u64,
    /// Committed events the sealer has not reached yet (checked for rules, not for the chain).
    pub unsealed: u64,
    pub streams: u64,
    pub accounts: u64,
    pub tasks: u64,
    pub total_balance: u64,
    pub tokens_granted: u64,
    pub tokens_debited: u64,
    pub tokens_refunded: u64,
    /// Hex of the last sealed hash: keep it elsewhere to detect a rewritten chain later.
    pub head_hash: Option<String>,
    pub violation: Option<Violation>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.violation.is_none()
    }
}

enum State {
    Account(Account),
    Task(TaskState),
    Other,
}

struct Verifier {
    report: VerifyReport,
    previous: Hash,
    chain_ended: bool,
    streams: HashMap<StreamId, (StreamVersion, State)>,
    debits: HashMap<TaskId, Tokens>,
}

impl Verifier {
    fn fail(&mut self, position: Option<Position>, reason: impl Into<String>) {
        if self.report.violation.is_none() {
            self.report.violation = Some(Violation {
                position,
                reason: reason.into(),
            });
        }
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
            crate::events::Event::TokensGranted(g) => {
                self.report.tokens_granted += g.amount.get();
            }
            crate::events::Event::TokensDebited(d) => {
                self.report.tokens_debited += d.amount.get();
                self.debits.insert(d.task_id, d.amount);
            }
            crate::events::Event::TokensRefunded(r) => {
                self.report.tokens_refunded += r.amount.get();
                match self.debits.get(&r.task_id) {
                    None => self.fail(
                        Some(e.position),
                        format!("refund for task {} which was never debited", r.task_id),
                    ),
                    Some(d) if r.amount > *d => self.fail(
                        Some(e.position),
                        format!(
                            "refund of {} exceeds the debit of {d} for task {}",
                            r.amount, r.task_id
                        ),
                    ),
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
}

/// Verifies the whole log. `progress` is told how many events have been checked so far.
pub async fn verify(
    store: &EventStore,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, LedgerError> {
    let client = store.database().pool().get().await?;
    let mut v = Verifier {
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
            violation: None,
        },
        previous: GENESIS,
        chain_ended: false,
        streams: HashMap::new(),
        debits: HashMap::new(),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, c.seq, c.hash FROM ledger.events e \
         LEFT JOIN ledger.chain c ON c.position = e.position \
         WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) \
           AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY e.tx_id, e.position LIMIT $3"
    );
    let stmt = client.prepare(&sql).await?;
    let mut cursor = LogCursor::START;
    loop {
        let rows = client
            .query(
                &stmt,
                &[&cursor.tx_id.to_string(), &cursor.position, &VERIFY_BATCH],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        cursor = RawEvent::from_row(last)?.cursor();
        for row in &rows {
            let e = RawEvent::from_row(row)?;
            v.report.events += 1;
            v.check_chain(&e, row.try_get(10)?, row.try_get(11)?);
            v.check_rules(&e);
        }
        progress(v.report.events);
    }

    // Links whose events are gone (deleted with the guard disabled, beyond the last event read).
    let chained: i64 = client
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

    // Stream heads and their snapshots must agree with the fold.
    let heads = client
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
            // Appended after the horizon this run read up to.
            continue;
        };
        if u64::try_from(version).ok() != Some(folded_version.0) {
            continue; // Written after our read; not comparable.
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
    for id in v.streams.keys() {
        if !head_versions.contains_key(id) {
            v.fail(None, format!("{id} has events but no stream head"));
            break;
        }
    }

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
    // Conservation: every token in a balance was granted, and left only by a net debit.
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
    Ok(v.report)
}
