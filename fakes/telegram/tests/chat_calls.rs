//! Calls read and awaited per chat: what a driver of many chats at once waits on.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{WAIT, setup};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, UpdateKind};
use tokenbot_fake_telegram::{TgUser, Update as TgUpdate};

#[tokio::test]
async fn each_chat_has_its_own_calls_and_a_tap_answer_belongs_to_its_chat() {
    let (fake, bot) = setup().await;
    let (alice, bob) = (TgUser::new(1), TgUser::new(2));
    bot.send_message(ChatId(1), "a1").await.expect("send");
    bot.send_message(ChatId(2), "b1").await.expect("send");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("tap", "t")]]);
    let sent = bot
        .send_message(ChatId(1), "a2")
        .reply_markup(keyboard)
        .await
        .expect("send");
    assert_eq!(fake.chat_call_count(1), 2);
    assert_eq!(fake.chat_call_count(2), 1);
    assert_eq!(fake.chat_call_count(3), 0);

    fake.push_update(TgUpdate::callback(&alice, sent.id.0.into(), "t"));
    fake.push_update(TgUpdate::text(&bob, "hi"));
    let updates = bot.get_updates().await.expect("poll");
    let query = updates
        .iter()
        .find_map(|u| match &u.kind {
            UpdateKind::CallbackQuery(q) => Some(q.id.clone()),
            _ => None,
        })
        .expect("the tap");
    bot.answer_callback_query(query).await.expect("answer");

    let alices: Vec<String> = fake
        .chat_calls_since(1, 1)
        .into_iter()
        .map(|c| c.method)
        .collect();
    assert_eq!(alices, ["sendMessage", "answerCallbackQuery"]);
    assert_eq!(
        fake.chat_calls_since(2, 0).len(),
        1,
        "getUpdates is no chat's"
    );
    assert!(fake.chat_calls_since(2, 5).is_empty());
    let calls = fake.chat_calls_since(1, 0);
    assert!(calls[0].index < calls[1].index && calls[1].at <= calls[2].at);
}

#[tokio::test]
async fn a_chat_waiter_is_woken_by_its_chat_and_not_by_others() {
    let (fake, bot) = setup().await;
    let since = fake.chat_call_count(7);
    let none = fake
        .wait_for_chat_call(7, since, Duration::from_millis(300), |_| true)
        .await;
    assert!(none.is_err(), "nothing in chat 7 yet");

    let waiter = {
        let bot = bot.clone();
        async move {
            bot.send_message(ChatId(8), "other chat")
                .await
                .expect("send");
            bot.send_message(ChatId(7), "mine").await.expect("send");
        }
    };
    let (found, ()) = tokio::join!(
        fake.wait_for_chat_call(7, since, WAIT, |c| c.method == "sendMessage"),
        waiter
    );
    let call = found.expect("chat 7's message");
    assert_eq!(call.params["chat_id"], 7);
    assert_eq!(
        fake.last_message(7).and_then(|m| m.text).as_deref(),
        Some("mine"),
        "its effects are visible"
    );
    let timeout = fake
        .wait_for_chat_call(8, 1, Duration::from_millis(100), |_| true)
        .await
        .expect_err("chat 8 had one call only");
    assert!(timeout.calls_seen.is_empty());
}

#[tokio::test]
async fn polled_past_means_a_later_offset_was_asked_for() {
    let (fake, bot) = setup().await;
    let id = fake.push_update(TgUpdate::text(&TgUser::new(5), "x"));
    let updates = bot.get_updates().await.expect("poll");
    assert_eq!(updates.len(), 1);
    assert!(
        fake.wait_polled_past(id, Duration::from_millis(200))
            .await
            .is_err(),
        "received, not confirmed"
    );
    let (past, confirmed) = tokio::join!(
        fake.wait_polled_past(id, WAIT),
        bot.get_updates().offset(id as i32 + 1).timeout(0)
    );
    confirmed.expect("poll");
    past.expect("the offset passed the update");
}
