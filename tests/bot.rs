//! The Telegram bot end to end: scripted conversations through the fake Bot API (real teloxide
//! client, long polling or webhook), against the real ledger on Postgres. Each test asserts what
//! the user sees and what the ledger recorded.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pipeline::Pipeline;
use common::*;
use tokenbot_bot::BotConfig;
use tokenbot_fake_telegram::{TgUser, Update};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{LedgerConfig, TaskStatus};

/// The seed's prices and grant, no hourly limit unless a test sets one.
async fn pipeline_with(config: LedgerConfig) -> Pipeline {
    Pipeline::start(ledger_with(config).await).await
}

async fn pipeline() -> Pipeline {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 0;
    pipeline_with(c).await
}

const ADMIN: i64 = 777;

fn bot_config() -> BotConfig {
    BotConfig {
        admin_ids: vec![user(ADMIN)],
        ..Default::default()
    }
}

#[tokio::test]
async fn start_registers_once_and_welcomes_back() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2001).username("anna"));
    let first = chat.say("/start").await;
    assert!(
        first.text().contains("Добро пожаловать"),
        "{}",
        first.text()
    );
    assert!(first.text().contains("10560 🪙"), "{}", first.text());
    assert_eq!(
        first.last.as_ref().expect("welcome").buttons().len(),
        7,
        "3x2 menu and the guide"
    );
    let again = chat.say("/start").await;
    assert!(again.text().contains("С возвращением"), "{}", again.text());
    // Long polling asks for the kinds the bot handles only.
    let polls = p.telegram.calls_to("getUpdates");
    assert!(!polls.is_empty());
    for call in polls {
        assert_eq!(
            call.params["allowed_updates"],
            serde_json::json!(["message", "callback_query", "pre_checkout_query"])
        );
    }
    assert_eq!(count_events(&p.t.db, "AccountOpened").await, 1);
    assert_eq!(count_events(&p.t.db, "TokensGranted").await, 1);

    let english = p.chat(TgUser::new(2002).lang("en"));
    assert!(english.say("/start").await.text().contains("Welcome"));
}

#[tokio::test]
async fn generate_with_quality_change_and_the_high_cost_double_confirmation() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2010));
    chat.say("/start").await;
    let ask = chat.tap("Создать картинку").await;
    assert!(ask.text().contains("Опишите"), "{}", ask.text());
    // Markup in a prompt is shown as typed (the fake rejects unescaped HTML like Telegram does).
    let screen = chat.say("a cat <script>alert(1)</script> & a dog").await;
    let text = screen.text();
    assert!(
        text.contains("a cat <script>alert(1)</script> & a dog"),
        "{text}"
    );
    assert!(text.contains("Стоимость: 1056 🪙"), "{text}");
    assert!(text.ends_with("Подтвердить генерацию?"), "{text}");

    let high = chat.tap("High").await;
    assert!(
        high.text().contains("Стоимость: 4160 🪙"),
        "{}",
        high.text()
    );
    // Tapping the option already selected changes nothing and shows no error.
    let same = chat.tap("✅ High").await;
    assert!(same.sent().is_empty());
    let second = chat.tap("Подтвердить").await;
    assert!(second.text().ends_with("ещё раз?"), "{}", second.text());
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 0, "not yet");
    let created = chat.tap("Подтвердить").await;
    assert!(
        created.text().contains("Задача создана"),
        "{}",
        created.text()
    );
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 1);
    assert_eq!(balance(&p.t.ledger, user(2010)).await.get(), 10560 - 4160);
    // The quality choice is remembered as the user's default.
    let settings =
        p.t.ledger
            .account(user(2010))
            .await
            .expect("read")
            .expect("account")
            .0
            .settings;
    assert_eq!(settings.quality, tokenbot_ledger::Quality::High);
}

