//! What a verify run reports, and how it is asked to run.

use serde::Serialize;

use crate::checkpoint::SignedCheckpoint;
use crate::global_order::HORIZON_PATIENCE;
use crate::stream::Position;

/// Rows read per query while verifying.
pub(super) const VERIFY_BATCH: i64 = 10_000;

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
    /// Sum of the tokens taken back by purchase refunds.
    pub tokens_reclaimed: u64,
    /// Purchases paid (each granted once, by its charge id).
    pub purchases_paid: u64,
    /// Stars paid for them.
    pub stars_paid: u64,
    /// Purchases refunded.
    pub purchases_refunded: u64,
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
    /// How long to wait for transactions open at the start (see [`crate::global_order::LogSnapshot::open`]).
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
