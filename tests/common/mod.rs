//! Shared setup for the end-to-end tests: a fresh database per test, migrated by its owner; the
//! code under test runs as the runtime role (`tokenbot_writer`), as in production, so the whole
//! suite proves the role's rights are enough. `t.db.pool()` is the owner's, for assertions and
//! for tampering.
#![allow(dead_code)]

use tokenbot_ledger::events::AccountOpened;
use tokenbot_ledger::migrations::migrate;
use tokenbot_ledger::roles::{READER_ROLE, WRITER_ROLE};
use tokenbot_ledger::{
    Actor, CommandContext, Database, EventStore, GrantKind, ImageSize, Ledger, LedgerConfig,
    PriceTable, Prompt, Quality, TaskKind, TaskRequest, TelegramId, Tokens,
};
use tokenbot_testkit::TestDatabase;

pub mod chat;
pub mod cut;
pub mod pipeline;

pub struct TestLedger {
    pub db: TestDatabase,
    /// Runs as the writer role.
    pub ledger: Ledger,
}

impl TestLedger {
    /// The writer role's pool (the one the ledger uses).
    pub fn writer_pool(&self) -> deadpool_postgres::Pool {
        self.ledger.store().database().pool().clone()
    }

    /// The database as the reader role (auditors).
    pub async fn reader(&self) -> Database {
        Database::connect(&self.db.url_as(READER_ROLE), 4)
            .await
            .expect("connect as the reader")
    }
}

/// Prices of 100 / 200 / 300 tokens per quality: round numbers for assertions.
pub fn test_config() -> LedgerConfig {
    let mut c = LedgerConfig::seed_default();
    c.prices = PriceTable::parse("low:100/100/100,medium:200/200/200,high:300/300/300")
        .expect("valid table");
    c.initial_grant = Tokens::ZERO;
    c.max_tasks_per_hour = 0;
    c
}

pub async fn ledger_with(config: LedgerConfig) -> TestLedger {
    let db = TestDatabase::create().await;
    let owner = Database::connect(db.url(), 2)
        .await
        .expect("connect as the owner");
    migrate(&owner).await.expect("migrate");
    let database = Database::connect(&db.url_as(WRITER_ROLE), 32)
        .await
        .expect("connect as the writer");
    let ledger = Ledger::new(EventStore::new(database), config);
    TestLedger { db, ledger }
}

pub async fn ledger() -> TestLedger {
    ledger_with(test_config()).await
}

pub fn user(id: i64) -> TelegramId {
    TelegramId::new(id).expect("valid id")
}

pub fn ctx(u: TelegramId) -> CommandContext {
    CommandContext::new(Actor::User { telegram_id: u })
}

pub fn system() -> CommandContext {
    CommandContext::new(Actor::system("test"))
}

/// Opens an account holding `balance` tokens.
pub async fn open_with(ledger: &Ledger, u: TelegramId, balance: u32) {
    ledger
        .open_account(
            &ctx(u),
            AccountOpened {
                telegram_id: u,
                username: Some("tester".into()),
                first_name: None,
                language_code: None,
            },
        )
        .await
        .expect("open");
    if balance > 0 {
        ledger
            .grant(
                &system(),
                u,
                Tokens::from_const(balance),
                GrantKind::Import,
                None,
            )
            .await
            .expect("grant");
    }
}

pub fn low_task(u: TelegramId, prompt: &str) -> TaskRequest {
    TaskRequest {
        telegram_id: u,
        kind: TaskKind::Generate,
        prompt: Prompt::parse(prompt).expect("valid prompt"),
        model: None,
        quality: Quality::Low,
        size: ImageSize::Square,
        template_id: None,
        source_file_id: None,
    }
}

pub async fn balance(ledger: &Ledger, u: TelegramId) -> Tokens {
    ledger
        .account(u)
        .await
        .expect("read")
        .expect("exists")
        .0
        .balance
}

pub async fn count_events(db: &TestDatabase, event_type: &str) -> i64 {
    let client = db.pool().get().await.expect("client");
    client
        .query_one(
            "SELECT count(*) FROM ledger.events WHERE event_type = $1",
            &[&event_type],
        )
        .await
        .expect("count")
        .get(0)
}

/// Every committed event, counted directly (the global-order reader may lag behind open
/// transactions elsewhere on the server, which a test should not wait for).
pub async fn count_all(db: &TestDatabase) -> i64 {
    let client = db.pool().get().await.expect("client");
    client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await
        .expect("count")
        .get(0)
}