#[tokio::test]
async fn a_double_tapped_confirm_creates_one_task_and_one_debit() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2020));
    chat.say("/start").await;
    chat.tap("Создать картинку").await;
    chat.say("twice").await;
    let (message, data) = chat.button("Подтвердить");
    // Both taps queued before the bot sees either; then a third, as a late duplicate.
    p.telegram
        .push_update(Update::callback(chat.user(), message, &data));
    chat.deliver(Update::callback(chat.user(), message, &data))
        .await;
    let late = chat
        .deliver(Update::callback(chat.user(), message, &data))
        .await;
    assert!(late.toast().is_some(), "a stale tap is answered");
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 1);
    assert_eq!(count_events(&p.t.db, "TokensDebited").await, 1);
}

#[tokio::test]
async fn cancel_insufficient_balance_and_the_rate_limit() {
    let mut c = LedgerConfig::seed_default();
    c.max_tasks_per_hour = 2;
    let p = pipeline_with(c).await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2030));
    chat.say("/start").await;

    chat.tap("Создать картинку").await;
    chat.say("never mind").await;
    let cancelled = chat.tap("Отмена").await;
    assert!(
        cancelled.text().contains("Генерация отменена"),
        "{}",
        cancelled.text()
    );

    // High portrait costs 6240: the first fits in 10560, the second does not.
    for _ in 0..2 {
        chat.tap("Создать картинку").await;
        chat.say("a tall tower").await;
        chat.tap("Portrait").await;
        chat.tap("High").await;
        chat.tap("Подтвердить").await;
        chat.tap("Подтвердить").await;
    }
    let short = chat.calls_text("Недостаточно токенов");
    assert!(short.contains("Требуется: 6240 🪙"), "{short}");
    assert!(short.contains("Ваш баланс: 4320 🪙"), "{short}");
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 1);

    // The draft stays: a cheaper quality on the same screen goes through.
    chat.tap("Low").await;
    let ok = chat.tap("Подтвердить").await;
    assert!(ok.text().contains("Задача создана"), "{}", ok.text());
    // That was the second task this hour; a third is refused with the original's message.
    chat.tap("Создать картинку").await;
    chat.say("one more").await;
    chat.tap("Low").await;
    let limited = chat.tap("Подтвердить").await;
    assert!(
        limited
            .sent()
            .iter()
            .any(|t| t.contains("Превышен лимит запросов")),
        "{:?}",
        limited.sent()
    );
    assert_eq!(count_events(&p.t.db, "TaskRequested").await, 2);
}

#[tokio::test]
async fn edit_accepts_photos_and_images_and_says_what_else_is_wrong() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2040));
    chat.say("/start").await;
    let ask = chat.tap("Редактировать фото").await;
    assert!(
        ask.text().contains("Отправьте изображение"),
        "{}",
        ask.text()
    );
    let sticker = chat.deliver(Update::sticker(chat.user())).await;
    assert!(
        sticker.text().contains("Пожалуйста, отправьте изображение"),
        "{}",
        sticker.text()
    );
    let pdf = p.telegram.add_file(
        b"%PDF-1.4".to_vec(),
        Some("doc.pdf"),
        Some("application/pdf"),
    );
    let wrong = chat
        .deliver(Update::document(
            chat.user(),
            &pdf,
            "doc.pdf",
            "application/pdf",
        ))
        .await;
    assert!(
        wrong.text().contains("Неподдерживаемый формат"),
        "{}",
        wrong.text()
    );
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[1u8; 100][..]].concat();
    let photo = p.telegram.add_file(jpeg, Some("p.jpg"), Some("image/jpeg"));
    let got = chat.deliver(Update::photo(chat.user(), &photo, None)).await;
    assert!(got.text().contains("Фото получено"), "{}", got.text());
    let non_text = chat.deliver(Update::sticker(chat.user())).await;
    assert!(
        non_text.text().contains("текстовое описание изменений"),
        "{}",
        non_text.text()
    );
    let screen = chat.say("make it winter").await;
    assert!(
        screen.text().contains("Подтверждение редактирования"),
        "{}",
        screen.text()
    );
    let created = chat.tap("Подтвердить").await;
    assert!(
        created.text().contains("редактируется"),
        "{}",
        created.text()
    );
    let client = p.t.db.pool().get().await.expect("client");
    let row = client
        .query_one(
            "SELECT data->>'kind', data->>'source_file_id' FROM ledger.events WHERE event_type = 'TaskRequested'",
            &[],
        )
        .await
        .expect("task");
    assert_eq!(row.get::<_, String>(0), "edit");
    assert!(row.get::<_, Option<String>>(1).is_some());
}

