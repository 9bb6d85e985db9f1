//! The ledger behind a [`PgProxy`] that cuts its connections around COMMIT, next to the direct
//! one of the same database (for looking at what was really written).

use std::time::Duration;

use tokenbot_ledger::roles::WRITER_ROLE;
use tokenbot_ledger::{Database, EventStore, Ledger, LedgerConfig};
use tokenbot_testkit::{PgProxy, TestDatabase};

use super::TestLedger;

/// A ledger whose every connection goes through `proxy`.
pub struct Proxied {
    pub proxy: PgProxy,
    pub ledger: Ledger,
}

pub async fn proxied(db: &TestDatabase, config: LedgerConfig) -> Proxied {
    // As the runtime role, like every process of the system.
    let url = db.url_as(WRITER_ROLE);
    let proxy = PgProxy::start(&url).await.expect("start the proxy");
    let database = Database::connect(&proxy.url(&url), 16)
        .await
        .expect("connect through the proxy");
    Proxied {
        proxy,
        ledger: Ledger::new(EventStore::new(database), config),
    }
}

/// A fresh migrated database whose [`TestLedger`] goes through a proxy (for a whole pipeline:
/// relay, projector, worker and bot all use the ledger's pool), and a ledger on the same
/// database that does not (for the test's own reads, which must not fail during an outage).
/// Keep the proxy alive.
pub async fn proxied_test_ledger(config: LedgerConfig) -> (TestLedger, PgProxy, Ledger) {
    let direct = super::ledger_with(config.clone()).await;
    let Proxied { proxy, ledger } = proxied(&direct.db, config).await;
    (
        TestLedger {
            db: direct.db,
            ledger,
        },
        proxy,
        direct.ledger,
    )
}

/// How many `TokensGranted` events carry `reason`.
pub async fn grants_with_reason(db: &TestDatabase, reason: &str) -> i64 {
    let client = db.pool().get().await.expect("client");
    client
        .query_one(
            "SELECT count(*) FROM ledger.events \
             WHERE event_type = 'TokensGranted' AND data->>'reason' = $1",
            &[&reason],
        )
        .await
        .expect("count")
        .get(0)
}

/// How many transactions wrote the `TokensGranted` events whose reason starts with `prefix`.
pub async fn grant_transactions(db: &TestDatabase, prefix: &str) -> i64 {
    let client = db.pool().get().await.expect("client");
    client
        .query_one(
            "SELECT count(DISTINCT tx_id) FROM ledger.events \
             WHERE event_type = 'TokensGranted' AND starts_with(data->>'reason', $1)",
            &[&prefix],
        )
        .await
        .expect("count")
        .get(0)
}

/// `ledger verify` finds nothing.
pub async fn assert_verify_clean(ledger: &Ledger) {
    let report = tokenbot_ledger::verify::verify(ledger.store(), |_| {})
        .await
        .expect("verify runs");
    assert!(report.ok(), "ledger verify: {report:?}");
}

/// Long enough for any cut in these tests to have happened.
pub const CUT_WITHIN: Duration = Duration::from_secs(30);
