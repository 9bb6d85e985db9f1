//! `tokenbot import`: the original bot's users, balances and tasks carried over into the ledger,
//! against two real databases (the original's schema from `fixtures/original_schema.sql`, and a
//! migrated ledger).

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokenbot::import::mapping::import_task_id;
use tokenbot::import::{ImportOptions, ImportProgress, ImportSummary, Source};
use tokenbot_ledger::{TaskKind, TaskStatus, TelegramId, Tokens, hash_chain, verify};
use tokenbot_testkit::TestDatabase;

const SCHEMA: &str = include_str!("fixtures/original_schema.sql");
const PRICES: [i32; 9] = [272, 408, 400, 1056, 1584, 1568, 4160, 6240, 6208];
const STATUSES: [&str; 4] = ["pending", "processing", "done", "failed"];

#[derive(Debug, Clone)]
struct SeedTask {
    id: i64,
    kind: &'static str,
    model: &'static str,
    prompt: String,
    source: Option<String>,
    status: &'static str,
    spent: i32,
    retries: i32,
}

#[derive(Debug, Clone)]
struct SeedUser {
    telegram_id: i64,
    tokens: i32,
    quality: &'static str,
    size: &'static str,
    tasks: Vec<SeedTask>,
}

async fn connect(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the original");
    tokio::spawn(connection);
    client
}

/// A database with the original's tables, and a client on it.
async fn original() -> (TestDatabase, tokio_postgres::Client) {
    let db = TestDatabase::create().await;
    let client = connect(&db).await;
    client.batch_execute(SCHEMA).await.expect("original schema");
    (db, client)
}

/// Inserts users, then their tasks in a shuffled order (task ids interleave across users, as
/// they did in the original); fills in the task ids.
async fn insert(client: &mut tokio_postgres::Client, users: &mut [SeedUser], seed: u64) {
    let tx = client.transaction().await.expect("begin");
    let user_stmt = tx
        .prepare(
            "INSERT INTO users (telegram_id, username, first_name, tokens, selected_model, \
             image_quality, image_size) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .await
        .expect("prepare");
    let task_stmt = tx
        .prepare(
            "INSERT INTO generation_tasks (user_id, task_type, model, image_quality, image_size, \
             prompt, source_image_url, result_file_id, status, tokens_spent, retry_count, \
             error_message) VALUES ($1, $2, $3, 'medium', '1024x1024', $4, $5, $6, $7, $8, $9, $10) \
             RETURNING id",
        )
        .await
        .expect("prepare");
    let mut order = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let model = if i % 5 == 0 {
            "gpt-image-1.5"
        } else {
            "gpt-image-1"
        };
        let id: i32 = tx
            .query_one(
                &user_stmt,
                &[
                    &u.telegram_id,
                    &format!("user{i}"),
                    &"Имя",
                    &u.tokens,
                    &model,
                    &u.quality,
                    &u.size,
                ],
            )
            .await
            .expect("insert user")
            .get(0);
        for t in 0..u.tasks.len() {
            order.push((i, t, id));
        }
    }
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    for (i, t, user_id) in order {
        let task = &users[i].tasks[t];
        let file_id = (task.status == "done").then(|| format!("result-{i}-{t}"));
        let error = (task.status == "failed" && t % 2 == 0).then_some("content policy");
        let id: i32 = tx
            .query_one(
                &task_stmt,
                &[
                    &user_id,
                    &task.kind,
                    &task.model,
                    &task.prompt,
                    &task.source,
                    &file_id,
                    &task.status,
                    &task.spent,
                    &task.retries,
                    &error,
                ],
            )
            .await
            .expect("insert task")
            .get(0);
        users[i].tasks[t].id = i64::from(id);
    }
    tx.commit().await.expect("commit");
}

