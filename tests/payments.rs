//! Buying tokens with Telegram Stars end to end: the bot (real teloxide client, long polling)
//! against the fake Bot API's payments and the real ledger on Postgres. Invoices, pre-checkout
//! answers, exactly-once grants, refunds and verify.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::cut::assert_verify_clean;
use common::pipeline::Pipeline;
use common::*;
use tokenbot_bot::BotConfig;
use tokenbot_fake_telegram::{Invoice, TgUser, Update};
use tokenbot_ledger::{ChargeId, LedgerConfig};

const ADMIN: i64 = 778;
const WELCOME: u64 = 10_560;

async fn pipeline() -> Pipeline {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 0;
    Pipeline::start(ledger_with(c).await).await
}

fn bot_config() -> BotConfig {
    BotConfig {
        admin_ids: vec![user(ADMIN)],
        ..Default::default()
    }
}

/// `/start`, "Купить токены", the package button: the invoice it sent.
async fn invoice_for(p: &Pipeline, chat: &common::chat::Chat<'_>, package: &str) -> Invoice {
    chat.say("/start").await;
    let screen = chat
        .0
        .tap_data("menu:tokens")
        .await
        .expect("button")
        .expect("handled");
    assert!(
        screen.text().contains("50000 🪙 — 50 ⭐"),
        "{}",
        screen.text()
    );
    let data = format!("tokens:buy:{package}");
    chat.0
        .tap_data(&data)
        .await
        .expect("button")
        .expect("handled");
    let invoices = p.telegram.invoices(chat.user().id);
    invoices.last().cloned().expect("an invoice was sent")
}

/// Waits until the bot answered the pre-checkout query `id`.
async fn answered(p: &Pipeline, id: &str) -> tokenbot_fake_telegram::PreCheckoutAnswer {
    p.telegram
        .wait_for_call(0, Duration::from_secs(30), |c| {
            c.method == "answerPreCheckoutQuery"
                && c.params["pre_checkout_query_id"].as_str() == Some(id)
        })
        .await
        .expect("answered");
    p.telegram.pre_checkout_answer(id).expect("recorded")
}

async fn purchase_grants(p: &Pipeline) -> i64 {
    let client = p.t.db.pool().get().await.expect("client");
    client
        .query_one(
            "SELECT count(*) FROM ledger.events \
             WHERE event_type = 'TokensGranted' AND data->>'kind' = 'purchase'",
            &[],
        )
        .await
        .expect("count")
        .get(0)
}

