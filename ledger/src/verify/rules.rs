//! The walk over the log: the hash chain, each stream's versions and aggregate, and refunds
//! against debits, event by event in global order. The first inconsistency is kept.

use std::collections::{HashMap, VecDeque};

use super::payments::Payments;
use super::report::{CheckpointsChecked, VerifyReport, Violation};
use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::checkpoint::SignedCheckpoint;
use crate::events::Event;
use crate::global_order::RawEvent;
use crate::hash_chain::{GENESIS, Hash, link};
use crate::ids::TaskId;
use crate::purchase::PurchaseState;
use crate::stream::{Position, StreamId, StreamVersion};
use crate::task::TaskState;
use crate::tokens::Tokens;

/// A stream's aggregate as the walk folds it.
enum State {
    Account(Account),
    Task(TaskState),
    Purchase(PurchaseState),
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

/// A stream head as stored (its version as stored too: verify reports a bad one rather than
/// failing on it).
pub(super) struct Head {
    pub id: StreamId,
    pub version: i64,
    pub snapshot: Option<serde_json::Value>,
    pub snapshot_version: Option<i32>,
}

/// The walk's state: the report so far, the chain, every stream, every debit.
pub(super) struct Verifier {
    report: VerifyReport,
    previous: Hash,
    chain_ended: bool,
    streams: HashMap<StreamId, (StreamVersion, State)>,
    debits: HashMap<TaskId, Debit>,
    payments: Payments,
    /// The transaction being read and the refund sides it holds so far.
    tx_id: u64,
    refunds: Vec<RefundSide>,
    walk: Option<CheckpointWalk>,
}

impl Verifier {
    pub(super) fn new(mut checkpoints: Vec<SignedCheckpoint>, covers_start: bool) -> Self {
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
                tokens_reclaimed: 0,
                purchases_paid: 0,
                stars_paid: 0,
                purchases_refunded: 0,
                head_hash: None,
                covers_start,
                checkpoints: None,
                violation: None,
            },
            previous: GENESIS,
            chain_ended: false,
            streams: HashMap::new(),
            debits: HashMap::new(),
            payments: Payments::default(),
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

    /// Events checked so far.
    pub(super) fn events(&self) -> u64 {
        self.report.events
    }

    /// Checks the next event in global order, with its chain link if it has one.
    pub(super) fn check(&mut self, e: &RawEvent, seq: Option<i64>, stored: Option<Vec<u8>>) {
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
                StreamId::PURCHASE => State::Purchase(PurchaseState::default()),
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
            State::Purchase(p) => p.apply(&e.event, e.recorded_at),
            State::Other => Ok(()),
        };
        if let Err(err) = applied {
            return self.fail(Some(e.position), format!("{}: {err}", e.stream_id));
        }
        match &e.event {
            Event::TokensGranted(g) => {
                self.report.tokens_granted += g.amount.get();
                if let Err(problem) = self.payments.grant(&e.stream_id, e.position, g) {
                    return self.fail(Some(e.position), problem);
                }
                self.report.stars_paid = self.payments.stars_paid;
                self.report.purchases_paid += u64::from(g.purchase.is_some());
            }
            Event::TokensReclaimed(r) => {
                self.report.tokens_reclaimed += r.amount.get();
                self.report.purchases_refunded += 1;
                if let Err(problem) = self.payments.reclaim(&e.stream_id, e.position, r) {
                    self.fail(Some(e.position), problem);
                }
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

    /// After the last event: the last transaction's refunds, links beyond the last event
    /// (`chained` links in all), and checkpoints the chain never reached.
    pub(super) fn finish_chain(&mut self, chained: i64) {
        self.settle_refunds();
        if u64::try_from(chained).ok() != Some(self.report.sealed)
            && self.report.violation.is_none()
        {
            let msg = format!(
                "the chain has {chained} links but {} sealed events were found",
                self.report.sealed
            );
            self.fail(None, msg);
        }
        if self.report.sealed > 0 {
            self.report.head_hash = Some(hex::encode(self.previous));
        }
        if let Some(walk) = self.walk.take() {
            if let Some(cp) = walk.pending.front() {
                let msg = format!(
                    "the checkpoint signed at {} covers chain seq {} but the log has only {} \
                     sealed events: sealed events were removed, or the database was restored to \
                     an earlier point",
                    cp.signed_at.to_rfc3339(),
                    cp.seq,
                    self.report.sealed
                );
                self.fail(None, msg);
            }
            self.report.checkpoints = Some(walk.checked);
        }
    }

    /// Stream heads and their snapshots must agree with the fold.
    pub(super) fn check_heads(&mut self, heads: Vec<Head>) {
        let mut head_versions = HashMap::with_capacity(heads.len());
        for head in heads {
            head_versions.insert(head.id.clone(), head.version);
            let Some((folded_version, state)) = self.streams.get(&head.id) else {
                // Its events were committed in this snapshot but lie beyond the horizon.
                continue;
            };
            if u64::try_from(head.version).ok() != Some(folded_version.0) {
                continue; // Later events of the stream lie beyond the horizon; not comparable.
            }
            let drift = match (state, head.snapshot, head.snapshot_version) {
                (State::Account(a), Some(s), Some(Account::SNAPSHOT_VERSION)) => {
                    serde_json::from_value::<Account>(s).ok().as_ref() != Some(a)
                }
                (State::Task(t), Some(s), Some(TaskState::SNAPSHOT_VERSION)) => {
                    serde_json::from_value::<TaskState>(s).ok().as_ref() != Some(t)
                }
                (State::Purchase(p), Some(s), Some(PurchaseState::SNAPSHOT_VERSION)) => {
                    serde_json::from_value::<PurchaseState>(s).ok().as_ref() != Some(p)
                }
                _ => false,
            };
            if drift {
                let msg = format!("the stored snapshot of {} differs from its events", head.id);
                self.fail(None, msg);
            }
        }
        let headless = self
            .streams
            .keys()
            .find(|id| !head_versions.contains_key(*id));
        if let Some(id) = headless.cloned() {
            self.fail(None, format!("{id} has events but no stream head"));
        }
    }

    /// Totals, and conservation: every token in a balance was granted, and left only by a net
    /// debit. The report.
    pub(super) fn summarize(mut self) -> VerifyReport {
        self.report.streams = self.streams.len() as u64;
        for (_, state) in self.streams.values() {
            match state {
                State::Account(a) => {
                    self.report.accounts += 1;
                    self.report.total_balance += a.balance.get();
                }
                State::Task(_) => self.report.tasks += 1,
                State::Purchase(_) | State::Other => {}
            }
        }
        let r = &self.report;
        let came_in = r.tokens_granted + r.tokens_refunded;
        let expected_total = came_in - (r.tokens_debited + r.tokens_reclaimed).min(came_in);
        if r.violation.is_none() && expected_total != r.total_balance {
            let msg = format!(
                "balances sum to {} but grants + refunds - debits - reclaims = {expected_total}",
                r.total_balance
            );
            self.fail(None, msg);
        }
        self.report
    }
}
