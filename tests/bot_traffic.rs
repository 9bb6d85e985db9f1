//! The bot under traffic, through the real teloxide client and the fake Bot API: a chat whose
//! answers are slow holds up no other chat (long polling asks for more updates while earlier ones
//! are handled, and parks in `bot.inbox` what would hold the offset too long), a user back after a
//! pause longer than every polling timer is answered at once, and a crowd arriving at once is
//! answered within Telegram's limits, every call
//! the fake refuses with 429 sent again after its `retry_after`.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use secrecy::SecretString;
use tokenbot::configuration::WebhookSettings;
use tokenbot::system::System;
use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{Call, FakeTelegram, FloodLimits, TgUser, Update, Window};
use tokenbot_ledger::LedgerConfig;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_telegram::{Limits, Rate, Telegram};

const WAIT: Duration = Duration::from_secs(60);

async fn pipeline() -> Pipeline {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 0;
    Pipeline::start(ledger_with(c).await).await
}

fn sent_to(c: &Call, chat: i64) -> bool {
    c.method == "sendMessage" && c.params["chat_id"].as_i64() == Some(chat)
}

/// Waits for the `n`-th message sent to `chat` from call `since` on (calls the fake refused do
/// not count: the fake records a refusal together with its call).
async fn nth_answer(p: &Pipeline, chat: i64, since: usize, n: usize) {
    let mut from = since;
    let mut answers = 0;
    while answers < n {
        let call = p
            .telegram
            .wait_for_call(from, WAIT, |c| sent_to(c, chat))
            .await
            .unwrap_or_else(|e| panic!("chat {chat} has {answers} answers of {n}: {e}"));
        from = call.index + 1;
        if !p.telegram.refused().iter().any(|r| r.index == call.index) {
            answers += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_whose_answers_are_slow_holds_up_no_other_chat() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(BotConfig::default(), p.shutdown.clone());
    let (slow, fast) = (TgUser::new(4001), TgUser::new(4002));
    let tg = &p.telegram;
    tg.slow_chat(slow.id, Duration::from_secs(2));

    let since = tg.call_count();
    tg.push_update(Update::text(&slow, "/start"));
    tg.wait_for_call(since, WAIT, |c| sent_to(c, slow.id))
        .await
        .unwrap();
    assert_eq!(tg.held_answers(), 1, "the welcome's answer is held back");

    let since = tg.call_count();
    tg.push_update(Update::text(&slow, "/balance"));
    tg.push_update(Update::text(&fast, "/start"));
    tg.wait_for_call(since, WAIT, |c| sent_to(c, fast.id))
        .await
        .unwrap();
    assert_eq!(
        tg.held_answers(),
        1,
        "the other chat was answered while the slow chat's answer was still on its way"
    );
    assert!(
        tg.calls().iter().skip(since).all(|c| !sent_to(c, slow.id)),
        "the slow chat's /balance waits behind its /start"
    );

    // The slow chat gets both answers, in the order it wrote.
    nth_answer(&p, slow.id, since, 1).await;
    let texts: Vec<String> = tg
        .chat(slow.id)
        .into_iter()
        .filter(|m| m.from_bot)
        .filter_map(|m| m.text)
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Добро пожаловать"), "{texts:?}");
    assert!(texts[1].contains("Токены: 10560"), "{texts:?}");
}

/// The update ids in `bot.inbox`.
async fn inbox(p: &Pipeline) -> Vec<i64> {
    let client = p.t.writer_pool().get().await.unwrap();
    let rows = client
        .query("SELECT update_id FROM bot.inbox ORDER BY update_id", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_updates_than_get_updates_returns_go_past_a_slow_chat() {
    let p = pipeline().await;
    let stop = Shutdown::new();
    let (_app, bot) = p.spawn_bot(BotConfig::default(), stop.clone());
    let slow = TgUser::new(4101);
    let tg = &p.telegram;
    // Far longer than the bot waits before parking (1 s) and than 150 welcomes take.
    tg.slow_chat(slow.id, Duration::from_secs(20));

    let since = tg.call_count();
    let slow_update = tg.push_update(Update::text(&slow, "/start"));
    tg.wait_for_call(since, WAIT, |c| sent_to(c, slow.id))
        .await
        .unwrap();
    // getUpdates returns at most 100 updates from the offset, which waits for the slow chat's.
    let others: Vec<i64> = (6000..6150).collect();
    for id in &others {
        tg.push_update(Update::text(&TgUser::new(*id), "/start"));
    }
    for id in &others {
        nth_answer(&p, *id, since, 1).await;
    }
    assert_eq!(
        tg.held_answers(),
        1,
        "every other chat was answered while the slow chat's answer was on its way"
    );
    assert!(
        inbox(&p).await.contains(&slow_update),
        "the slow chat's update was parked"
    );

    nth_answer(&p, slow.id, since, 1).await;
    stop.cancel();
    bot.await.unwrap();
    assert_eq!(
        inbox(&p).await,
        Vec::<i64>::new(),
        "handled: no row is left"
    );
    every_user_answered_once(&p, &others, since);
}

/// Longer than every timer on long polling's path: getUpdates' long poll (10 s), the pause
/// before asking again (`IDLE_REPOLL`, `REPOLL_PAUSE_FULL`) and parking (`PARK_AFTER`).
const IDLE: Duration = Duration::from_secs(11);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_back_after_an_idle_pause_is_answered_at_once_and_so_is_a_crowd_after_them() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(BotConfig::default(), p.shutdown.clone());
    let (tg, user) = (&p.telegram, TgUser::new(6001));
    let since = tg.call_count();
    tg.push_update(Update::text(&user, "/start"));
    nth_answer(&p, user.id, since, 1).await;

    // The user reads, then comes back: nothing happens meanwhile but the bot's long polls.
    tokio::time::sleep(IDLE).await;
    let since = tg.call_count();
    let back = std::time::Instant::now();
    tg.push_update(Update::text(&user, "/balance"));
    nth_answer(&p, user.id, since, 1).await;
    assert!(
        back.elapsed() < Duration::from_secs(5),
        "the update waited {:?}: picked up by the waiting long poll, not by the next one",
        back.elapsed()
    );

    // Then a crowd at once, more than one getUpdates answer holds.
    let crowd: Vec<i64> = (0..150).map(|i| 6100 + i).collect();
    let since = tg.call_count();
    for id in &crowd {
        tg.push_update(Update::text(&TgUser::new(*id), "/start"));
    }
    for id in &crowd {
        nth_answer(&p, *id, since, 1).await;
    }
    every_user_answered_once(&p, &crowd, since);
}

/// Every user got one message since call `since`.
fn every_user_answered_once(p: &Pipeline, ids: &[i64], since: usize) {
    let calls = p.telegram.calls();
    for id in ids {
        let answers = calls.iter().skip(since).filter(|c| sent_to(c, *id)).count();
        assert_eq!(answers, 1, "user {id}");
    }
}

/// Leaves in the inbox, as a bot stopped after parking them does (confirmed to Telegram, never
/// delivered again), a `/start` of each user; the last one handled before. Their update ids.
async fn left_in_the_inbox(p: &Pipeline, users: &[&TgUser]) -> Vec<i64> {
    let tg = &p.telegram;
    let client = p.t.writer_pool().get().await.unwrap();
    let mut ids = Vec::new();
    for user in users {
        let update = tg.prepare_update(Update::text(user, "/start"));
        let id = update["update_id"].as_i64().unwrap();
        client
            .execute(
                "INSERT INTO bot.inbox (bot_id, update_id, payload) VALUES ($1, $2, $3::text::jsonb)",
                &[&FakeTelegram::BOT_ID, &id, &update.to_string()],
            )
            .await
            .unwrap();
        ids.push(id);
    }
    client
        .execute(
            "INSERT INTO bot.handled_updates (bot_id, update_id) VALUES ($1, $2)",
            &[&FakeTelegram::BOT_ID, ids.last().unwrap()],
        )
        .await
        .unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_a_stopped_bot_left_in_the_inbox_are_handled_at_start() {
    let p = pipeline().await;
    let tg = &p.telegram;
    let (left, done) = (TgUser::new(4201), TgUser::new(4202));
    let ids = left_in_the_inbox(&p, &[&left, &done]).await;

    let since = tg.call_count();
    let stop = Shutdown::new();
    let (_app, bot) = p.spawn_bot(BotConfig::default(), stop.clone());
    nth_answer(&p, left.id, since, 1).await;
    let polled = tg
        .wait_for_call(since, WAIT, |c| c.method == "getUpdates")
        .await
        .unwrap();
    stop.cancel();
    bot.await.unwrap();

    assert!(
        polled.params["offset"].as_i64() > Some(ids[1]),
        "the first getUpdates starts past the parked updates: {:?}",
        polled.params
    );
    every_user_answered_once(&p, &[left.id], since);
    assert!(
        tg.calls().iter().skip(since).all(|c| !sent_to(c, done.id)),
        "the update handled before is not answered again"
    );
    assert_eq!(inbox(&p).await, Vec::<i64>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_switched_to_a_webhook_handles_what_long_polling_parked() {
    let p = pipeline().await;
    let (first, second, done) = (TgUser::new(4301), TgUser::new(4302), TgUser::new(4303));
    left_in_the_inbox(&p, &[&first, &second, &done]).await;
    let since = p.telegram.call_count();
    // The bot role as `tokenbot bot` runs it with WEBHOOK_URL set (nothing posts to it here).
    let mut settings = p.settings.clone();
    let port = tokenbot_testkit::free_port();
    settings.http_addr = ([127, 0, 0, 1], port).into();
    settings.telegram.webhook = Some(WebhookSettings {
        url: format!("http://127.0.0.1:{port}/webhook").parse().unwrap(),
        secret: SecretString::from("drain-test-secret"),
        max_retries: 1,
        retry_delay: Duration::from_secs(1),
        backoff: 2.0,
    });
    let bot = System::builder(settings)
        .ledger(p.t.ledger.clone())
        .jetstream(p.js.clone())
        .bot()
        .start()
        .await
        .expect("start the bot");

    for user in [&first, &second] {
        nth_answer(&p, user.id, since, 1).await;
    }
    bot.shutdown();
    bot.join().await.expect("the bot stops cleanly");
    every_user_answered_once(&p, &[first.id, second.id], since);
    assert!(
        p.telegram
            .calls()
            .iter()
            .skip(since)
            .all(|c| !sent_to(c, done.id)),
        "the update handled before is not answered again"
    );
    assert_eq!(inbox(&p).await, Vec::<i64>::new());
}

/// Users who each send /start and /balance at once; returns once every one has both answers.
async fn crowd(p: &Pipeline, limits: Limits, users: i64) -> Vec<i64> {
    let app = App::new(
        Telegram::new(p.bot(), limits),
        p.t.ledger.clone(),
        BotConfig::default(),
    );
    let shutdown = p.shutdown.clone();
    tokio::spawn(async move { tokenbot_bot::polling::run(app, shutdown).await });
    let ids: Vec<i64> = (0..users).map(|i| 5000 + i).collect();
    let since = p.telegram.call_count();
    for id in &ids {
        let user = TgUser::new(*id);
        p.telegram.push_update(Update::text(&user, "/start"));
        p.telegram.push_update(Update::text(&user, "/balance"));
    }
    for id in &ids {
        nth_answer(p, *id, since, 2).await;
    }
    ids
}

/// Every user got exactly the welcome and then the balance, once each.
fn every_user_answered_once_in_order(p: &Pipeline, ids: &[i64]) {
    for id in ids {
        let texts: Vec<String> = p
            .telegram
            .chat(*id)
            .into_iter()
            .filter(|m| m.from_bot)
            .filter_map(|m| m.text)
            .collect();
        assert_eq!(texts.len(), 2, "user {id}: {texts:?}");
        assert!(
            texts[0].contains("Добро пожаловать"),
            "user {id}: {texts:?}"
        );
        assert!(texts[1].contains("Токены: 10560"), "user {id}: {texts:?}");
    }
}

/// Every call the fake refused was sent again, unchanged, and went through.
fn every_refused_call_retried(p: &Pipeline) {
    let calls = p.telegram.calls();
    let refused: HashMap<usize, ()> = p.telegram.refused().iter().map(|r| (r.index, ())).collect();
    for index in refused.keys() {
        let call = &calls[*index];
        let retried = calls.iter().skip(index + 1).any(|c| {
            !refused.contains_key(&c.index) && c.method == call.method && c.params == call.params
        });
        assert!(retried, "refused and never sent again: {call:?}");
    }
}

fn window(count: u32, ms: u64) -> Option<Window> {
    Some(Window {
        count,
        per: Duration::from_millis(ms),
    })
}

fn rate(count: u32, ms: u64) -> Option<Rate> {
    Rate::new(count, Duration::from_millis(ms))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_users_at_once_are_answered_within_the_limits() {
    let p = pipeline().await;
    // Telegram's shape, faster: 200 a second overall, one a second per chat.
    p.telegram.enforce_limits(FloodLimits {
        overall: window(200, 1000),
        chat: window(1, 1000),
    });
    // The bot keeps a margin, as it should against Telegram, whose clock is not ours.
    let limits = Limits {
        overall: rate(180, 1000),
        chat: rate(1, 1200),
        group: None,
    };
    let started = tokio::time::Instant::now();
    let ids = crowd(&p, limits, 300).await;
    let drained = started.elapsed();
    every_user_answered_once_in_order(&p, &ids);
    every_refused_call_retried(&p);
    let refused = p.telegram.refused();
    assert!(
        refused.len() <= 6,
        "the bot kept to the limits (a few 429s from scheduling jitter at most): {refused:?}"
    );
    // 600 messages at 180 a second cannot take less than 3 s; each chat's second waits 1.2 s.
    assert!(drained >= Duration::from_secs(3), "{drained:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_limit_are_refused_and_every_one_is_sent_again() {
    let p = pipeline().await;
    p.telegram.enforce_limits(FloodLimits {
        overall: window(100, 1000),
        chat: None,
    });
    // A bot that believes it may send twice as fast as it may: Telegram refuses the surplus.
    let limits = Limits {
        overall: rate(200, 1000),
        chat: None,
        group: None,
    };
    let ids = crowd(&p, limits, 300).await;
    every_user_answered_once_in_order(&p, &ids);
    assert!(!p.telegram.refused().is_empty(), "the fake refused some");
    every_refused_call_retried(&p);
}
