//! The fake driven by the real teloxide client: messages, edits, errors.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{WAIT, setup};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};
use teloxide::{ApiError, RequestError};
use tokenbot_fake_telegram::{Failure, FakeTelegram};

fn keyboard(data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("Yes", data.to_owned()),
        InlineKeyboardButton::callback("No", "no"),
    ]])
}

#[tokio::test]
async fn get_me_decodes() {
    let (fake, bot) = setup().await;
    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.id.0 as i64, FakeTelegram::BOT_ID);
    assert_eq!(me.username(), FakeTelegram::BOT_USERNAME);
    assert!(me.is_bot);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "getMe");
    assert!(calls[0].authorized);
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let (fake, _) = setup().await;
    let bot = Bot::new("999:WRONG").set_api_url(fake.api_url());
    let err = bot.get_me().await.expect_err("401");
    assert!(
        matches!(err, RequestError::Api(ApiError::InvalidToken)),
        "{err:?}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}bot999:WRONG/getMe", fake.api_url()))
        .send()
        .await
        .expect("raw request");
    assert_eq!(raw.status().as_u16(), 401);
    let body: serde_json::Value = raw.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    assert!(fake.calls().iter().all(|c| !c.authorized));
}

#[tokio::test]
async fn send_then_edit_and_not_modified() {
    let (fake, bot) = setup().await;
    let chat = ChatId(42);
    let sent = bot
        .send_message(chat, "Pick one")
        .reply_markup(keyboard("yes"))
        .await
        .expect("sendMessage");
    assert_eq!(sent.text(), Some("Pick one"));
    assert_eq!(sent.chat.id, chat);
    assert_eq!(sent.from.as_ref().map(|u| u.is_bot), Some(true));
    assert_eq!(sent.reply_markup(), Some(&keyboard("yes")));

    let shown = fake.last_message(42).expect("in the chat");
    assert_eq!(shown.message_id, i64::from(sent.id.0));
    assert_eq!(shown.callback_data("Yes").as_deref(), Some("yes"));

    let edited = bot
        .edit_message_text(chat, sent.id, "Picked <b>yes</b>")
        .parse_mode(ParseMode::Html)
        .await
        .expect("editMessageText");
    assert_eq!(edited.text(), Some("Picked yes"));
    assert_eq!(edited.entities().map(<[_]>::len), Some(1));
    assert!(
        edited.reply_markup().is_none(),
        "an edit without markup drops it"
    );
    assert!(edited.edit_date().is_some());

    let again = bot
        .edit_message_text(chat, sent.id, "Picked <b>yes</b>")
        .parse_mode(ParseMode::Html)
        .await
        .expect_err("same content");
    assert!(
        matches!(again, RequestError::Api(ApiError::MessageNotModified)),
        "{again:?}"
    );

    let missing = bot
        .edit_message_text(chat, teloxide::types::MessageId(999), "x")
        .await
        .expect_err("unknown message");
    assert!(
        matches!(missing, RequestError::Api(ApiError::MessageToEditNotFound)),
        "{missing:?}"
    );

    let chat_log = fake.chat(42);
    assert_eq!(chat_log.len(), 1);
    assert_eq!(chat_log[0].text.as_deref(), Some("Picked yes"));
    assert_eq!(chat_log[0].reply_markup, None);
    assert_eq!(fake.calls_to("EDITMESSAGETEXT").len(), 3);
}

#[tokio::test]
async fn edit_reply_markup_and_delete() {
    let (fake, bot) = setup().await;
    let chat = ChatId(7);
    let sent = bot
        .send_message(chat, "Confirm?")
        .reply_markup(keyboard("ok"))
        .await
        .expect("sent");
    let edited = bot
        .edit_message_reply_markup(chat, sent.id)
        .await
        .expect("keyboard removed");
    assert!(edited.reply_markup().is_none());
    let err = bot
        .edit_message_reply_markup(chat, sent.id)
        .await
        .expect_err("already removed");
    assert!(matches!(
        err,
        RequestError::Api(ApiError::MessageNotModified)
    ));
    bot.delete_message(chat, sent.id).await.expect("deleted");
    assert!(fake.chat(7).is_empty());
    let err = bot.delete_message(chat, sent.id).await.expect_err("gone");
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToDeleteNotFound)),
        "{err:?}"
    );
}

