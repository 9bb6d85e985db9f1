//! Test harness: a real Postgres and a real NATS for every test, isolated so that tests run in
//! parallel against one server of each.
//!
//! Why real servers: the ledger's guarantees (one transaction per batch, advisory locks, global
//! order, JetStream acks and redelivery) live in the servers' behaviour, which fakes would only
//! imitate.
//!
//! - [`TestDatabase`]: a fresh database per test, dropped when the value is dropped.
//! - [`TestNats`]: the shared NATS server plus a name prefix that is the test's alone.
//! - [`OwnedNats`]: a private nats-server a test may stop and start again.
//! - [`TlsPostgres`]: a private Postgres with TLS on, serving a certificate the test made.
//! - [`PgReplica`]: a private Postgres primary with a hot standby whose replay a test can pause.
//! - [`PgProxy`]: a proxy in front of Postgres that cuts connections around `COMMIT` and plays
//!   outages, for the code that must survive them.
//!
//! Where the servers come from: `TEST_DATABASE_URL` / `TEST_NATS_URL` (defaults: the usual local
//! ports). When nothing answers there, the harness starts a private server from the installed
//! binaries once per test process and stops it after the process exits.

mod nats;
mod pg_proxy;
mod pg_replica;
mod ports;
mod postgres;
mod process;
mod tls_postgres;
mod wire_counts;

pub use nats::{OwnedNats, TestNats, start_private_nats};
pub use pg_proxy::{Cut, CutDone, CutPoint, NotCut, PgProxy};
pub use pg_replica::PgReplica;
pub use ports::free_port;
pub use postgres::{TestDatabase, admin_client, start_private_postgres};
pub use process::set_servers_dir;
pub use tls_postgres::TlsPostgres;
pub use wire_counts::WireCounts;