/// A seeded mix: random balances, tasks in all four statuses, a user without tasks, one with a
/// negative balance, an edit of a source image, a prompt longer than the ledger allows, an
/// empty prompt, a free task, and a model the ledger does not offer.
fn seed_users(seed: u64, n: usize) -> Vec<SeedUser> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let tasks = if i == 0 { 0 } else { rng.random_range(0..6) };
        let tasks = (0..tasks)
            .map(|t| SeedTask {
                id: 0,
                kind: "generate",
                model: if t == 3 {
                    "gpt-image-1.5"
                } else {
                    "gpt-image-1"
                },
                prompt: format!("a cat number {i}-{t}"),
                source: None,
                status: STATUSES[rng.random_range(0..STATUSES.len())],
                spent: PRICES[rng.random_range(0..PRICES.len())],
                retries: rng.random_range(0..4),
            })
            .collect();
        users.push(SeedUser {
            telegram_id: 100_000_000 + (i as i64) * 7919,
            tokens: rng.random_range(0..200) * 272,
            quality: ["low", "medium", "high"][rng.random_range(0..3)],
            size: ["1024x1024", "1024x1536", "1536x1024"][rng.random_range(0..3)],
            tasks,
        });
    }
    let special = |status, spent, prompt: String| SeedTask {
        id: 0,
        kind: "generate",
        model: "gpt-image-1",
        prompt,
        source: None,
        status,
        spent,
        retries: 3,
    };
    users[1].tasks = vec![
        special(
            "done",
            1056,
            format!("  {}  ", "очень длинный запрос ".repeat(400)),
        ),
        special("pending", 272, "   ".to_string()),
        special("done", 0, "a free one".to_string()),
    ];
    users[2].tasks.push(SeedTask {
        kind: "edit",
        source: Some("AgACAgIAAxkBAAIBsource".to_string()),
        ..special("done", 1584, "make it blue".to_string())
    });
    users[2].tasks.push(SeedTask {
        kind: "edit",
        source: Some("AgACAgIAAxkBAAIBsource2".to_string()),
        ..special("pending", 1584, "make it red".to_string())
    });
    users[3].tokens = -2112;
    users[3].tasks = vec![special("done", 1056, "overdrawn".to_string())];
    users[4].tasks.push(SeedTask {
        model: "dall-e-3",
        ..special("failed", 4160, "an old model".to_string())
    });
    users
}

#[derive(Default)]
struct Counted {
    total: AtomicU64,
    done: AtomicU64,
}

impl ImportProgress for Counted {
    fn total(&self, users: u64) {
        self.total.store(users, Ordering::SeqCst);
    }
    fn advanced(&self, users: u64) {
        self.done.fetch_add(users, Ordering::SeqCst);
    }
}

async fn run_import(
    t: &TestLedger,
    from: &str,
    batch: i64,
    progress: &dyn ImportProgress,
) -> ImportSummary {
    let source = Source::connect(from).await.expect("the original connects");
    let options = ImportOptions::new(batch).expect("valid batch");
    tokenbot::import::import(&t.ledger, source, &options, progress)
        .await
        .expect("the import runs")
}

