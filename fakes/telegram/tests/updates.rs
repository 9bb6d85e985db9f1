//! Incoming updates: long polling, webhooks, and teloxide decoding every builder.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::{WAIT, setup};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, UpdateKind};
use teloxide::{ApiError, RequestError};
use tokenbot_fake_telegram::{TgUser, Update as TgUpdate};

fn message(update: &teloxide::types::Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn long_poll_returns_an_update_pushed_while_waiting() {
    let (fake, bot) = setup().await;
    let user = TgUser::new(42).lang("en");
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await }
    });
    fake.wait_for_method(0, WAIT, "getUpdates")
        .await
        .expect("the bot is polling");
    let id = fake.push_update(TgUpdate::text(&user, "/start ref_1"));
    assert_eq!(id, 1);

    let updates = tokio::time::timeout(WAIT, poll)
        .await
        .expect("answered before its timeout")
        .expect("task")
        .expect("getUpdates");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].id.0, 1);
    let m = message(&updates[0]);
    assert_eq!(m.text(), Some("/start ref_1"));
    assert_eq!(m.chat.id, ChatId(42));
    let from = m.from.as_ref().expect("from");
    assert_eq!(from.language_code.as_deref(), Some("en"));
    let entities = m.entities().expect("command entity");
    assert_eq!((entities[0].offset, entities[0].length), (0, 6));

    // Not confirmed yet: asked again, it comes again; confirmed by offset, it is gone.
    let again = bot.get_updates().await.expect("again");
    assert_eq!(again.len(), 1);
    let after = bot.get_updates().offset(2).await.expect("confirmed");
    assert!(after.is_empty());
    assert!(fake.pending_updates().is_empty());
    assert_eq!(fake.push_update(TgUpdate::text(&user, "next")), 2);
}

#[tokio::test]
async fn long_poll_times_out_empty() {
    let (fake, bot) = setup().await;
    let updates = bot.get_updates().timeout(1).await.expect("getUpdates");
    assert!(updates.is_empty());
    assert_eq!(fake.calls_to("getUpdates").len(), 1);
}

#[tokio::test]
async fn a_second_poll_terminates_the_first() {
    let (fake, bot) = setup().await;
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await }
    });
    fake.wait_for_method(0, WAIT, "getUpdates")
        .await
        .expect("first poll");
    let second = bot.get_updates().await.expect("second poll");
    assert!(second.is_empty());
    let err = first
        .await
        .expect("task")
        .expect_err("terminated by the second");
    assert!(
        matches!(
            err,
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn teloxide_decodes_every_builder() {
    let (fake, bot) = setup().await;
    let user = TgUser::new(77).username("alice");
    let picture = {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        b.extend_from_slice(&800u32.to_be_bytes());
        b.extend_from_slice(&600u32.to_be_bytes());
        b
    };
    let file = fake.add_file(picture, None, Some("image/png"));
    let sent = bot
        .send_message(ChatId(77), "Generate?")
        .reply_markup(InlineKeyboardMarkup::new(vec![vec![
            InlineKeyboardButton::callback("Go", "go:1"),
        ]]))
        .await
        .expect("bot message");

    fake.push_update(TgUpdate::text(&user, "a cat in a hat"));
    fake.push_update(TgUpdate::photo(&user, &file, Some("make it blue")));
    fake.push_update(TgUpdate::document(&user, &file, "cat.png", "image/png"));
    fake.push_update(TgUpdate::sticker(&user));
    fake.push_update(TgUpdate::location(&user, 55.75, 37.62));
    fake.push_update(TgUpdate::callback(&user, i64::from(sent.id.0), "go:1"));
    fake.push_update(TgUpdate::callback(&user, 999, "stale"));

    for raw in fake.pending_updates() {
        // From text: teloxide's Update cannot be decoded from a `serde_json::Value`.
        let decoded: teloxide::types::Update =
            serde_json::from_str(&raw.to_string()).expect("decodes");
        assert!(!matches!(decoded.kind, UpdateKind::Error(_)), "{raw}");
    }

    let updates = bot.get_updates().await.expect("getUpdates");
    assert_eq!(updates.len(), 7);
    let ids: Vec<u32> = updates.iter().map(|u| u.id.0).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7]);

    let text = message(&updates[0]);
    assert_eq!(text.text(), Some("a cat in a hat"));
    assert!(text.entities().is_none_or(<[_]>::is_empty));
    // The bot's message took id 1 in this chat, so the user's first one is 2.
    assert_eq!(text.id.0, 2);
    assert_eq!(text.chat.username(), Some("alice"));

    let photo = message(&updates[1]);
    let sizes = photo.photo().expect("photo");
    assert_eq!(sizes.last().map(|p| &p.file.id.0), Some(&file.file_id));
    assert_eq!(sizes.last().map(|p| (p.width, p.height)), Some((800, 600)));
    assert_eq!(photo.caption(), Some("make it blue"));

    let doc = message(&updates[2]).document().expect("document");
    assert_eq!(doc.file_name.as_deref(), Some("cat.png"));
    assert_eq!(doc.file.id.0, file.file_id);

    assert!(message(&updates[3]).sticker().is_some());
    let loc = message(&updates[4]).location().expect("location");
    assert!((loc.latitude - 55.75).abs() < 1e-9);

    let UpdateKind::CallbackQuery(q) = &updates[5].kind else {
        panic!("expected a callback query: {:?}", updates[5].kind);
    };
    assert_eq!(q.data.as_deref(), Some("go:1"));
    assert_eq!(q.from.id.0, 77);
    let pressed = q
        .message
        .as_ref()
        .and_then(|m| m.regular_message())
        .expect("the bot's message");
    assert_eq!(pressed.id, sent.id);
    assert_eq!(pressed.text(), Some("Generate?"));
    assert!(pressed.reply_markup().is_some());
    bot.answer_callback_query(q.id.clone())
        .await
        .expect("answered");

    let UpdateKind::CallbackQuery(stale) = &updates[6].kind else {
        panic!("expected a callback query");
    };
    assert!(
        stale
            .message
            .as_ref()
            .is_some_and(|m| m.regular_message().is_none()),
        "an unknown message is inaccessible"
    );

    // The chat as the user sees it: the bot's question, then the user's five messages.
    let chat = fake.chat(77);
    assert_eq!(chat.len(), 6);
    assert!(chat[0].from_bot && !chat[1].from_bot);
    assert_eq!(chat[2].photo.as_deref(), Some(file.file_id.as_str()));
    assert_eq!(chat[2].text.as_deref(), Some("make it blue"));
}

