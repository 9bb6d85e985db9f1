//! The read side: read models built from the ledger's events, the projector that keeps them
//! live, rebuild and diff for operators and auditors, and the typed queries that the admin HTTP
//! API (the `tokenbot-api` crate) and the bot read them with.
//!
//! Each read model is one file ([`users`], [`tasks`], [`purchases`]); [`runtime`] applies events to them with
//! checkpoints; [`live`] follows JetStream; [`rebuild`] replays into shadow tables.

/// Errors of the read side.
/// One column of an `unnest` upsert: the field `$f` of every row, in order.
macro_rules! column {
    ($rows:expr, $f:ident) => {
        $rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
    };
}

pub mod as_of;
pub mod error;
pub mod live;
pub mod payment_queries;
pub mod purchases;
pub mod queries;
pub mod rebuild;
pub mod runtime;
pub mod tasks;
pub mod users;

pub use error::ProjectionError;
pub use runtime::{LIVE_SCHEMA, Projection};
