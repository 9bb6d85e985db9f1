//! The auditor's tools: `ledger verify` on a clean and on a tampered log, balance at a past time,
//! and clear one-line errors for bad input, all through the real binary.

mod common;

use std::process::Command;

use common::*;
use tokenbot_ledger::{StreamVersion, hash_chain, verify};

fn tokenbot(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenbot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_a_clean_log_and_names_the_altered_position() {
    let t = ledger().await;
    for id in 1..=3 {
        let u = user(2000 + id);
        open_with(&t.ledger, u, 1_000).await;
        t.ledger
            .request_task(&ctx(u), low_task(u, "clean"))
            .await
            .expect("debit");
    }
    assert!(hash_chain::seal_all(t.ledger.store()).await.expect("seal") > 0);
    let report = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify");
    assert!(report.ok(), "{:?}", report.violation);
    assert_eq!(report.unsealed, 0);
    assert_eq!(report.total_balance, 3 * 900);

    let ok = tokenbot(t.db.url(), &["ledger", "verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("verify OK"));

    // A superuser disables the guard and quietly raises one grant.
    let victim = user(2002);
    let events = t
        .ledger
        .history(victim, StreamVersion(1), 10)
        .await
        .expect("history");
    let grant = events
        .iter()
        .find(|e| e.event.event_type() == "TokensGranted")
        .expect("grant");
    let client = t.db.pool().get().await.expect("client");
    client
        .batch_execute(&format!(
            "ALTER TABLE ledger.events DISABLE TRIGGER events_append_only; \
             UPDATE ledger.events SET data = jsonb_set(data, '{{amount}}', '100000') WHERE position = {p}; \
             ALTER TABLE ledger.events ENABLE TRIGGER events_append_only;",
            p = grant.position
        ))
        .await
        .expect("tamper");

    let report = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify");
    let violation = report.violation.expect("tampering is detected");
    assert_eq!(
        violation.position,
        Some(grant.position),
        "{}",
        violation.reason
    );

    let bad = tokenbot(t.db.url(), &["ledger", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains(&format!("position {}", grant.position)),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_event_breaks_the_chain_at_its_successor() {
    let t = ledger().await;
    let u = user(2100);
    open_with(&t.ledger, u, 1_000).await;
    for _ in 0..3 {
        t.ledger
            .request_task(&ctx(u), low_task(u, "gone"))
            .await
            .expect("debit");
    }
    hash_chain::seal_all(t.ledger.store()).await.expect("seal");
    let events = t
        .ledger
        .history(u, StreamVersion(1), 100)
        .await
        .expect("history");
    let victim = &events[3];
    let client = t.db.pool().get().await.expect("client");
    client
        .batch_execute(&format!(
            "ALTER TABLE ledger.events DISABLE TRIGGER events_append_only; \
             DELETE FROM ledger.events WHERE position = {}; \
             ALTER TABLE ledger.events ENABLE TRIGGER events_append_only;",
            victim.position
        ))
        .await
        .expect("tamper");
    let report = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify");
    assert!(report.violation.is_some(), "a missing event is detected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_history_and_replay_through_the_cli() {
    let t = ledger().await;
    let u = user(2200);
    open_with(&t.ledger, u, 1_000).await;
    let first = t
        .ledger
        .history(u, StreamVersion(1), 10)
        .await
        .expect("history");
    let then = first.last().expect("grant").recorded_at.to_rfc3339();
    t.ledger
        .request_task(&ctx(u), low_task(u, "cli"))
        .await
        .expect("debit");

    let now = tokenbot(t.db.url(), &["ledger", "balance", "2200"]);
    assert_eq!(stdout(&now).trim(), "900", "{}", stderr(&now));
    let past = tokenbot(t.db.url(), &["ledger", "balance", "2200", "--at", &then]);
    assert_eq!(stdout(&past).trim(), "1000", "{}", stderr(&past));

    let history = tokenbot(t.db.url(), &["ledger", "history", "2200"]);
    assert_eq!(history.status.code(), Some(0));
    assert_eq!(stdout(&history).lines().count(), 3);

    let replay = tokenbot(t.db.url(), &["ledger", "replay"]);
    let lines: Vec<serde_json::Value> = stdout(&replay)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4, "opened, granted, task requested, debited");
    assert!(lines.iter().any(|l| l["event_type"] == "TaskRequested"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cli_input_gets_one_clear_line_and_a_non_zero_exit() {
    let t = ledger().await;
    open_with(&t.ledger, user(2300), 10).await;
    let cases: [(&[&str], &str); 4] = [
        (&["ledger", "balance", "abc"], "Telegram user id"),
        (
            &["ledger", "balance", "2300", "--at", "yesterday"],
            "RFC 3339",
        ),
        (&["ledger", "balance", "99999"], "has no account"),
        (&["ledger", "history", "-5"], "Telegram user id"),
    ];
    for (args, expected) in cases {
        let o = tokenbot(t.db.url(), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let down = tokenbot(
        "postgres://postgres@127.0.0.1:1/nothing",
        &["ledger", "verify"],
    );
    let err = stderr(&down);
    assert_eq!(down.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach Postgres at 127.0.0.1:1/nothing"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let bad_url = tokenbot("not a url", &["ledger", "verify"]);
    assert!(
        stderr(&bad_url).contains("DATABASE_URL"),
        "{}",
        stderr(&bad_url)
    );
}