#[tokio::test]
async fn templates_models_shop_guide_help_and_cancel() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2050));
    chat.say("/start").await;

    let list = chat.tap("Идеи и тренды").await;
    assert!(list.text().contains("Идеи и тренды"), "{}", list.text());
    let screen = chat.tap("Киберпанк").await;
    assert!(
        screen.text().contains("cyberpunk portrait"),
        "{}",
        screen.text()
    );
    let created = chat.tap("Подтвердить").await;
    assert!(created.text().contains("Шаблон"), "{}", created.text());

    let models = chat.tap("Выбрать модель").await;
    assert!(models.text().contains("Выбор модели"), "{}", models.text());
    chat.tap("GPT Image 1.5").await;
    let again = chat.tap("GPT Image 1.5").await;
    assert!(again.toast().unwrap_or_default().contains("уже выбрана"));
    assert_eq!(count_events(&p.t.db, "SettingsChanged").await, 1);

    let menu = chat.tap("Назад в меню").await;
    assert!(menu.text().contains("Главное меню"), "{}", menu.text());
    let shop = chat.tap("Купить токены").await;
    assert!(shop.text().contains("50000 🪙 — 50 ⭐"), "{}", shop.text());
    chat.tap("150000 🪙").await;
    let invoices = p.telegram.invoices(chat.user().id);
    assert_eq!(invoices.len(), 1, "the package button sends its invoice");
    assert_eq!(invoices[0].total_amount, 125);

    assert!(chat.say("/guide").await.text().contains("10"));
    assert!(chat.say("/help").await.text().contains("/cancel"));
    let balance = chat.say("/balance").await;
    assert!(balance.text().contains("Токены:"), "{}", balance.text());
    chat.tap("Создать картинку").await;
    let cancelled = chat.say("/cancel").await;
    assert!(!cancelled.text().is_empty());
    let idle = chat.say("hello?").await;
    assert!(idle.text().contains("Не понимаю"), "{}", idle.text());
}

#[tokio::test]
async fn bad_input_gets_its_message_keeps_the_state_and_appends_nothing() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2060));
    chat.say("/start").await;
    let before = count_all(&p.t.db).await;
    chat.tap("Создать картинку").await;
    let long = chat.say(&"x".repeat(2001)).await;
    assert!(long.text().contains("слишком длинное"), "{}", long.text());
    let sticker = chat.deliver(Update::sticker(chat.user())).await;
    assert!(
        sticker.text().contains("текстовое описание"),
        "{}",
        sticker.text()
    );
    let bogus = chat
        .deliver(Update::callback(
            chat.user(),
            sticker.last.as_ref().expect("reply").message_id,
            "bogus:data",
        ))
        .await;
    assert!(bogus.toast().is_some());
    // Still waiting for the prompt.
    let ok = chat.say(&"y".repeat(2000)).await;
    assert!(
        ok.text().contains("Подтверждение генерации"),
        "{}",
        ok.text()
    );

    let denied = chat.say("/addtokens 2060 100000").await;
    assert!(denied.text().contains("нет доступа"), "{}", denied.text());
    assert_eq!(count_all(&p.t.db).await, before, "nothing appended");
}

