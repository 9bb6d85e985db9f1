//! Shared setup for the end-to-end tests: a fresh, migrated database per test.
#![allow(dead_code)]

use tokenbot_ledger::events::AccountOpened;
use tokenbot_ledger::migrations::migrate;
use tokenbot_ledger::{
    Actor, CommandContext, Database, EventStore, GrantKind, ImageSize, Ledger, LedgerConfig,
    PriceTable, Prompt, Quality, TaskKind, TaskRequest, TelegramId, Tokens,
};
use tokenbot_testkit::TestDatabase;

pub struct TestLedger {
    pub db: TestDatabase,
    pub ledger: Ledger,
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
    let database = Database::connect(db.url(), 32).await.expect("connect");
    migrate(&database).await.expect("migrate");
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
