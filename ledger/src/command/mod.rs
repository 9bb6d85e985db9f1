//! Commands: everything that can change the ledger, one file each. A command is a value that
//! names the streams it touches, a fingerprint for its idempotency key, and a pure `decide` over
//! the current state of those streams ([`View`]) that appends events or returns the rule that
//! refuses. Being data, commands from many callers can be decided one after another inside one
//! transaction ([`crate::executor`]), each seeing the ones before it.
//!
//! Each command declares its answer as an associated type ([`Command::Output`]), so
//! [`crate::Ledger::execute`] returns `Executed<C::Output>` and no caller unwraps an enum of
//! every command's outcome. The output is also what a replay of the same idempotency key
//! answers, stored as JSON ([`Output::STORED_AS`] is its name there).
//!
//! Adding a command: a file here with the struct, its [`Command`] impl and its tests, and one
//! `pub mod` line below (plus, if callers want one, a typed method on [`crate::Ledger`]). See
//! docs/architecture.md, "Adding a ledger command".

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::LedgerError;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;

pub mod view;

pub mod append;
pub mod attempt_failed;
pub mod change_settings;
pub mod deliver_task;
pub mod fail_task;
pub mod grant;
pub mod offer_purchase;
pub mod open_account;
pub mod pay_purchase;
pub mod refund_purchase;
pub mod refund_task;
pub mod request_task;
pub mod start_task;
pub mod succeed_task;

pub use view::View;

#[cfg(test)]
mod tests;

/// One thing the ledger can be asked to do.
pub trait Command: Send + Sync + 'static {
    /// The command's name in its idempotency fingerprint. Stored with every key: never change
    /// it, and never give two commands the same one.
    const NAME: &'static str;

    /// What the caller gets back, live or replayed.
    type Output: Output;

    /// The streams whose locks the command needs.
    fn streams(&self) -> Vec<StreamId>;

    /// What an idempotency key is bound to: [`Command::NAME`] and the command's input, without
    /// ids the ledger chose (see [`fingerprint`]).
    fn fingerprint(&self) -> Vec<u8>;

    /// Decides against the view: appends events through it, or refuses. Pure: no I/O, no clock
    /// but the view's.
    fn decide(
        &self,
        view: &mut View<'_>,
        config: &LedgerConfig,
    ) -> Result<Self::Output, LedgerError>;
}

/// A command's answer. Stored as `{"outcome": STORED_AS, "value": <the output>}` with its
/// idempotency key (the format of the `Outcome` enum this trait replaced, so rows written before
/// it replay unchanged; see docs/architecture.md).
pub trait Output: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its name in the stored result. Several commands may share an output type (and so a
    /// name); never change it.
    const STORED_AS: &'static str;
}

/// Commands that only append answer nothing but their positions.
impl Output for () {
    const STORED_AS: &'static str = "Done";
}

/// The fingerprint stored with an idempotency key: the command's name and its input.
pub fn fingerprint(command: &str, input: &impl Serialize) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(input).unwrap_or_default());
    h.finalize().to_vec()
}
