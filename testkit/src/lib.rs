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
//! - [`NatsCluster`], [`RoleProcess`], [`RoundRobin`]: a NATS cluster on loopback, tokenbot roles
//!   as OS processes, and a round-robin HTTP proxy in front of several of them, for the scale
//!   scenario that kills and restarts each.
//!
//! Where the servers come from: `TEST_DATABASE_URL` / `TEST_NATS_URL` (defaults: the usual local
//! ports). When nothing answers there, the harness starts a private server from the installed
//! binaries once per test process and stops it after the process exits.

mod http_get;
mod nats;
mod nats_cluster;
mod pg_proxy;
mod pg_replica;
mod ports;
mod postgres;
mod process;
mod role_process;
mod round_robin;
mod tls_postgres;
mod wire_counts;

pub use http_get::http_get;
pub use nats::{OwnedNats, TestNats, start_private_nats};
pub use nats_cluster::NatsCluster;
pub use pg_proxy::{Cut, CutDone, CutPoint, NotCut, PgProxy};
pub use pg_replica::PgReplica;
pub use ports::free_port;
pub use postgres::{TestDatabase, admin_client, start_private_postgres};
pub use process::set_servers_dir;
pub use role_process::{RoleProcess, metric_value};
pub use round_robin::RoundRobin;
pub use tls_postgres::TlsPostgres;
pub use wire_counts::WireCounts;
