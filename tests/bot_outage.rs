//! Long polling keeps what failed. Postgres is cut away (through `tokenbot_testkit::PgProxy`)
//! while the bot handles a `/start` and a confirm; once it is back, each takes effect exactly once
//! and the user gets the answer, and the chat's later updates follow in order. The real teloxide
//! client polls the fake Bot API's getUpdates.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::cut::*;
use common::pipeline::Pipeline;
use common::*;
use tokenbot_bot::BotConfig;
use tokenbot_fake_telegram::{TgUser, Update};
use tokenbot_ledger::{Ledger, LedgerConfig};
use tokenbot_testkit::{Cut, CutPoint, PgProxy};

/// The ledger waits 1 s to learn a lost COMMIT's fate; the outages last longer, so the bot sees
/// the failure and has to handle the update again.
const OUTAGE: Duration = Duration::from_secs(2);

/// The pipeline (everything through the proxy), the proxy, and a ledger that bypasses it for the
/// test's own reads.
async fn pipeline() -> (Pipeline, PgProxy, Ledger) {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 0;
    c.commit_outcome_wait = Duration::from_secs(1);
    let (t, proxy, direct) = proxied_test_ledger(c).await;
    (Pipeline::start(t).await, proxy, direct)
}

/// Generic error messages among `texts`.
fn errors_told(texts: &[String]) -> usize {
    texts
        .iter()
        .filter(|t| t.contains("Произошла ошибка"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_cut_off_from_postgres_registers_once_after_recovery() {
    let (p, proxy, direct) = pipeline().await;
    let _bot = p.spawn_bot(BotConfig::default(), p.shutdown.clone());
    let anna = p.chat(TgUser::new(3001));
    let boris = p.chat(TgUser::new(3002));
    // Boris is known before the outage; his update shares the batch with Anna's.
    boris.say("/start").await;

    let cut = proxy.arm(
        Cut::at(CutPoint::BeforeCommit)
            .when_sent("AccountOpened")
            .then_down_for(OUTAGE),
    );
    p.telegram.push_update(Update::text(anna.user(), "/start"));
    p.telegram
        .push_update(Update::text(boris.user(), "/balance"));
    // Anna's next update waits behind her /start; `deliver` returns once the bot has handled it
    // (its getUpdates offset has passed it).
    let balance = anna.say("/balance").await;
    cut.wait(CUT_WITHIN)
        .await
        .expect("the /start's commit was cut");

    assert_eq!(
        count_events(&p.t.db, "AccountOpened").await,
        2,
        "Boris and Anna, once each"
    );
    assert_eq!(count_events(&p.t.db, "TokensGranted").await, 2);
    let texts = p.bot_texts(3001);
    let welcome = texts
        .iter()
        .position(|t| t.contains("Добро пожаловать"))
        .unwrap_or_else(|| panic!("Anna is welcomed: {texts:?}"));
    let balance_at = texts
        .iter()
        .rposition(|t| t.contains("Токены: 10560"))
        .unwrap_or_else(|| panic!("Anna sees her balance: {texts:?}"));
    assert!(welcome < balance_at, "in the order she wrote: {texts:?}");
    assert!(
        balance.text().contains("Токены: 10560"),
        "{}",
        balance.text()
    );
    assert_eq!(
        errors_told(&texts),
        1,
        "the failure was told once, not at every retry: {texts:?}"
    );
    let boris_texts = p.bot_texts(3002);
    assert_eq!(
        boris_texts
            .iter()
            .filter(|t| t.contains("Токены: 10560"))
            .count(),
        1,
        "Boris's /balance is answered once: {boris_texts:?}"
    );
    assert_verify_clean(&direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_cut_off_from_postgres_debits_once_after_recovery() {
    let (p, proxy, direct) = pipeline().await;
    let _bot = p.spawn_bot(BotConfig::default(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(3010));
    chat.say("/start").await;
    chat.tap("Создать картинку").await;
    chat.say("a lighthouse").await;

    // The debit commits, but Postgres is gone before anyone can learn it.
    let cut = proxy.arm(
        Cut::at(CutPoint::AfterCommitSent)
            .when_sent("TokensDebited")
            .then_down_for(OUTAGE),
    );
    chat.tap("Подтвердить").await;
    cut.wait(CUT_WITHIN)
        .await
        .expect("the confirm's commit was cut");

    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 1);
    assert_eq!(count_events(&p.t.db, "TokensDebited").await, 1);
    assert_eq!(balance(&direct, user(3010)).await.get(), 10560 - 1056);
    let texts = p.bot_texts(3010);
    assert!(
        texts.iter().any(|t| t.contains("Задача создана")),
        "the user is told the task exists: {texts:?}"
    );
    assert_eq!(errors_told(&texts), 1, "{texts:?}");
    assert_verify_clean(&direct).await;
}
