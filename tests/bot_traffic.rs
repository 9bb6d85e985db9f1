//! The bot under traffic, through the real teloxide client and the fake Bot API: a chat whose
//! answers are slow holds up no other chat (long polling asks for more updates while earlier ones
//! are handled), and a crowd arriving at once is answered within Telegram's limits, every call
//! the fake refuses with 429 sent again after its `retry_after`.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{Call, FloodLimits, TgUser, Update, Window};
use tokenbot_ledger::LedgerConfig;
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