#[tokio::test]
async fn admin_commands_grant_with_the_admin_as_actor_and_reject_bad_arguments() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    p.chat(TgUser::new(2070).first_name("Olga"))
        .say("/start")
        .await;
    let admin = p.chat(TgUser::new(ADMIN));
    admin.say("/start").await;
    let grants = count_events(&p.t.db, "TokensGranted").await;
    for (args, expected) in [
        ("/addtokens", "Неверный формат"),
        ("/addtokens 2070", "Неверный формат"),
        ("/addtokens abc 5", "должны быть числами"),
        ("/addtokens 2070 -5", "положительным"),
        ("/addtokens 2070 0", "положительным"),
        ("/addtokens 999999 5", "не найден"),
        ("/addtokens 2070 99999999999", ""),
    ] {
        let out = admin.say(args).await;
        assert!(out.text().contains(expected), "{args}: {}", out.text());
    }
    assert_eq!(count_events(&p.t.db, "TokensGranted").await, grants);
    let added = admin.say("/addtokens 2070 500").await;
    assert!(
        added.text().contains("Токены добавлены"),
        "{}",
        added.text()
    );
    assert!(added.text().contains("Стало: 11060 🪙"), "{}", added.text());
    let client = p.t.db.pool().get().await.expect("client");
    let actor: serde_json::Value = client
        .query_one(
            "SELECT metadata->'actor' FROM ledger.events WHERE event_type = 'TokensGranted' ORDER BY position DESC LIMIT 1",
            &[],
        )
        .await
        .expect("grant")
        .get(0);
    assert_eq!(actor["kind"], "admin");
    assert_eq!(actor["telegram_id"], ADMIN);

    let panel = admin.say("/admin").await;
    assert!(panel.text().contains("Админ-панель"), "{}", panel.text());
    let target = last_cursor(&p.t.db).await;
    let mut projected = p.projected.clone();
    reached(&mut projected, target, "projector").await;
    let stats = admin.tap("Статистика").await;
    assert!(stats.text().contains("Всего: 2"), "{}", stats.text());
    let info = admin.say("/userinfo 2070").await;
    assert!(info.text().contains("Olga"), "{}", info.text());
    assert!(
        admin
            .say("/userinfo x")
            .await
            .text()
            .contains("должен быть числом")
    );
}

#[tokio::test]
async fn a_restart_between_prompt_and_confirm_loses_nothing() {
    let p = pipeline().await;
    let first = Shutdown::new();
    let (_, handle) = p.spawn_bot(bot_config(), first.clone());
    let chat = p.chat(TgUser::new(2080));
    chat.say("/start").await;
    chat.tap("Создать картинку").await;
    chat.say("survives a restart").await;
    first.cancel();
    handle.await.expect("bot stopped");

    let _second = p.spawn_bot(bot_config(), p.shutdown.clone());
    let created = chat.tap("Подтвердить").await;
    assert!(
        created.text().contains("Задача создана"),
        "{}",
        created.text()
    );
    let client = p.t.db.pool().get().await.expect("client");
    let prompt: String = client
        .query_one(
            "SELECT data->>'prompt' FROM ledger.events WHERE event_type = 'TaskRequested'",
            &[],
        )
        .await
        .expect("task")
        .get(0);
    assert_eq!(prompt, "survives a restart");
}

#[tokio::test]
async fn the_profile_lists_tasks_and_resends_only_the_owners_result() {
    let p = pipeline().await;
    let _bot = p.spawn_bot(bot_config(), p.shutdown.clone());
    let _worker = p.spawn_worker(p.worker_config(), p.shutdown.clone());
    let chat = p.chat(TgUser::new(2090));
    chat.say("/start").await;
    chat.tap("Создать картинку").await;
    chat.say("a red fox").await;
    chat.tap("Подтвердить").await;
    let task = {
        let client = p.t.db.pool().get().await.expect("client");
        let id: uuid::Uuid = client
            .query_one(
                "SELECT (data->>'task_id')::uuid FROM ledger.events WHERE event_type = 'TaskRequested'",
                &[],
            )
            .await
            .expect("task")
            .get(0);
        tokenbot_ledger::TaskId::from_uuid(id)
    };
    assert_eq!(p.final_state(task).await.status, TaskStatus::Delivered);
    let target = last_cursor(&p.t.db).await;
    let mut projected = p.projected.clone();
    reached(&mut projected, target, "projector").await;

    let profile = chat.tap("Личный кабинет").await;
    assert!(profile.text().contains("a red fox"), "{}", profile.text());
    assert!(profile.text().contains("Готово"), "{}", profile.text());
    let resent = chat.tap("1.").await;
    assert!(
        resent.calls.iter().any(|c| c.method == "sendDocument"),
        "{:?}",
        resent.calls
    );

    // Someone else asking for that task by id gets nothing.
    let other = p.chat(TgUser::new(2091));
    other.say("/start").await;
    let (message, data) = chat.button("1.");
    let stolen = other
        .deliver(Update::callback(other.user(), message, &data))
        .await;
    assert!(!stolen.calls.iter().any(|c| c.method == "sendDocument"));
}