/// Waits for a message to `chat` containing `needle` sent at or after call `since`.
async fn message_containing(p: &Pipeline, since: usize, chat: i64, needle: &str) -> String {
    let call = p
        .telegram
        .wait_for_call(since, Duration::from_secs(30), |c| {
            c.method == "sendMessage"
                && c.params["chat_id"].as_i64() == Some(chat)
                && c.params["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(needle))
        })
        .await
        .unwrap_or_else(|e| panic!("no message with {needle:?}: {e}"));
    call.params["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn buy_pay_and_one_grant_even_when_the_payment_is_delivered_twice() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(3001));
    let invoice = invoice_for(&p, &chat, "pack_50k").await;
    assert_eq!(invoice.currency, "XTR");
    assert_eq!(invoice.total_amount, 50);
    assert_eq!(invoice.title, "50000 токенов");

    let since = p.telegram.call_count();
    let query = p.telegram.pay(chat.user(), &invoice);
    assert!(answered(&p, &query).await.ok);
    let receipt = message_containing(&p, since, 3001, "Оплата получена").await;
    let balance = WELCOME + 50_000;
    assert!(
        receipt.contains(&format!("Ваш баланс: <b>{balance}</b> 🪙")),
        "{receipt}"
    );
    let payments = p.telegram.payments();
    assert_eq!(payments.len(), 1);
    assert!(receipt.contains(&payments[0].charge_id), "{receipt}");

    // Telegram delivers the same payment again (a retry, another process): no second grant.
    let id = p.telegram.redeliver_payment(&payments[0]);
    p.telegram
        .wait_for_call(0, Duration::from_secs(30), |c| {
            c.method == "getUpdates" && c.params["offset"].as_i64().is_some_and(|o| o > id)
        })
        .await
        .expect("handled");
    assert_eq!(purchase_grants(&p).await, 1);
    assert_eq!(count_events(&p.t.db, "PurchasePaid").await, 1);
    assert_eq!(balance_of(&p, 3001).await, balance);

    // The invoice cannot be paid a second time.
    let again = p.telegram.pay(chat.user(), &invoice);
    let refused = answered(&p, &again).await;
    assert!(!refused.ok);
    assert!(
        refused
            .error_message
            .unwrap_or_default()
            .contains("уже оплачен"),
        "a clear reason"
    );
    assert_eq!(p.telegram.payments().len(), 1);
    let support = chat.say("/paysupport").await;
    assert!(
        support.text().contains("@support_bot"),
        "{}",
        support.text()
    );
    assert_verify_clean(&p.t.ledger).await;
}

async fn balance_of(p: &Pipeline, id: i64) -> u64 {
    balance(&p.t.ledger, user(id)).await.get()
}

#[tokio::test]
async fn forged_and_stale_payloads_are_refused_at_pre_checkout_with_no_grant() {
    let p = pipeline().await;
    let short = BotConfig {
        offer_ttl: Duration::ZERO,
        ..bot_config()
    };
    let _bot = p.spawn_bot(short, p.shutdown.clone());
    let anna = p.chat(TgUser::new(3011).lang("en"));
    let stale = invoice_for(&p, &anna, "pack_150k").await;
    let cases = [
        // Expired: offers in this bot live for no time at all.
        (stale.payload.clone(), 125, "XTR", "expired"),
        // The right offer at another price, or in another currency.
        (stale.payload.clone(), 1, "XTR", "not valid"),
        (stale.payload.clone(), 125, "USD", "not valid"),
        // A purchase id nobody offered, and a payload that is not ours at all.
        (
            format!("p:{}:pack_500k", uuid::Uuid::now_v7()),
            350,
            "XTR",
            "not valid",
        ),
        ("give me tokens".to_string(), 350, "XTR", "not valid"),
    ];
    for (payload, amount, currency, reason) in cases {
        let id = p
            .telegram
            .pre_checkout(anna.user(), &payload, currency, amount);
        let answer = answered(&p, &id).await;
        assert!(!answer.ok, "{payload} {amount} {currency}");
        let message = answer.error_message.unwrap_or_default();
        assert!(message.contains(reason), "{message}");
    }
    // Somebody else's live offer.
    let live = BotConfig::default().offer_ttl;
    assert!(live > Duration::ZERO);
    let id = p
        .telegram
        .pre_checkout(&TgUser::new(3012), &stale.payload, "XTR", 125);
    assert!(!answered(&p, &id).await.ok);

    assert!(p.telegram.payments().is_empty(), "nothing was charged");
    assert_eq!(purchase_grants(&p).await, 0);
    assert_eq!(balance_of(&p, 3011).await, WELCOME);
}

#[tokio::test]
async fn pre_checkout_is_answered_within_ten_seconds_while_the_bot_is_busy() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let buyer = p.chat(TgUser::new(3021));
    let invoice = invoice_for(&p, &buyer, "pack_50k").await;
    // Load: sixty users registering and asking for their balance, queued at once, with the
    // pre-checkout query in the middle of them; and the buyer's own chat busy too.
    for i in 0..60 {
        let u = TgUser::new(3100 + i);
        p.telegram.push_update(Update::text(&u, "/start"));
        p.telegram.push_update(Update::text(&u, "/balance"));
        if i == 30 {
            for _ in 0..5 {
                p.telegram
                    .push_update(Update::text(buyer.user(), "/balance"));
            }
        }
    }
    let started = Instant::now();
    let query = p.telegram.pay(buyer.user(), &invoice);
    for i in 0..60 {
        p.telegram
            .push_update(Update::text(&TgUser::new(3100 + i), "/balance"));
    }
    let answer = answered(&p, &query).await;
    let took = started.elapsed();
    assert!(answer.ok);
    // Telegram cancels a payment whose pre-checkout query is not answered within 10 s.
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    message_containing(&p, 0, 3021, "Оплата получена").await;
    assert_eq!(purchase_grants(&p).await, 1);
}

/// A paid purchase of `pack_50k` by `id`: its charge id.
async fn paid(p: &Pipeline, id: i64) -> ChargeId {
    let chat = p.chat(TgUser::new(id));
    let invoice = invoice_for(p, &chat, "pack_50k").await;
    let since = p.telegram.call_count();
    let query = p.telegram.pay(chat.user(), &invoice);
    assert!(answered(p, &query).await.ok);
    message_containing(p, since, id, "Оплата получена").await;
    let payment = p
        .telegram
        .payments()
        .into_iter()
        .find(|x| x.user_id == id)
        .expect("paid");
    payment.charge_id.parse().expect("a charge id")
}

#[tokio::test]
async fn an_unspent_purchase_is_refunded_once_and_a_spent_one_is_refused() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let admin = p.chat(TgUser::new(ADMIN));
    let charge = paid(&p, 3031).await;

    let done = admin.say(&format!("/refund {charge}")).await;
    assert!(done.text().contains("Возврат выполнен"), "{}", done.text());
    assert_eq!(balance_of(&p, 3031).await, WELCOME);
    let refunded = p.telegram.payments();
    assert!(
        refunded
            .iter()
            .any(|x| x.charge_id == charge.as_str() && x.refunded)
    );
    message_containing(&p, 0, 3031, "возвращён").await;
    // Again: the ledger answers the first refund, Telegram's "already refunded" is no error.
    let again = admin.say(&format!("/refund {charge}")).await;
    assert!(again.text().contains("уже возвращён"), "{}", again.text());
    assert_eq!(count_events(&p.t.db, "TokensReclaimed").await, 1);

    // Spent: the buyer's tokens went below what the purchase gave.
    let spent = paid(&p, 3032).await;
    let left = spend_below(&p, 3032, 50_000).await;
    let refused = admin.say(&format!("/refund {spent}")).await;
    assert!(
        refused.text().contains("уже потрачены"),
        "{}",
        refused.text()
    );
    assert_eq!(
        balance_of(&p, 3032).await,
        left,
        "never negative, nothing taken"
    );
    assert!(
        p.telegram
            .payments()
            .iter()
            .any(|x| x.charge_id == spent.as_str() && !x.refunded)
    );
    let unknown = admin.say("/refund stxNoSuchCharge").await;
    assert!(unknown.text().contains("не найден"), "{}", unknown.text());
    let stranger = p.chat(TgUser::new(3033));
    let no = stranger.say(&format!("/refund {spent}")).await;
    assert!(!no.text().contains("Возврат"), "{}", no.text());
    assert_verify_clean(&p.t.ledger).await;

    // The read side: revenue counts the purchase still paid, not the refunded one.
    let everything = last_cursor(&p.t.db).await;
    reached(&mut p.projected.clone(), everything, "projector").await;
    let client = p.t.db.pool().get().await.expect("client");
    let rows = client
        .query(
            "SELECT status, stars FROM projections.purchases WHERE charge_id IS NOT NULL \
             ORDER BY paid_at",
            &[],
        )
        .await
        .expect("purchases");
    let statuses: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(statuses, [("refunded".into(), 50), ("paid".into(), 50)]);
}