#[tokio::test]
async fn fail_next_fails_once_then_succeeds() {
    let (fake, bot) = setup().await;
    fake.fail_next("sendMessage", 1, Failure::blocked());
    let err = bot
        .send_message(ChatId(5), "hello")
        .await
        .expect_err("blocked");
    assert!(
        matches!(err, RequestError::Api(ApiError::BotBlocked)),
        "{err:?}"
    );
    assert!(fake.chat(5).is_empty(), "a failed call has no effect");
    bot.send_message(ChatId(5), "hello")
        .await
        .expect("second one goes through");
    assert_eq!(fake.chat(5).len(), 1);

    fake.fail_next("SendMessage", 1, Failure::retry_after(3));
    let err = bot
        .send_message(ChatId(5), "again")
        .await
        .expect_err("rate limited");
    match err {
        RequestError::RetryAfter(s) => assert_eq!(s.seconds(), 3),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
}

#[tokio::test]
async fn blocked_chat_refuses_everything() {
    let (fake, bot) = setup().await;
    fake.set_blocked(9, true);
    for _ in 0..2 {
        let err = bot
            .send_message(ChatId(9), "hi")
            .await
            .expect_err("blocked");
        assert!(matches!(err, RequestError::Api(ApiError::BotBlocked)));
    }
    fake.set_blocked(9, false);
    bot.send_message(ChatId(9), "hi").await.expect("unblocked");
}

#[tokio::test]
async fn html_must_be_escaped() {
    let (fake, bot) = setup().await;
    let err = bot
        .send_message(ChatId(1), "Your prompt: <script>alert(1)</script>")
        .parse_mode(ParseMode::Html)
        .await
        .expect_err("unescaped");
    match err {
        RequestError::Api(ApiError::CantParseEntities(d)) => assert_eq!(
            d,
            "Bad Request: can't parse entities: Unsupported start tag \"script\" at byte offset 13"
        ),
        other => panic!("expected CantParseEntities, got {other:?}"),
    }
    for bad in ["a & b", "<b>open", "x > y"] {
        let err = bot
            .send_message(ChatId(1), bad)
            .parse_mode(ParseMode::Html)
            .await
            .expect_err(bad);
        assert!(
            matches!(err, RequestError::Api(ApiError::CantParseEntities(_))),
            "{bad}: {err:?}"
        );
    }
    let ok = bot
        .send_message(ChatId(1), "Your prompt: &lt;script&gt; &amp; <i>more</i>")
        .parse_mode(ParseMode::Html)
        .await
        .expect("escaped");
    assert_eq!(ok.text(), Some("Your prompt: <script> & more"));
    // Without a parse mode the same text is just text.
    bot.send_message(ChatId(1), "<script> & >")
        .await
        .expect("plain");
    assert_eq!(fake.chat(1).len(), 2);
}

#[tokio::test]
async fn content_limits() {
    let (_fake, bot) = setup().await;
    let err = bot.send_message(ChatId(1), "  ").await.expect_err("empty");
    assert!(matches!(
        err,
        RequestError::Api(ApiError::MessageTextIsEmpty)
    ));
    let err = bot
        .send_message(ChatId(1), "я".repeat(4097))
        .await
        .expect_err("long");
    assert!(matches!(err, RequestError::Api(ApiError::MessageIsTooLong)));
    bot.send_message(ChatId(1), "я".repeat(4096))
        .await
        .expect("at the limit");
    let err = bot
        .send_message(ChatId(1), "x")
        .reply_markup(keyboard(&"d".repeat(65)))
        .await
        .expect_err("data too long");
    assert!(
        matches!(err, RequestError::Api(ApiError::ButtonDataInvalid)),
        "{err:?}"
    );
    bot.send_message(ChatId(1), "x")
        .reply_markup(keyboard(&"d".repeat(64)))
        .await
        .expect("64 bytes fit");
}

#[tokio::test]
async fn unknown_method_is_404_and_recorded() {
    let (fake, bot) = setup().await;
    let err = bot.send_dice(ChatId(1)).await.expect_err("not implemented");
    assert!(matches!(err, RequestError::Api(_)), "{err:?}");
    assert_eq!(fake.calls_to("sendDice").len(), 1);
}

#[tokio::test]
async fn wait_for_call_sees_a_later_call() {
    let (fake, bot) = setup().await;
    bot.get_me().await.expect("getMe");
    let since = fake.call_count();
    let waiter = fake.wait_for_method(since, WAIT, "sendMessage");
    let sender = async {
        bot.send_message(ChatId(3), "later").await.expect("sent");
    };
    let (call, ()) = tokio::join!(waiter, sender);
    let call = call.expect("seen");
    assert_eq!(call.index, since);
    assert_eq!(call.params["text"], "later");

    let err = fake
        .wait_for_method(fake.call_count(), Duration::from_millis(50), "sendPhoto")
        .await
        .expect_err("nothing comes");
    assert!(err.calls_seen.is_empty());
}

#[tokio::test]
async fn commands_and_chat_action() {
    let (fake, bot) = setup().await;
    bot.set_my_commands(vec![teloxide::types::BotCommand::new("start", "Start")])
        .await
        .expect("setMyCommands");
    let sets = fake.commands();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].commands[0].command, "start");
    bot.send_chat_action(ChatId(2), teloxide::types::ChatAction::UploadPhoto)
        .await
        .expect("sendChatAction");
    let err = bot
        .set_my_commands(vec![teloxide::types::BotCommand::new("Bad Command", "x")])
        .await
        .expect_err("invalid");
    assert!(matches!(err, RequestError::Api(_)));
}