fn expected_status(original: &str) -> TaskStatus {
    match original {
        "done" => TaskStatus::Delivered,
        "failed" => TaskStatus::Failed,
        _ => TaskStatus::Pending,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carries_every_balance_and_task_over_and_a_second_run_changes_nothing() {
    let (original_db, mut client) = original().await;
    // The original's `create_all` could leave a wider prompt column than Alembic's.
    client
        .batch_execute("ALTER TABLE generation_tasks ALTER COLUMN prompt TYPE text")
        .await
        .expect("widen prompt");
    let mut users = seed_users(7, 300);
    insert(&mut client, &mut users, 7).await;
    let t = ledger().await;
    // The original's SQLAlchemy URL form is accepted.
    let from = original_db
        .url()
        .replace("postgres://", "postgresql+asyncpg://");

    let progress = Counted::default();
    let summary = run_import(&t, &from, 37, &progress).await;
    println!("{summary}");

    let mut by_status: HashMap<&str, u64> = HashMap::new();
    for task in users.iter().flat_map(|u| &u.tasks) {
        *by_status.entry(task.status).or_default() += 1;
    }
    let all_tasks: u64 = by_status.values().sum();
    assert_eq!(summary.users_in_source, 300);
    assert_eq!(summary.users_imported, 300, "{summary}");
    assert_eq!(
        (
            summary.users_already_imported,
            summary.users_changed,
            summary.users_skipped
        ),
        (0, 0, 0)
    );
    assert!(summary.ok());
    assert_eq!(summary.tasks.done, by_status["done"]);
    assert_eq!(summary.tasks.failed, by_status["failed"]);
    assert_eq!(summary.tasks.pending, by_status["pending"]);
    assert_eq!(summary.tasks.processing, by_status["processing"]);
    assert_eq!(summary.tasks_skipped, 0);
    assert_eq!(summary.negative_balances, 1);
    assert!(
        summary
            .warning_lines
            .iter()
            .any(|w| w.contains("cut to 2000")),
        "{summary}"
    );
    assert_eq!(progress.total.load(Ordering::SeqCst), 300);
    assert_eq!(progress.done.load(Ordering::SeqCst), 300);

    // Every balance is the original's (a negative one starts at 0), every task is there with
    // the status, cost and refund the original had.
    let mut total_balance = 0u64;
    for u in &users {
        let tg = TelegramId::new(u.telegram_id).expect("valid");
        let (account, _) = t.ledger.account(tg).await.expect("read").expect("imported");
        let expected = u64::try_from(u.tokens.max(0)).expect("fits");
        assert_eq!(account.balance.get(), expected, "user {tg}");
        assert_eq!(account.settings.quality.as_str(), u.quality, "user {tg}");
        assert_eq!(account.settings.size.as_str(), u.size, "user {tg}");
        total_balance += expected;
        for task in &u.tasks {
            let id = import_task_id(task.id, tg);
            let got = t.ledger.task(id).await.expect("read").expect("imported");
            assert_eq!(got.status, expected_status(task.status), "task {}", task.id);
            let spent = Tokens::try_from(i64::from(task.spent)).expect("valid");
            assert_eq!(got.request.cost, spent);
            assert_eq!(got.request.telegram_id, tg);
            let refunded = (task.status == "failed" && task.spent > 0).then_some(spent);
            assert_eq!(got.refunded, refunded, "task {}", task.id);
            assert!(got.request.prompt.as_str().chars().count() <= 2000);
            if task.kind == "edit" {
                assert_eq!(got.request.kind, TaskKind::Edit);
                assert_eq!(got.request.source_file_id, task.source);
            }
        }
    }
    let first = users[1].tasks[1].id;
    let empty = t
        .ledger
        .task(import_task_id(first, user(users[1].telegram_id)))
        .await
        .expect("read")
        .expect("imported");
    assert_eq!(empty.request.prompt.as_str(), "(empty)");

    // Counted straight from the log.
    assert_eq!(count_events(&t.db, "TaskRequested").await as u64, all_tasks);
    assert_eq!(
        count_events(&t.db, "TaskDelivered").await as u64,
        by_status["done"]
    );
    assert_eq!(
        count_events(&t.db, "TaskFailed").await as u64,
        by_status["failed"]
    );
    assert_eq!(count_events(&t.db, "AccountOpened").await, 300);
    assert_eq!(count_events(&t.db, "TokensGranted").await, {
        // Users with nothing held and nothing kept by tasks get no grant.
        let empty = users.iter().filter(|u| {
            u.tokens <= 0 && u.tasks.iter().all(|t| t.status == "failed" || t.spent == 0)
        });
        300 - empty.count() as i64
    });

    // The auditor's check agrees, chain included.
    hash_chain::seal_all(t.ledger.store()).await.expect("seal");
    let report = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify runs");
    assert!(report.ok(), "{:?}", report.violation);
    assert_eq!(report.accounts, 300);
    assert_eq!(report.tasks, all_tasks);
    assert_eq!(report.total_balance, total_balance);
    assert_eq!(summary.tokens_imported, total_balance);

    // Again: nothing appended, everyone already imported.
    let events = count_all(&t.db).await;
    let again = run_import(&t, &from, 500, &()).await;
    assert_eq!(count_all(&t.db).await, events);
    assert_eq!(again.users_already_imported, 300, "{again}");
    assert_eq!(
        (
            again.users_imported,
            again.users_changed,
            again.users_skipped
        ),
        (0, 0, 0)
    );
    assert_eq!(again.tasks.total(), 0);

    // The original moves on (it was still running): those users are reported, not rewritten.
    let changed = [users[10].telegram_id, users[20].telegram_id];
    client
        .execute(
            "UPDATE users SET tokens = tokens + 1056 WHERE telegram_id = $1",
            &[&changed[0]],
        )
        .await
        .expect("update");
    client
        .execute(
            "INSERT INTO generation_tasks (user_id, task_type, prompt, status, tokens_spent) \
             SELECT id, 'generate', 'one more', 'pending', 272 FROM users WHERE telegram_id = $1",
            &[&changed[1]],
        )
        .await
        .expect("insert");
    let third = run_import(&t, &from, 100, &()).await;
    assert_eq!(count_all(&t.db).await, events);
    assert_eq!(third.users_changed, 2, "{third}");
    assert_eq!(third.users_already_imported, 298);
    let mut reported: Vec<i64> = third.changed.iter().map(|u| u.get()).collect();
    reported.sort();
    assert_eq!(reported, changed);
    assert!(third.to_string().contains("changed since the last import"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_ledger_cannot_take_are_reported_and_the_rest_imported() {
    let (original_db, client) = original().await;
    // Without the foreign key (a `create_all` schema), a task can point at no user.
    client
        .batch_execute(
            "ALTER TABLE generation_tasks DROP CONSTRAINT generation_tasks_user_id_fkey;
             INSERT INTO users (id, telegram_id, tokens) VALUES
               (1, 0, 1056),          -- not a Telegram user id
               (2, 555000, 2112),     -- already has an account in the ledger
               (3, 555001, 3000),
               (4, 555002, 0);        -- a failed task the account could never have paid
             INSERT INTO generation_tasks (user_id, task_type, prompt, status, tokens_spent) VALUES
               (3, 'generate', 'ok', 'done', 1056),
               (3, 'generate', 'negative', 'done', -1056),
               (3, 'generate', 'odd status', 'cancelled', 272),
               (3, 'upscale', 'odd type', 'done', 272),
               (4, 'generate', 'lost', 'failed', 6240),
               (99, 'generate', 'orphan', 'done', 272);",
        )
        .await
        .expect("seed");
    let t = ledger().await;
    open_with(&t.ledger, user(555000), 500).await;

    let summary = run_import(&t, original_db.url(), 2, &()).await;
    println!("{summary}");
    assert_eq!(summary.users_imported, 2, "{summary}");
    assert_eq!(summary.users_skipped, 2);
    assert!(!summary.ok());
    let text = summary.to_string();
    assert!(text.contains("Telegram user id"), "{text}");
    assert!(text.contains("already has an account"), "{text}");
    assert_eq!(summary.tasks.total(), 2);
    assert_eq!(summary.tasks_skipped, 4);
    assert_eq!(
        balance(&t.ledger, user(555000)).await,
        Tokens::from_const(500)
    );
    assert_eq!(
        balance(&t.ledger, user(555001)).await,
        Tokens::from_const(3000)
    );
    assert_eq!(balance(&t.ledger, user(555002)).await, Tokens::ZERO);
    let lost = t
        .ledger
        .task(import_task_id(5, user(555002)))
        .await
        .expect("read")
        .expect("imported");
    assert_eq!(lost.status, TaskStatus::Failed);
    assert_eq!(lost.refunded, Some(Tokens::from_const(6240)));
    let report = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify runs");
    assert!(report.ok(), "{:?}", report.violation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_not_the_original_is_named_as_such() {
    let not_original = TestDatabase::create().await;
    let error = Source::connect(not_original.url())
        .await
        .err()
        .expect("refused");
    let text = error.to_string();
    assert!(
        text.contains("has no users table; is it the original bot's database?"),
        "{text}"
    );
    assert!(text.contains(not_original.name()), "{text}");

    // The users table alone.
    let client = connect(&not_original).await;
    client
        .batch_execute(&format!("{SCHEMA}; DROP TABLE generation_tasks"))
        .await
        .expect("users only");
    let text = Source::connect(not_original.url())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(text.contains("has no generation_tasks table"), "{text}");

    // A generation_tasks table that is not the original's.
    client
        .batch_execute("CREATE TABLE generation_tasks (id serial PRIMARY KEY, prompt text)")
        .await
        .expect("another tasks table");
    let text = Source::connect(not_original.url())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        text.contains("the generation_tasks table")
            && text.contains("has no column user_id, task_type, model"),
        "{text}"
    );

    let port = tokenbot_testkit::free_port();
    let text = Source::connect(&format!("postgres://postgres@127.0.0.1:{port}/original"))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        text.contains(&format!(
            "cannot reach the original database at 127.0.0.1:{port}/original"
        )),
        "{text}"
    );

    let text = Source::connect("mysql://somewhere")
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(text.contains("--from is not a Postgres URL"), "{text}");
    assert!(ImportOptions::new(0).is_err());
    assert!(ImportOptions::new(500).is_ok());
}