#[tokio::test]
async fn webhook_requests_need_the_secret_and_a_redelivered_update_has_no_second_effect() {
    let p = pipeline().await;
    let app = tokenbot_bot::App::new(p.bot(), p.t.ledger.clone(), bot_config());
    let secret = "s3cret_token-for-tests";
    let router = tokenbot_bot::webhook::router(app.clone(), secret);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    tokenbot_bot::webhook::set_webhook(
        app.telegram(),
        &tokenbot_bot::webhook::WebhookConfig {
            url: reqwest::Url::parse(&format!("http://{addr}/webhook")).expect("url"),
            secret: secret.into(),
            max_retries: 3,
            retry_delay: std::time::Duration::from_millis(10),
            backoff: 2.0,
        },
    )
    .await
    .expect("setWebhook");
    // Only the kinds the bot handles, so Telegram sends nothing it would drop.
    let webhook = p.telegram.webhook().expect("a webhook");
    assert_eq!(
        webhook.allowed_updates,
        Some(vec![
            "message".to_string(),
            "callback_query".to_string(),
            "pre_checkout_query".to_string()
        ])
    );
    let u = TgUser::new(2100);

    let forged = p
        .telegram
        .post_webhook_with_secret(Update::text(&u, "/start"), None)
        .await
        .expect("post");
    assert_eq!(forged, 401);
    let wrong = p
        .telegram
        .post_webhook_with_secret(Update::text(&u, "/start"), Some("guess"))
        .await
        .expect("post");
    assert_eq!(wrong, 403);
    assert_eq!(count_all(&p.t.db).await, 0, "no effect");

    let update = p.telegram.prepare_update(Update::text(&u, "/start"));
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let status = client
            .post(format!("http://{addr}/webhook"))
            .header(tokenbot_bot::webhook::SECRET_HEADER, secret)
            .json(&update)
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(status, 200);
    }
    assert_eq!(count_events(&p.t.db, "AccountOpened").await, 1);
    assert_eq!(
        p.telegram.calls_to("sendMessage").len(),
        1,
        "the redelivery is not answered again"
    );
}

#[tokio::test]
async fn handled_update_ids_older_than_a_day_are_pruned_and_bots_do_not_share_them() {
    use tokenbot_bot::storage::{DialogueChange, HandledUpdates, UpdateStore};
    let t = ledger().await;
    let ours = UpdateStore::new(t.writer_pool(), 1);
    let other_bot = UpdateStore::new(t.writer_pool(), 2);
    let chat = teloxide::types::ChatId(42);
    let handled =
        async |store: &UpdateStore, id: u32| store.begin(id, chat).await.expect("begin").handled;
    ours.finish(5, chat, &DialogueChange::Keep)
        .await
        .expect("mark");
    ours.finish(6, chat, &DialogueChange::Keep)
        .await
        .expect("mark");
    assert!(!handled(&other_bot, 5).await, "update ids are per bot");
    let client = t.db.pool().get().await.expect("client");
    client
        .execute(
            "UPDATE bot.handled_updates SET handled_at = now() - interval '2 days' WHERE update_id = 5",
            &[],
        )
        .await
        .expect("age");
    let pruning = HandledUpdates::new(t.writer_pool(), 1);
    assert_eq!(pruning.prune().await.expect("prune"), 1);
    assert!(!handled(&ours, 5).await);
    assert!(handled(&ours, 6).await);
}