#[tokio::test]
async fn answering_an_unknown_callback_fails() {
    let (_fake, bot) = setup().await;
    let err = bot
        .answer_callback_query(teloxide::types::CallbackQueryId("nope".to_owned()))
        .await
        .expect_err("unknown query");
    assert!(matches!(err, RequestError::Api(_)));
}

#[tokio::test]
async fn drop_pending_updates_with_negative_offset() {
    let (fake, bot) = setup().await;
    let user = TgUser::new(5);
    for i in 0..3 {
        fake.push_update(TgUpdate::text(&user, &format!("m{i}")));
    }
    let last = bot.get_updates().offset(-1).await.expect("last only");
    assert_eq!(last.len(), 1);
    assert_eq!(message(&last[0]).text(), Some("m2"));
    assert_eq!(fake.pending_updates().len(), 1);
}

const SECRET: &str = "S3cret_token-1";

/// A webhook receiver that answers 200 only with the right secret header.
async fn receiver() -> (
    reqwest::Url,
    tokio::sync::mpsc::UnboundedReceiver<(Option<String>, String)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let secret = headers
                    .get("x-telegram-bot-api-secret-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let ok = secret.as_deref() == Some(SECRET);
                let _ = tx.send((secret, body));
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = reqwest::Url::parse(&format!("http://{addr}/hook")).expect("url");
    (url, rx)
}

#[tokio::test]
async fn webhook_delivery_with_secret() {
    let (fake, bot) = setup().await;
    let (url, mut received) = receiver().await;
    bot.set_webhook(url.clone())
        .secret_token(SECRET.to_owned())
        .drop_pending_updates(true)
        .await
        .expect("setWebhook");
    let hook = fake.webhook().expect("set");
    assert_eq!(hook.url, url.as_str());
    assert_eq!(hook.secret_token.as_deref(), Some(SECRET));
    assert!(hook.drop_pending_updates);
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url.as_ref(), Some(&url));

    let err = bot.get_updates().await.expect_err("webhook is active");
    match err {
        RequestError::Api(ApiError::Unknown(d)) => assert!(d.contains("webhook is active"), "{d}"),
        other => panic!("{other:?}"),
    }

    let user = TgUser::new(42);
    let status = fake
        .post_webhook(TgUpdate::text(&user, "hello"))
        .await
        .expect("posted");
    assert_eq!(status, 200);
    let (secret, body) = received.recv().await.expect("delivered");
    assert_eq!(secret.as_deref(), Some(SECRET));
    // teloxide's Update reads its keys borrowed: it decodes from text, not from a `Value`.
    let update: teloxide::types::Update = serde_json::from_str(&body).expect("decodes");
    assert_eq!(message(&update).text(), Some("hello"));
    assert_eq!(
        fake.last_message(42).and_then(|m| m.text).as_deref(),
        Some("hello")
    );

    let forged = fake
        .post_webhook_with_secret(TgUpdate::text(&user, "forged"), Some("wrong"))
        .await
        .expect("posted");
    assert_eq!(forged, 401);
    let missing = fake
        .post_webhook_with_secret(TgUpdate::text(&user, "no secret"), None)
        .await
        .expect("posted");
    assert_eq!(missing, 401);
    assert_eq!(
        received.recv().await.map(|r| r.0),
        Some(Some("wrong".into()))
    );
    assert_eq!(received.recv().await.map(|r| r.0), Some(None));

    bot.delete_webhook().await.expect("deleteWebhook");
    assert!(fake.webhook().is_none());
    bot.get_updates().await.expect("polling works again");
}

#[tokio::test]
async fn bad_secret_token_is_refused() {
    let (fake, bot) = setup().await;
    let (url, _received) = receiver().await;
    let err = bot
        .set_webhook(url)
        .secret_token("has spaces".to_owned())
        .await
        .expect_err("bad characters");
    assert!(matches!(err, RequestError::Api(_)));
    assert!(fake.webhook().is_none());
}

#[tokio::test]
async fn prepared_update_enters_the_chat_without_queueing() {
    let (fake, _bot) = setup().await;
    let user = TgUser::new(11);
    let json = fake.prepare_update(TgUpdate::text(&user, "in-process"));
    assert_eq!(json["update_id"], 1);
    assert!(fake.pending_updates().is_empty());
    let update: teloxide::types::Update = serde_json::from_str(&json.to_string()).expect("decodes");
    assert_eq!(message(&update).text(), Some("in-process"));
    assert_eq!(fake.chat(11).len(), 1);
}
