//! Test harness: real Postgres and real NATS for every test, isolated so tests run in parallel.
//!
//! - [`TestDatabase`]: a fresh database per test on the local server (or on a server the harness
//!   starts itself when none answers), dropped when the test ends.
//! - [`TestNats`]: the local NATS server (or one the harness starts) plus a unique prefix for
//!   the test's stream and consumer names.

mod nats;
mod ports;
mod postgres;
mod process;

pub use nats::{OwnedNats, TestNats};
pub use ports::free_port;
pub use postgres::{TestDatabase, admin_url};
