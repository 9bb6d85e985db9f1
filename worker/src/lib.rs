//! The image worker: takes `TaskRequested` events from JetStream ([`consumer`], [`pull`]), runs
//! each task through the image provider ([`provider`]) and the ledger's task rules ([`runner`]),
//! keeps the finished picture until Telegram has it ([`results`], [`telegram`]). Beside the bus,
//! a [`sweeper`] finds in the ledger the paid tasks nobody has worked on for a while
//! ([`open_tasks`]) and drives them through the same runner.
//!
//! Exactly-once money: the debit happened with `TaskRequested`; a refund happens only in the same
//! transaction as `TaskFailed`, which the ledger allows once per task. Everything else here may
//! run twice (redelivery, two workers) without a second effect.

pub mod config;
pub mod consumer;
pub mod open_tasks;
pub mod provider;
pub mod pull;
pub mod results;
pub mod runner;
pub mod sweeper;
pub mod telegram;

pub use config::WorkerConfig;
pub use runner::{Disposition, Runner};
