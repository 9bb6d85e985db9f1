//! The auditor's tools: `ledger verify` on a clean and on a tampered log, balance at a past time,
//! and clear one-line errors for bad input, all through the real binary.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Scripts tell a finding (1) from a command that could not run (2): bad arguments, bad
/// configuration, an unreachable database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cli_input_gets_one_clear_line_and_exit_status_2() {
    let t = ledger().await;
    open_with(&t.ledger, user(2300), 10).await;
    let cases: [(&[&str], &str, i32); 5] = [
        (&["ledger", "balance", "abc"], "Telegram user id", 2),
        (
            &["ledger", "balance", "2300", "--at", "yesterday"],
            "RFC 3339",
            2,
        ),
        (&["ledger", "balance", "99999"], "has no account", 1),
        (&["ledger", "history", "-5"], "Telegram user id", 2),
        (&["ledger", "history", "99999"], "has no account", 1),
    ];
    for (args, expected, code) in cases {
        let o = tokenbot(t.db.url(), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    for args in [
        &["ledger", "verify"][..],
        &["ledger", "replay"],
        &["ledger", "export"],
        &["projections", "diff"],
        &["projections", "status"],
    ] {
        let down = tokenbot("postgres://postgres@127.0.0.1:1/nothing", args);
        let err = stderr(&down);
        assert_eq!(down.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("127.0.0.1:1/nothing"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    let bad_url = tokenbot("not a url", &["ledger", "verify"]);
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(
        stderr(&bad_url).contains("DATABASE_URL"),
        "{}",
        stderr(&bad_url)
    );
    let bad_setting = Command::new(env!("CARGO_BIN_EXE_tokenbot"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", t.db.url())
        .env("DB_POOL_SIZE", "0")
        .output()
        .expect("the binary runs");
    assert_eq!(bad_setting.status.code(), Some(2));
    assert!(stderr(&bad_setting).contains("DB_POOL_SIZE"));
}

/// The sealer runs beside the relay all the time, so it may seal between two reads of one
/// verify run. Here it seals exactly then (from the progress callback, which runs between
/// batches): once when a batch ends on the unsealed tail, once after the last batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_not_fooled_by_sealing_between_its_reads() {
    use tokenbot_ledger::verify::{VerifyOptions, verify_with};
    let t = ledger().await;
    for id in 1..=4 {
        let u = user(2400 + id);
        open_with(&t.ledger, u, 1_000).await;
        t.ledger
            .request_task(&ctx(u), low_task(u, "snapshot"))
            .await
            .expect("debit");
    }
    let total = count_all(&t.db).await as u64;
    let store = t.ledger.store().clone();
    // Sealing needs the server's horizon past the events, which any transaction on the shared
    // server may hold back for a moment: retried, bounded.
    let seal_now = |max: i64| {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
                loop {
                    let n = hash_chain::seal(&store, max).await.expect("seal");
                    if n > 0 || tokio::time::Instant::now() >= deadline {
                        return n;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
        })
    };
    assert_eq!(seal_now(5), 5, "a sealed head, an unsealed tail");
    let one_by_one = VerifyOptions {
        batch_size: 1,
        ..Default::default()
    };

    // A batch ends on the first unsealed event; the rest is sealed before the next batch.
    let mut sealed_midway = 0;
    let report = verify_with(&store, &one_by_one, |p| {
        if p.checked == 6 {
            sealed_midway = seal_now(3);
        }
    })
    .await
    .expect("verify");
    assert_eq!(sealed_midway, 3, "the sealer ran between two batches");
    assert!(report.ok(), "{:?}", report.violation);
    assert_eq!((report.sealed, report.unsealed), (5, total - 5));

    // Everything left is sealed after the last batch, before the chain is counted.
    let mut sealed_at_end = 0;
    let report = verify_with(&store, &one_by_one, |p| {
        if p.checked == total {
            sealed_at_end = seal_now(hash_chain::SEAL_BATCH);
        }
    })
    .await
    .expect("verify");
    assert!(sealed_at_end > 0, "the sealer ran after the last batch");
    assert!(report.ok(), "{:?}", report.violation);
    assert_eq!((report.sealed, report.unsealed), (8, total - 8));
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", stdout(o)))
}

/// Every auditor command in the form a script reads: --json output, exit 0 when clean and 1 on
/// a finding; exports in both formats, whose balances add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditor_commands_fit_scripts() {
    let t = ledger().await;
    let (a, b) = (user(2501), user(2502));
    open_with(&t.ledger, a, 1_000).await;
    let before_b = chrono::Utc::now();
    open_with(&t.ledger, b, 500).await;
    let task = t
        .ledger
        .request_task(&ctx(a), low_task(a, "exported"))
        .await
        .expect("debit")
        .value
        .task_id;
    t.ledger
        .fail_task(&system(), task, a, "gave up")
        .await
        .expect("fail and refund");
    t.ledger
        .request_task(&ctx(b), low_task(b, "kept"))
        .await
        .expect("debit");
    hash_chain::seal_all(t.ledger.store()).await.expect("seal");
    let url = t.db.url();

    let verified = tokenbot(url, &["ledger", "verify", "--json"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    let report = json(&verified);
    assert!(report["violation"].is_null());
    assert_eq!(report["accounts"], 2);
    assert_eq!(report["tokens_refunded"], 100);

    let balance = tokenbot(url, &["ledger", "balance", "2501", "--json"]);
    assert_eq!(balance.status.code(), Some(0), "{}", stderr(&balance));
    assert_eq!(json(&balance)["balance"], 1_000);
    let missing = tokenbot(url, &["ledger", "balance", "2599", "--json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(json(&missing)["balance"].is_null());

    let history = tokenbot(url, &["ledger", "history", "2501", "--json"]);
    let kinds: Vec<String> = stdout(&history)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["event"]["type"].as_str().expect("type").to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "AccountOpened",
            "TokensGranted",
            "TokensDebited",
            "TokensRefunded"
        ]
    );
    let text = stdout(&tokenbot(url, &["ledger", "history", "2501"]));
    assert!(
        text.contains("TokensRefunded") && text.contains("= 1000"),
        "{text}"
    );

    // The read models, rebuilt by the owner, then compared by the reader.
    let rebuilt = tokenbot(url, &["projections", "rebuild"]);
    assert_eq!(rebuilt.status.code(), Some(0), "{}", stderr(&rebuilt));
    let status = tokenbot(url, &["projections", "status", "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(json(&status)["users"]["events"].as_i64() > Some(0));
    let equal = tokenbot(url, &["projections", "diff", "--json"]);
    assert_eq!(equal.status.code(), Some(0), "{}", stderr(&equal));
    assert_eq!(json(&equal)["equal"], true);
    t.db.pool()
        .get()
        .await
        .expect("owner")
        .batch_execute(
            "UPDATE projections.users SET balance = balance + 1 WHERE telegram_id = 2502",
        )
        .await
        .expect("a drifted read model");
    let differs = tokenbot(url, &["projections", "diff", "users", "--json"]);
    assert_eq!(differs.status.code(), Some(1), "{}", stderr(&differs));
    let doc = json(&differs);
    assert_eq!(doc["equal"], false);
    let rows = doc["projections"][0]["differences"]
        .as_array()
        .expect("differences");
    assert_eq!(rows.len(), 2, "the row once on each side: {rows:?}");

    // Events of a period as CSV: a header and one line per event.
    let csv = tokenbot(url, &["ledger", "export", "--format", "csv"]);
    assert_eq!(csv.status.code(), Some(0), "{}", stderr(&csv));
    let lines: Vec<String> = stdout(&csv).lines().map(str::to_string).collect();
    assert!(lines[0].starts_with("position,tx_id,event_id,stream_id"));
    assert_eq!(lines.len() as i64, 1 + count_all(&t.db).await);
    let from = before_b.to_rfc3339();
    let later = tokenbot(url, &["ledger", "export", "--from", &from]);
    let jsonl: Vec<serde_json::Value> = stdout(&later)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(
        jsonl
            .iter()
            .all(|e| e["recorded_at"].as_str() >= Some(from.as_str()))
    );
    assert!(
        !jsonl
            .iter()
            .any(|e| e["stream_id"] == "account-2501" && e["event_type"] == "AccountOpened")
    );

    // Balances over a period that starts after user a's grant: opening + in - out = closing.
    let balances = tokenbot(url, &["ledger", "export", "balances", "--from", &from]);
    assert_eq!(balances.status.code(), Some(0), "{}", stderr(&balances));
    let rows: Vec<serde_json::Value> = stdout(&balances)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let get = |k: &str| r[k].as_i64().expect(k);
        assert_eq!(
            get("opening") + get("granted") + get("refunded") - get("debited"),
            get("closing"),
            "{r}"
        );
    }
    assert_eq!(rows[0]["telegram_id"], 2501);
    assert_eq!(rows[0]["opening"], 1_000);
    assert_eq!(
        rows[0]["closing"], 1_000,
        "debited and refunded in the period"
    );
    assert_eq!(rows[1]["opening"], 0);
    assert_eq!(rows[1]["closing"], 400);
    let csv = tokenbot(
        url,
        &[
            "ledger", "export", "balances", "--format", "csv", "--to", &from,
        ],
    );
    assert_eq!(
        stdout(&csv).lines().collect::<Vec<_>>(),
        [
            "telegram_id,opening,granted,debited,refunded,closing",
            "2501,0,1000,0,0,1000"
        ]
    );
}

/// A `TokensRefunded` written straight to `owner`'s account through the low-level append (which
/// checks only the account's own rules); returns its position.
async fn forge_refund(
    t: &TestLedger,
    owner: tokenbot_ledger::TelegramId,
    task: tokenbot_ledger::TaskId,
    balance_after: u32,
) -> tokenbot_ledger::Position {
    use tokenbot_ledger::events::TokensRefunded;
    use tokenbot_ledger::{Event, ExpectedVersion, StreamAppend, StreamId, Tokens};
    let (_, version) = t.ledger.account(owner).await.expect("read").expect("open");
    let appended = t
        .ledger
        .append(
            &system(),
            vec![StreamAppend {
                stream: StreamId::account(owner),
                expected: ExpectedVersion::Exact(version),
                events: vec![Event::TokensRefunded(TokensRefunded {
                    task_id: task,
                    amount: Tokens::from_const(100),
                    reason: "forged".into(),
                    balance_after: Tokens::from_const(balance_after),
                })],
            }],
        )
        .await
        .expect("the low-level door takes it");
    appended.positions[0]
}

/// A task `owner` paid 100 for.
async fn paid_task(t: &TestLedger, owner: tokenbot_ledger::TelegramId) -> tokenbot_ledger::TaskId {
    t.ledger
        .request_task(&ctx(owner), low_task(owner, "paid"))
        .await
        .expect("debit")
        .value
        .task_id
}

/// What verify finds (it must find something).
async fn finding(t: &TestLedger) -> tokenbot_ledger::verify::Violation {
    verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify")
        .violation
        .expect("a finding")
}

/// The typed commands refund a task once; the low-level append (imports, tools) checks only each
/// stream's own rules, so a second `TokensRefunded` with a consistent `balance_after` goes in.
/// verify checks refunds on both sides and names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_second_refund_is_named_by_position() {
    let t = ledger().await;
    let u = user(2600);
    open_with(&t.ledger, u, 1_000).await;
    let task = paid_task(&t, u).await;
    t.ledger
        .fail_task(&system(), task, u, "gave up")
        .await
        .expect("the real refund");
    let clean = verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify");
    assert!(clean.ok(), "{:?}", clean.violation);

    assert_eq!(balance(&t.ledger, u).await.get(), 1_000);
    let position = forge_refund(&t, u, task, 1_100).await;

    let violation = finding(&t).await;
    assert_eq!(violation.position, Some(position), "{}", violation.reason);
    assert!(
        violation.reason.contains("second refund"),
        "{}",
        violation.reason
    );
    let cli = tokenbot(t.db.url(), &["ledger", "verify"]);
    assert_eq!(cli.status.code(), Some(1));
    assert!(
        stderr(&cli).contains(&format!(
            "position {position}: second refund of task {task}"
        )),
        "{}",
        stderr(&cli)
    );
}

/// A refund to an account that was not the one debited, or one without its task-side mark,
/// is named too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_to_the_wrong_account_or_without_its_task_side_is_named() {
    use tokenbot_ledger::StreamId;
    let t = ledger().await;
    let (payer, other) = (user(2700), user(2701));
    open_with(&t.ledger, payer, 1_000).await;
    open_with(&t.ledger, other, 0).await;
    let task = paid_task(&t, payer).await;
    let forged = forge_refund(&t, other, task, 100).await;
    let violation = finding(&t).await;
    assert_eq!(violation.position, Some(forged));
    assert!(
        violation
            .reason
            .contains(&format!("{} was debited", StreamId::account(payer))),
        "{}",
        violation.reason
    );

    // The right account, but only the account side.
    let t = ledger().await;
    open_with(&t.ledger, payer, 1_000).await;
    let task = paid_task(&t, payer).await;
    let forged = forge_refund(&t, payer, task, 1_000).await;
    let violation = finding(&t).await;
    assert_eq!(violation.position, Some(forged));
    assert!(
        violation.reason.contains("no matching TaskRefunded"),
        "{}",
        violation.reason
    );
}

/// An auditor's cron job runs verify while users generate pictures: the relay publishes and the
/// sealer seals all the while. Small batches put many batch boundaries on a moving tail; not one
/// run may report tampering that did not happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_in_a_loop_during_load_raises_no_false_alarm() {
    use tokenbot_ledger::EventStore;
    use tokenbot_ledger::bus::BusConfig;
    use tokenbot_ledger::relay::{self, RelayConfig};
    use tokenbot_ledger::shutdown::Shutdown;
    use tokenbot_ledger::verify::{VerifyOptions, verify_with};
    let t = ledger().await;
    let nats = tokenbot_testkit::TestNats::start().await;
    let js = common::pipeline::jetstream(nats.url()).await;
    let shutdown = Shutdown::new();
    let relay = tokio::spawn(relay::run(relay::Relay {
        store: t.ledger.store().clone(),
        js,
        bus: BusConfig::prefixed(nats.prefix()),
        config: RelayConfig::default(),
        shutdown: shutdown.clone(),
        progress: None,
    }));
    let ledger = t.ledger.clone();
    let load = tokio::spawn(async move { random_workload(&ledger, 11, 15, 1500).await });

    let auditor = EventStore::new(t.reader().await);
    let options = VerifyOptions {
        batch_size: 7,
        ..Default::default()
    };
    let mut runs = 0;
    let mut sealed_seen = Vec::new();
    while !load.is_finished() || runs < 5 {
        let report = verify_with(&auditor, &options, |_| {})
            .await
            .expect("verify runs");
        assert!(
            report.ok(),
            "run {runs} after {} events: {:?}",
            report.events,
            report.violation
        );
        sealed_seen.push(report.sealed);
        runs += 1;
    }
    assert!(load.await.expect("join") > 100, "the load did things");
    shutdown.cancel();
    relay.await.expect("join").expect("relay");
    assert!(
        sealed_seen.windows(2).any(|w| w[0] < w[1]),
        "the sealer moved during the runs: {sealed_seen:?}"
    );
    assert!(runs >= 5);
    eprintln!("{runs} verify runs during the load, sealed counts {sealed_seen:?}");
}

/// Split credentials, as in compose.yaml: the owner migrates; the processes hold only the
/// writer's URL, cannot migrate, and refuse to run on a schema older than they need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_migrates() {
    use tokenbot_ledger::roles::WRITER_ROLE;
    let t = ledger().await;
    let writer_url = t.db.url_as(WRITER_ROLE);
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokenbot"));
        command.args(args).env_remove("RUST_LOG");
        command.env_remove("MIGRATION_DATABASE_URL");
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().expect("the binary runs")
    };
    let owner = run(
        &[
            ("DATABASE_URL", writer_url.as_str()),
            ("MIGRATION_DATABASE_URL", t.db.url()),
        ],
        &["migrate"],
    );
    assert_eq!(owner.status.code(), Some(0), "{}", stderr(&owner));
    assert!(stdout(&owner).contains("tokenbot_writer"));

    let writer_only = run(&[("DATABASE_URL", writer_url.as_str())], &["migrate"]);
    assert_eq!(writer_only.status.code(), Some(1));
    assert!(
        stderr(&writer_only).contains("MIGRATION_DATABASE_URL"),
        "{}",
        stderr(&writer_only)
    );

    // A release that needs a newer schema than the database has.
    t.db.pool()
        .get()
        .await
        .expect("owner")
        .batch_execute("DELETE FROM ledger_schema_history WHERE version = (SELECT max(version) FROM ledger_schema_history)")
        .await
        .expect("pretend the last migration is pending");
    let stale = run(
        &[
            ("DATABASE_URL", writer_url.as_str()),
            ("NATS_URL", "nats://127.0.0.1:1"),
        ],
        &["relay"],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("run `tokenbot migrate` with MIGRATION_DATABASE_URL"),
        "{}",
        stderr(&stale)
    );
}
