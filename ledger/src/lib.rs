//! The tokenbot ledger: an append-only event store on Postgres and the token and task rules
//! checked inside each append.
//!
//! Reading order for newcomers: [`events`] (what can happen), [`account`] and [`task`] (the
//! rules, pure), [`command`] (one file per command, deciding with those rules), [`ledger`]
//! (the typed façade callers use), [`executor`] (the batch writer: appends, idempotency),
//! [`store`] (reads), [`global_order`] (how readers never skip an event), [`hash_chain`] and
//! [`verify`] (audit).

pub mod account;
pub mod aggregate;
pub mod backoff;
pub mod bus;
pub mod checkpoint;
pub mod command;
mod commit_outcome;
pub mod db;
pub mod error;
pub mod events;
pub mod executor;
pub mod global_order;
pub mod hash_chain;
pub mod ids;
pub mod image;
pub mod ledger;
pub mod metadata;
pub mod migrations;
pub mod payment;
pub mod pg;
pub mod pricing;
pub mod purchase;
pub mod purchases;
pub mod relay;
pub mod replay;
pub mod roles;
pub mod shutdown;
pub mod store;
pub mod stream;
pub mod subscription;
pub mod task;
pub mod tokens;
pub mod verify;

pub use account::{Account, Settings};
pub use command::append::StreamAppend;
pub use command::fail_task::FailOutcome;
pub use command::grant::BalanceChange;
pub use command::open_account::OpenOutcome;
pub use command::request_task::{TaskReceipt, TaskRequest};
pub use command::start_task::StartedAttempt;
pub use command::{Command, Output};
pub use db::{Database, DbError};
pub use error::{DomainError, LedgerError};
pub use events::{Event, GrantKind};
pub use global_order::{LogCursor, RawEvent, RecordedEvent};
pub use ids::{CorrelationId, EventId, PurchaseId, TaskId, TelegramId};
pub use image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
pub use ledger::Ledger;
pub use metadata::{Actor, CommandContext, EventMetadata, IdempotencyKey};
pub use payment::{ChargeId, PackageId, STARS_CURRENCY, Stars, TokenPackage};
pub use pg::{PgConfig, SslMode};
pub use pricing::{LedgerConfig, PriceTable};
pub use purchase::{Purchase, PurchaseState, PurchaseStatus};
pub use store::{EventStore, Executed};
pub use stream::{ExpectedVersion, OutOfRange, Position, StreamId, StreamVersion};
pub use task::{Task, TaskState, TaskStatus};
pub use tokens::Tokens;
