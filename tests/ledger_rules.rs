//! Token rules under concurrency, idempotency, refunds and the append-only guard, against a real
//! Postgres.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use common::*;
use tokenbot_ledger::events::TokensGranted;
use tokenbot_ledger::{
    DomainError, Event, ExpectedVersion, GrantKind, IdempotencyKey, LedgerError, StreamAppend,
    StreamId, StreamVersion, TaskId, Tokens,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_debits_never_overdraw() {
    let t = ledger().await;
    let u = user(1001);
    open_with(&t.ledger, u, 10_000).await;
    let ledger = Arc::new(t.ledger.clone());
    let mut handles = Vec::new();
    for i in 0..200 {
        let ledger = ledger.clone();
        handles.push(tokio::spawn(async move {
            ledger
                .request_task(&ctx(u), low_task(u, &format!("picture {i}")))
                .await
        }));
    }
    let mut ok = 0;
    let mut insufficient = 0;
    for h in handles {
        match h.await.expect("join") {
            Ok(r) => {
                ok += 1;
                assert_eq!(r.value.cost, Tokens::from_const(100));
            }
            Err(LedgerError::Domain(DomainError::InsufficientBalance {
                required,
                available,
            })) => {
                insufficient += 1;
                assert_eq!(required, Tokens::from_const(100));
                assert_eq!(available, Tokens::ZERO);
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((ok, insufficient), (100, 100));
    assert_eq!(balance(&t.ledger, u).await, Tokens::ZERO);
    assert_eq!(count_events(&t.db, "TokensDebited").await, 100);
    assert_eq!(count_events(&t.db, "TaskRequested").await, 100);

    // No version holes: the account stream is exactly 1..=n, and every balance_after >= 0.
    let events = t
        .ledger
        .history(u, StreamVersion(1), i64::MAX)
        .await
        .expect("history");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.version, StreamVersion(i as u64 + 1), "no holes");
    }
    assert_eq!(events.len(), 2 + 100);
    let report = tokenbot_ledger::verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify runs");
    assert!(report.ok(), "{:?}", report.violation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_confirm_debits_once_and_conflicting_payload_is_rejected() {
    let t = ledger().await;
    let u = user(1002);
    open_with(&t.ledger, u, 1_000).await;
    let key = IdempotencyKey::derived("draft", TaskId::new()).expect("key");
    let c = ctx(u).with_key(key.clone());
    let (a, b) = tokio::join!(
        t.ledger.request_task(&c, low_task(u, "a fox")),
        t.ledger.request_task(&c, low_task(u, "a fox"))
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a.value.task_id, b.value.task_id);
    assert_eq!(
        a.positions, b.positions,
        "the repeat returns the first result"
    );
    assert!(a.replayed != b.replayed, "exactly one of the two ran");
    assert_eq!(balance(&t.ledger, u).await, Tokens::from_const(900));
    assert_eq!(count_events(&t.db, "TokensDebited").await, 1);

    let other = t
        .ledger
        .request_task(&c, low_task(u, "a different fox"))
        .await;
    assert!(
        matches!(other, Err(LedgerError::IdempotencyConflict { .. })),
        "{other:?}"
    );
    assert_eq!(balance(&t.ledger, u).await, Tokens::from_const(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_rules_are_typed_and_append_nothing() {
    let t = ledger().await;
    let u = user(1003);
    open_with(&t.ledger, u, 1_000).await;
    let before = count_all(&t.db).await;

    let unknown = TaskId::new();
    let r = t
        .ledger
        .refund_task(&system(), unknown, Tokens::from_const(1), "why")
        .await;
    assert!(
        matches!(r, Err(LedgerError::Domain(DomainError::TaskNotFound(id))) if id == unknown),
        "{r:?}"
    );

    // A failed task is refunded in full exactly once, by whoever gets there first.
    let task = t
        .ledger
        .request_task(&ctx(u), low_task(u, "x"))
        .await
        .expect("task")
        .value
        .task_id;
    let (c1, c2) = (system(), system());
    let (f1, f2) = tokio::join!(
        t.ledger.fail_task(&c1, task, u, "provider down"),
        t.ledger.fail_task(&c2, task, u, "provider down again")
    );
    let outcomes = [f1.is_ok(), f2.is_ok()];
    assert_eq!(outcomes.iter().filter(|o| **o).count(), 1, "{f1:?} {f2:?}");
    assert_eq!(balance(&t.ledger, u).await, Tokens::from_const(1_000));
    let second = t
        .ledger
        .refund_task(&system(), task, Tokens::from_const(1), "again")
        .await;
    assert!(
        matches!(
            second,
            Err(LedgerError::Domain(DomainError::AlreadyRefunded { .. }))
        ),
        "{second:?}"
    );

    // A delivered task may be compensated, never above its debit.
    let task = t
        .ledger
        .request_task(&ctx(u), low_task(u, "y"))
        .await
        .expect("task")
        .value
        .task_id;
    let started = t
        .ledger
        .start_task(&system(), task, "w", Duration::minutes(5))
        .await
        .expect("start");
    t.ledger
        .succeed_task(&system(), task, started.value.attempt, None)
        .await
        .expect("succeed");
    t.ledger
        .deliver_task(&system(), task, "file-1")
        .await
        .expect("deliver");
    let too_much = t
        .ledger
        .refund_task(&system(), task, Tokens::from_const(101), "bad")
        .await;
    assert!(
        matches!(
            too_much,
            Err(LedgerError::Domain(DomainError::RefundExceedsDebit { .. }))
        ),
        "{too_much:?}"
    );

    let after = count_all(&t.db).await;
    // Only the two tasks' own events were appended: request(2) + fail(3) and request(2) + start/succeed/deliver(3).
    assert_eq!(after - before, 10);
    let ok = t
        .ledger
        .refund_task(&system(), task, Tokens::from_const(40), "blurry")
        .await
        .expect("refund");
    assert_eq!(ok.value.balance_after, Tokens::from_const(1_000 - 100 + 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_atomic_across_streams_and_check_versions() {
    let t = ledger().await;
    let a = StreamId::custom("test-a").expect("id");
    let b = StreamId::custom("test-b").expect("id");
    let grant = |n: u32| {
        Event::TokensGranted(TokensGranted {
            amount: Tokens::from_const(n),
            kind: GrantKind::Admin,
            reason: None,
            balance_after: Tokens::from_const(n),
            purchase: None,
        })
    };
    let store = &t.ledger;
    store
        .append(
            &system(),
            vec![StreamAppend {
                stream: a.clone(),
                expected: ExpectedVersion::NoStream,
                events: vec![grant(1)],
            }],
        )
        .await
        .expect("first append");
    // b is new, a is stale: nothing of the two may be written.
    let err = store
        .append(
            &system(),
            vec![
                StreamAppend {
                    stream: b.clone(),
                    expected: ExpectedVersion::NoStream,
                    events: vec![grant(2)],
                },
                StreamAppend {
                    stream: a.clone(),
                    expected: ExpectedVersion::Exact(StreamVersion(0)),
                    events: vec![grant(3)],
                },
            ],
        )
        .await;
    match err {
        Err(LedgerError::WrongExpectedVersion { stream, actual, .. }) => {
            assert_eq!(stream, a);
            assert_eq!(actual, StreamVersion(1));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert!(
        t.ledger
            .store()
            .read_stream(&b, StreamVersion(1), 10)
            .await
            .expect("read")
            .is_empty(),
        "no partial write"
    );
    let ok = store
        .append(
            &system(),
            vec![StreamAppend {
                stream: a.clone(),
                expected: ExpectedVersion::Exact(StreamVersion(1)),
                events: vec![grant(4), grant(5)],
            }],
        )
        .await
        .expect("exact append");
    assert_eq!(ok.positions.len(), 2);
    assert!(
        store
            .append(
                &system(),
                vec![StreamAppend {
                    stream: a,
                    expected: ExpectedVersion::Any,
                    events: vec![]
                }]
            )
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_update_delete_and_truncate() {
    let t = ledger().await;
    open_with(&t.ledger, user(1004), 500).await;
    let client = t.db.pool().get().await.expect("client");
    for sql in [
        "UPDATE ledger.events SET data = '{}'::jsonb",
        "DELETE FROM ledger.events",
        "TRUNCATE ledger.events",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
            "{sql}: {err:?}"
        );
    }
    assert_eq!(count_events(&t.db, "TokensGranted").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_at_a_past_moment() {
    let t = ledger().await;
    let u = user(1005);
    open_with(&t.ledger, u, 1_000).await;
    let first = t
        .ledger
        .history(u, StreamVersion(1), 100)
        .await
        .expect("history");
    let after_grant = first.last().expect("grant").recorded_at;
    t.ledger
        .request_task(&ctx(u), low_task(u, "z"))
        .await
        .expect("debit");
    assert_eq!(
        t.ledger.balance_at(u, after_grant).await.expect("at"),
        Some(Tokens::from_const(1_000))
    );
    assert_eq!(
        t.ledger
            .balance_at(u, chrono::Utc::now())
            .await
            .expect("now"),
        Some(Tokens::from_const(900))
    );
    let before_open = first[0].recorded_at - Duration::seconds(1);
    assert_eq!(
        t.ledger.balance_at(u, before_open).await.expect("before"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_once_and_concurrent_starts_agree() {
    let mut config = test_config();
    config.initial_grant = Tokens::from_const(10_560);
    let t = ledger_with(config).await;
    let u = user(1006);
    let profile = tokenbot_ledger::events::AccountOpened {
        telegram_id: u,
        username: None,
        first_name: Some("A".into()),
        language_code: None,
    };
    let mut handles = Vec::new();
    for _ in 0..8 {
        let l = t.ledger.clone();
        let p = profile.clone();
        handles.push(tokio::spawn(
            async move { l.open_account(&ctx(u), p).await },
        ));
    }
    let mut newly = 0;
    for h in handles {
        let r = h.await.expect("join").expect("open never fails on a race");
        assert_eq!(r.value.balance, Tokens::from_const(10_560));
        newly += usize::from(r.value.newly_opened);
    }
    assert_eq!(newly, 1);
    assert_eq!(count_events(&t.db, "AccountOpened").await, 1);
    let unique: HashSet<i64> = HashSet::from_iter([count_events(&t.db, "TokensGranted").await]);
    assert_eq!(unique, HashSet::from([1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_once() {
    let db = tokenbot_testkit::TestDatabase::create().await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        let url = db.url().to_string();
        runs.push(tokio::spawn(async move {
            let database = tokenbot_ledger::Database::connect(&url, 2)
                .await
                .expect("connect");
            tokenbot_ledger::migrations::migrate(&database)
                .await
                .expect("migrate")
        }));
    }
    let mut applied = Vec::new();
    for r in runs {
        applied.extend(r.await.expect("join"));
    }
    applied.sort();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql"))
        .expect("sql/")
        .filter(|f| {
            f.as_ref().is_ok_and(|f| {
                let name = f.file_name().to_string_lossy().to_string();
                // Numbered migrations; grants.sql is re-applied after them, not numbered.
                name.starts_with('V') && name.ends_with(".sql")
            })
        })
        .count();
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(unique, applied, "no migration applied twice");
    assert_eq!(applied.len(), files, "every migration applied: {applied:?}");
}

fn is_permission_error(e: &tokio_postgres::Error) -> bool {
    // The append-only triggers use the same SQLSTATE; a permission error never reaches them.
    let text = format!("{e:?}");
    e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
        && (text.contains("permission denied") || text.contains("must be owner"))
        && !text.contains("append-only")
}

/// The running system's own credentials cannot rewrite history: the writer role may append to
/// the log and the chain and nothing else, and the transaction id is the database's, not the
/// writer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_role_can_only_append_to_the_ledger() {
    let t = ledger().await;
    open_with(&t.ledger, user(1005), 500).await;
    assert!(
        tokenbot_ledger::hash_chain::seal_all(t.ledger.store())
            .await
            .expect("seal")
            > 0
    );
    let writer = t.writer_pool().get().await.expect("writer");
    for (table, constraint, rewrite) in [
        (
            "ledger.events",
            "balance_never_negative",
            "data TYPE jsonb USING jsonb_set(data, '{amount}', '1000000')",
        ),
        (
            "ledger.chain",
            "chain_hash_check",
            "hash TYPE bytea USING hash",
        ),
    ] {
        for sql in [
            format!("UPDATE {table} SET tx_id = tx_id"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
            // A rewrite no trigger sees.
            format!("ALTER TABLE {table} ALTER COLUMN {rewrite}"),
            format!("ALTER TABLE {table} DISABLE TRIGGER USER"),
            format!("ALTER TABLE {table} DROP CONSTRAINT {constraint}"),
        ] {
            let err = writer.batch_execute(&sql).await.expect_err(&sql);
            assert!(is_permission_error(&err), "{sql}: {err:?}");
        }
    }
    let before = count_all(&t.db).await;

    // A tx_id chosen to land behind every reader's cursor gets the real one.
    let row = writer
        .query_one(
            "INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, \
               schema_version, data, metadata, tx_id) \
             VALUES (gen_random_uuid(), 'test-chosen', 1, 'TokensGranted', 1, '{}', '{}', '3'::xid8) \
             RETURNING tx_id::text, pg_current_xact_id()::text",
            &[],
        )
        .await
        .expect("the writer may append");
    let (stored, own): (String, String) = (row.get(0), row.get(1));
    assert_eq!(stored, own, "the writing transaction's id");
    assert_ne!(stored, "3");
    assert_eq!(count_all(&t.db).await, before + 1);

    // The reader reads and writes nothing.
    let reader = t.reader().await;
    let reader = reader.pool().get().await.expect("reader");
    let n: i64 = reader
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await
        .expect("the reader may read")
        .get(0);
    assert_eq!(n, before + 1);
    for sql in [
        "INSERT INTO ledger.chain (seq, position, tx_id, hash) VALUES (999, 999, '1', '\\x00')",
        "INSERT INTO projections.checkpoints (name, tx_id, position) VALUES ('x', '1', 1)",
        "SELECT count(*) FROM bot.dialogues",
    ] {
        let err = reader.batch_execute(sql).await.expect_err(sql);
        assert!(is_permission_error(&err), "{sql}: {err:?}");
    }
}

/// Rights follow the schema: a table a later migration adds is usable by the writer once the
/// migrations (and the grants after them) have run, with the rights of its schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_cover_tables_added_later() {
    let t = ledger().await;
    let owner = t.db.pool().get().await.expect("owner");
    owner
        .batch_execute(
            "CREATE TABLE worker.added_later (id int PRIMARY KEY); \
             CREATE TABLE ledger.added_later (id int PRIMARY KEY);",
        )
        .await
        .expect("a later migration's tables");
    let database = tokenbot_ledger::Database::connect(t.db.url(), 2)
        .await
        .expect("owner");
    tokenbot_ledger::migrations::migrate(&database)
        .await
        .expect("migrate again");
    let writer = t.writer_pool().get().await.expect("writer");
    writer
        .batch_execute(
            "INSERT INTO worker.added_later VALUES (1); UPDATE worker.added_later SET id = 2; \
             DELETE FROM worker.added_later; INSERT INTO ledger.added_later VALUES (1); \
             SELECT * FROM ledger.added_later;",
        )
        .await
        .expect("the schema's rights");
    let err = writer
        .batch_execute("DELETE FROM ledger.added_later")
        .await
        .expect_err("append-only by default in the ledger schema");
    assert!(is_permission_error(&err), "{err:?}");
}