/// Spends `id`'s tokens on high-quality tasks until fewer than `below` are left; the balance.
async fn spend_below(p: &Pipeline, id: i64, below: u64) -> u64 {
    let u = user(id);
    loop {
        let now = balance(&p.t.ledger, u).await.get();
        if now < below {
            return now;
        }
        let mut request = low_task(u, "spend");
        request.quality = tokenbot_ledger::Quality::High;
        p.t.ledger
            .request_task(&ctx(u), request)
            .await
            .expect("debited");
    }
}

const KEY: &str = "test-admin-key-0123456789";

#[tokio::test]
async fn the_admin_api_pages_payments_shows_revenue_and_refunds() {
    use std::sync::Arc;
    use tokenbot_api::{AdminState, router};

    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let first = paid(&p, 3041).await;
    let second = paid(&p, 3042).await;
    let (bot, ledger) = (
        tokenbot_telegram::Telegram::from(p.bot()),
        p.t.ledger.clone(),
    );
    let hook: tokenbot_api::ReturnStars = Arc::new(move |refund| {
        let (bot, ledger) = (bot.clone(), ledger.clone());
        Box::pin(async move {
            tokenbot_bot::stars::return_stars(&bot, &ledger, &refund)
                .await
                .map_err(|e| e.to_string())
        })
    });
    let with_stars =
        router(AdminState::new(p.t.ledger.clone(), Some(KEY), vec![]).with_return_stars(hook));
    let without = router(AdminState::new(p.t.ledger.clone(), Some(KEY), vec![]));
    let base = |app: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    };
    let (api, no_bot) = (base(with_stars).await, base(without).await);
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, url: String| {
        let http = http.clone();
        async move {
            let r = http
                .request(method, url)
                .header("X-Admin-API-Key", KEY)
                .send()
                .await
                .expect("answered");
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };

    // Without a Telegram client a refund writes nothing.
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{no_bot}/admin/payments/{first}/refund"),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(count_events(&p.t.db, "TokensReclaimed").await, 0);

    let (status, body) = call(
        reqwest::Method::POST,
        format!("{api}/admin/payments/{first}/refund"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stars"], 50);
    assert_eq!(body["already_refunded"], false);
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{api}/admin/payments/{first}/refund"),
    )
    .await;
    assert_eq!(
        (status, body["already_refunded"].clone()),
        (200, serde_json::json!(true))
    );
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{api}/admin/payments/stxUnknown/refund"),
    )
    .await;
    assert_eq!(status, 404);
    spend_below(&p, 3042, 50_000).await;
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{api}/admin/payments/{second}/refund"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already spent"),
        "{body}"
    );

    let everything = last_cursor(&p.t.db).await;
    reached(&mut p.projected.clone(), everything, "projector").await;
    let (status, page) = call(
        reqwest::Method::GET,
        format!("{api}/admin/payments?limit=1"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["payments"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["payments"][0]["charge_id"], second.as_str());
    assert_eq!(page["next_page"], 2);
    let (_, last) = call(
        reqwest::Method::GET,
        format!("{api}/admin/payments?limit=1&page=2"),
    )
    .await;
    assert_eq!(last["payments"][0]["status"], "refunded");
    assert_eq!(last["next_page"], serde_json::Value::Null);
    let (_, stats) = call(reqwest::Method::GET, format!("{api}/admin/stats")).await;
    assert_eq!(stats["revenue"]["stars"], 50, "{stats}");
    assert_eq!(stats["revenue"]["paying_users"], 1);
    assert_eq!(stats["revenue"]["refunds"], 1);
    assert_verify_clean(&p.t.ledger).await;
}

#[tokio::test]
async fn two_bot_processes_handed_the_same_payment_grant_it_once() {
    use tokenbot_bot::App;
    use tokenbot_ledger::TokenPackage;

    let p = pipeline().await;
    let buyer = user(3051);
    open_with(&p.t.ledger, buyer, 0).await;
    let before = balance_of(&p, 3051).await;
    let package = TokenPackage::defaults().remove(0);
    let offer =
        p.t.ledger
            .offer_purchase(&ctx(buyer), buyer, package, chrono::Duration::hours(1))
            .await
            .expect("offered")
            .value;
    let from = TgUser::new(3051);
    let message = serde_json::json!({
        "message": {
            "message_id": 7,
            "date": 1_700_000_000,
            "chat": { "id": 3051, "type": "private", "first_name": from.first_name },
            "from": { "id": 3051, "is_bot": false, "first_name": from.first_name, "language_code": "ru" },
            "successful_payment": {
                "currency": "XTR",
                "total_amount": 50,
                "invoice_payload": format!("p:{}:pack_50k", offer.purchase_id),
                "telegram_payment_charge_id": "stxTwoProcesses",
                "provider_payment_charge_id": "",
            }
        }
    });
    // Two processes (two Apps, each with its own batch writer's callers) get the update at
    // once, then each gets a redelivery of it under another update id.
    let (one, two) = (
        App::new(p.bot(), p.t.ledger.clone(), bot_config()),
        App::new(p.bot(), p.t.ledger.clone(), bot_config()),
    );
    for _ in 0..2 {
        let update = p.telegram.prepare_update(Update::raw(message.clone()));
        let decoded: teloxide::types::Update =
            serde_json::from_str(&update.to_string()).expect("an update");
        let (a, b) = tokio::join!(
            one.handle_update(decoded.clone()),
            two.handle_update(decoded)
        );
        a.expect("handled");
        b.expect("handled");
    }
    assert_eq!(purchase_grants(&p).await, 1);
    assert_eq!(balance_of(&p, 3051).await, before + 50_000);
    let receipts = p
        .telegram
        .calls_to("sendMessage")
        .into_iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("Оплата получена"))
        })
        .count();
    assert!(
        receipts >= 2,
        "every delivery is answered with the one receipt"
    );
    assert!(
        p.telegram.calls_to("refundStarPayment").is_empty(),
        "nothing given back"
    );
    assert_verify_clean(&p.t.ledger).await;
}
