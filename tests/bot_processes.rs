//! Two bot processes behind one webhook URL (two `App`s, two routers on two ports, one
//! database), receiving one chat's updates interleaved as Telegram's separate queues and a
//! round-robin balancer deliver them: the chat is handled one update at a time across both, the
//! state a reply invites the next step from is saved before that reply, and an update delivered
//! to both takes effect once.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{Call, Conversation, TgUser, Update};
use tokenbot_ledger::LedgerConfig;

const SECRET: &str = "two-processes-secret";
const WAIT: Duration = Duration::from_secs(30);
/// How long the fake holds back every answer to the chat: long enough for the next update to
/// arrive at the other process while the first is still being handled.
const SLOW: Duration = Duration::from_millis(700);

/// A bot process: its own `App` (its own chat locks and Postgres session) and webhook server.
async fn process(p: &Pipeline) -> SocketAddr {
    let app = App::new(p.bot(), p.t.ledger.clone(), BotConfig::default());
    let router = tokenbot_bot::webhook::router(app, SECRET);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// Delivers an update to one process's webhook, as Telegram would; resolves with its status.
fn post(p: &Pipeline, to: SocketAddr, update: Update) -> tokio::task::JoinHandle<u16> {
    let body = p.telegram.prepare_update(update);
    send(to, body)
}

fn send(to: SocketAddr, body: serde_json::Value) -> tokio::task::JoinHandle<u16> {
    tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{to}/webhook"))
            .header(tokenbot_bot::webhook::SECRET_HEADER, SECRET)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

fn edited(c: &Call, chat: i64, needle: &str) -> bool {
    c.method == "editMessageText"
        && c.params["chat_id"].as_i64() == Some(chat)
        && c.params["text"]
            .as_str()
            .is_some_and(|t| t.contains(needle))
}

async fn pipeline() -> Pipeline {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 0;
    Pipeline::start(ledger_with(c).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chat_across_two_processes_stays_in_order_and_charges_what_it_shows() {
    let p = pipeline().await;
    let (a, b) = (process(&p).await, process(&p).await);
    let user = TgUser::new(6001);
    let chat = Conversation::new(&p.telegram, user.clone());
    assert_eq!(
        post(&p, a, Update::text(&user, "/start")).await.unwrap(),
        200
    );
    p.telegram.slow_chat(user.id, SLOW);

    // "Generate" reaches A; the user reads "describe your picture" and types at once; the
    // prompt reaches B while A is still busy with the tap.
    let (message, data) = chat.button("Создать картинку").unwrap();
    let since = p.telegram.call_count();
    let tap = post(&p, a, Update::callback(&user, message, &data));
    p.telegram
        .wait_for_call(since, WAIT, |c| edited(c, user.id, "Создание картинки"))
        .await
        .unwrap();
    let prompt = post(&p, b, Update::text(&user, "a lighthouse at dawn"));
    assert_eq!(tap.await.unwrap(), 200);
    assert_eq!(prompt.await.unwrap(), 200);
    let texts = p.bot_texts(user.id);
    assert!(
        !texts.iter().any(|t| t.contains("Не понимаю")),
        "the prompt found the state the tap invited it in: {texts:?}"
    );
    let screen = texts.last().unwrap();
    assert!(screen.contains("Стоимость: 1056 🪙"), "{screen}");

    // The size changes on A; the user sees the new price and confirms; the confirm reaches B
    // while A is still busy. It must charge for the size on screen.
    let (message, data) = chat.button("Portrait").unwrap();
    let since = p.telegram.call_count();
    let size = post(&p, a, Update::callback(&user, message, &data));
    p.telegram
        .wait_for_call(since, WAIT, |c| edited(c, user.id, "1584"))
        .await
        .unwrap();
    let (message, data) = chat.button("Подтвердить").unwrap();
    let confirm = post(&p, b, Update::callback(&user, message, &data));
    assert_eq!(size.await.unwrap(), 200);
    assert_eq!(confirm.await.unwrap(), 200);
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 1);
    assert_eq!(
        balance(&p.t.ledger, common::user(6001)).await.get(),
        10560 - 1584,
        "charged for the portrait it showed, not the square before it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_delivered_to_both_processes_takes_effect_once() {
    let p = pipeline().await;
    let (a, b) = (process(&p).await, process(&p).await);
    let user = TgUser::new(6002);
    assert_eq!(
        post(&p, a, Update::text(&user, "/start")).await.unwrap(),
        200
    );
    p.telegram.slow_chat(user.id, SLOW);
    let since = p.telegram.call_count();
    let balance = p.telegram.prepare_update(Update::text(&user, "/balance"));
    let (first, second) = (send(a, balance.clone()), send(b, balance));
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(second.await.unwrap(), 200);
    let answers = p
        .telegram
        .calls()
        .into_iter()
        .skip(since)
        .filter(|c| c.method == "sendMessage")
        .count();
    assert_eq!(
        answers, 1,
        "answered once, by whichever process had the chat first"
    );
}