/// A seeded random mix of everything the ledger does: registrations, grants, tasks that are
/// delivered, retried, failed and refunded, compensations and settings changes. Rule refusals
/// (insufficient balance, invalid transitions) are part of the mix and are ignored.
pub async fn random_workload(ledger: &Ledger, seed: u64, users: i64, ops: usize) -> usize {
    use chrono::Duration;
    use rand::{Rng, SeedableRng};
    use tokenbot_ledger::events::SettingsChanged;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let base = 3_000_000 + (seed as i64 % 1000) * 1000;
    let mut tasks: Vec<(tokenbot_ledger::TaskId, TelegramId)> = Vec::new();
    let mut done = 0;
    for u in 0..users {
        open_with(ledger, user(base + u), rng.random_range(0..3000)).await;
    }
    for _ in 0..ops {
        let u = user(base + rng.random_range(0..users));
        let w = system();
        let outcome = match rng.random_range(0..10) {
            0 => ledger
                .grant(
                    &w,
                    u,
                    Tokens::from_const(rng.random_range(1..500)),
                    GrantKind::Admin,
                    Some("bonus".into()),
                )
                .await
                .map(|_| ()),
            1 => {
                let q = [Quality::Low, Quality::Medium, Quality::High][rng.random_range(0..3)];
                let change = SettingsChanged {
                    quality: Some(q),
                    ..Default::default()
                };
                ledger.change_settings(&ctx(u), u, change).await.map(|_| ())
            }
            2..=4 => ledger
                .request_task(&ctx(u), low_task(u, "random"))
                .await
                .map(|r| tasks.push((r.value.task_id, u))),
            _ if tasks.is_empty() => Ok(()),
            step => {
                let (t, owner) = tasks[rng.random_range(0..tasks.len())];
                match step {
                    5 | 6 => match ledger.start_task(&w, t, "w", Duration::minutes(5)).await {
                        Ok(s) if rng.random_bool(0.7) => ledger
                            .succeed_task(&w, t, s.value.attempt, None)
                            .await
                            .map(|_| ()),
                        Ok(s) => ledger
                            .record_attempt_failure(&w, t, s.value.attempt, "flaky", true)
                            .await
                            .map(|_| ()),
                        Err(e) => Err(e),
                    },
                    7 => ledger.deliver_task(&w, t, "file-x").await.map(|_| ()),
                    8 => ledger.fail_task(&w, t, owner, "gave up").await.map(|_| ()),
                    _ => ledger
                        .refund_task(&w, t, Tokens::from_const(rng.random_range(1..100)), "sorry")
                        .await
                        .map(|_| ()),
                }
            }
        };
        match outcome {
            Ok(()) => done += 1,
            Err(tokenbot_ledger::LedgerError::Domain(_)) => {}
            Err(e) => panic!("workload step failed: {e}"),
        }
    }
    done
}

/// The cursor of the newest committed event (everything is committed when this is called).
pub async fn last_cursor(db: &TestDatabase) -> tokenbot_ledger::LogCursor {
    let client = db.pool().get().await.expect("client");
    let row = client
        .query_one("SELECT tx_id::text, position FROM ledger.events ORDER BY tx_id DESC, position DESC LIMIT 1", &[])
        .await
        .expect("last event");
    tokenbot_ledger::LogCursor {
        tx_id: row.get::<_, String>(0).parse().expect("xid"),
        position: row.get(1),
    }
}

/// Waits (bounded) until a progress channel reports `target`.
pub async fn reached(
    rx: &mut tokio::sync::watch::Receiver<tokenbot_ledger::LogCursor>,
    target: tokenbot_ledger::LogCursor,
    what: &str,
) {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        rx.wait_for(|c| *c >= target),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} did not reach {target} within 60 s"))
    .unwrap_or_else(|_| panic!("{what} stopped"));
}

/// What the live projector does, at once: every read model catches up with the whole log.
pub async fn project_all(pool: &deadpool_postgres::Pool) {
    tokenbot_projections::runtime::catch_up(
        pool,
        tokenbot_projections::LIVE_SCHEMA,
        &tokenbot_projections::Projection::ALL,
        tokenbot_ledger::LogCursor::START,
        None,
        |_| {},
    )
    .await
    .expect("project");
}

/// A GET of the admin API at `url` with the admin key `key`; fails the test if nothing answers.
pub async fn admin_get(http: &reqwest::Client, url: String, key: &str) -> reqwest::Response {
    http.get(url)
        .header("X-Admin-API-Key", key)
        .send()
        .await
        .expect("request")
}
