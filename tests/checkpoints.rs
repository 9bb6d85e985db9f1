//! Signed checkpoints: the relay's sealer publishes them to JetStream as the chain grows; an
//! auditor exports them and holds the log against them. A superuser who rewrites an event and
//! the chain consistently passes plain `verify`, and fails against the checkpoints, which name
//! themselves. The admin API serves them.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::pipeline::jetstream;
use common::*;
use tokenbot_api::{AdminState, router};
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::checkpoint::{
    CheckpointPolicy, CheckpointSettings, CheckpointSigner, SignedCheckpoint, publish, read_all,
};
use tokenbot_ledger::global_order::{HORIZON_PATIENCE, LogSnapshot};
use tokenbot_ledger::hash_chain::{GENESIS, link};
use tokenbot_ledger::relay::{self, RelayConfig};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::verify::{VerifyOptions, verify_with};
use tokenbot_ledger::{Database, LogCursor, RawEvent, hash_chain};
use tokenbot_testkit::TestNats;

/// The binary against this test's database and NATS names.
fn tokenbot(t: &TestLedger, nats: &TestNats, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenbot"))
        .args(args)
        .env("DATABASE_URL", t.db.url())
        .env("NATS_URL", nats.url())
        .env("NATS_STREAM", format!("{}_LEDGER", nats.prefix()))
        .env("NATS_SUBJECT_PREFIX", format!("{}.ledger", nats.prefix()))
        .env_remove("RUST_LOG")
        .env_remove("LEDGER_PUBLIC_KEY")
        .env_remove("LEDGER_SIGNING_KEY")
        .output()
        .expect("the binary runs")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Every event in global order, read as the owner.
async fn all_events(t: &TestLedger) -> Vec<RawEvent> {
    let owner = Database::connect(t.db.url(), 2).await.expect("owner");
    let snapshot = LogSnapshot::open(&owner, HORIZON_PATIENCE)
        .await
        .expect("snapshot");
    let events = snapshot
        .read(LogCursor::START, 100_000)
        .await
        .expect("read");
    snapshot.close().await.expect("close");
    events
}

/// Waits (bounded) until the stream holds a checkpoint of the whole sealed chain.
async fn checkpoints_of_the_whole_chain(
    t: &TestLedger,
    js: &async_nats::jetstream::Context,
    bus: &BusConfig,
) -> Vec<SignedCheckpoint> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sealed = count_all(&t.db).await as u64;
        let all = read_all(js, bus).await.expect("read checkpoints");
        if all.last().is_some_and(|c| c.seq == sealed) {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint of all {sealed} events within 30 s (have {:?})",
            all.last().map(|c| c.seq)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistent_rewrite_passes_verify_but_not_the_checkpoints() {
    let t = ledger().await;
    let nats = TestNats::start().await;
    let js = jetstream(nats.url()).await;
    let bus = BusConfig::prefixed(nats.prefix());
    let signer = CheckpointSigner::generate();
    let shutdown = Shutdown::new();
    let relay = tokio::spawn(relay::run(relay::Relay {
        store: t.ledger.store().clone(),
        js: js.clone(),
        bus: bus.clone(),
        config: RelayConfig {
            checkpoints: Some(CheckpointSettings {
                signer: signer.clone(),
                policy: CheckpointPolicy {
                    every_events: 6,
                    every: Duration::from_millis(300),
                    max_age: None,
                },
            }),
            ..Default::default()
        },
        shutdown: shutdown.clone(),
        progress: None,
    }));

    // Users arrive in bursts with pauses longer than the checkpoint interval between them.
    for burst in 0..4 {
        for i in 0..3 {
            let u = user(3000 + burst * 10 + i);
            open_with(&t.ledger, u, 1_000).await;
            t.ledger
                .request_task(&ctx(u), low_task(u, &format!("burst {burst}")))
                .await
                .expect("debit");
        }
        if burst == 0 {
            // A checkpoint before the event that will be rewritten.
            checkpoints_of_the_whole_chain(&t, &js, &bus).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let signed = checkpoints_of_the_whole_chain(&t, &js, &bus).await;
    shutdown.cancel();
    relay.await.expect("join").expect("relay");
    assert!(signed.len() >= 2, "{} checkpoints", signed.len());
    let key = signer.public_key();
    assert!(signed.iter().all(|c| c.verify(&key).is_ok()));

    let options = VerifyOptions {
        checkpoints: signed.clone(),
        ..Default::default()
    };
    let clean = verify_with(t.ledger.store(), &options, |_| {})
        .await
        .expect("verify");
    assert!(clean.ok(), "{:?}", clean.violation);
    let matched = clean.checkpoints.expect("checked");
    assert_eq!(matched.matched, signed.len() as u64);

    // The auditor keeps a copy, through the binary.
    let dir = std::env::temp_dir().join(format!("tokenbot-cp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let copy = dir.join("checkpoints.jsonl");
    let key_hex = key.to_string();
    let exported = tokenbot(
        &t,
        &nats,
        &[
            "ledger",
            "checkpoints",
            "export",
            "--out",
            copy.to_str().expect("utf-8 path"),
            "--public-key",
            &key_hex,
        ],
    );
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    assert_eq!(
        std::fs::read_to_string(&copy)
            .expect("copy")
            .lines()
            .count(),
        signed.len()
    );

    // A superuser rewrites the prompt of an event in the middle, the chain from there on, and
    // drops the stream's cached snapshot (verify compares it with the events).
    let events = all_events(&t).await;
    let victim = events
        .iter()
        .position(|e| e.event_type == "TaskRequested" && e.data.contains("burst 2"))
        .expect("a task of the third burst");
    let owner = t.db.pool().get().await.expect("owner");
    owner
        .batch_execute(&format!(
            "ALTER TABLE ledger.events DISABLE TRIGGER events_append_only; \
             UPDATE ledger.events SET data = jsonb_set(data, '{{prompt}}', '\"rewritten\"') \
              WHERE position = {}; \
             ALTER TABLE ledger.events ENABLE TRIGGER events_append_only; \
             UPDATE ledger.streams SET snapshot = NULL, snapshot_version = NULL \
              WHERE stream_id = '{}';",
            events[victim].position,
            events[victim].stream_id.as_str()
        ))
        .await
        .expect("rewrite the event");
    let rewritten = all_events(&t).await;
    let mut hash = GENESIS;
    let mut chain = String::from("ALTER TABLE ledger.chain DISABLE TRIGGER chain_append_only;");
    for (i, e) in rewritten.iter().enumerate() {
        hash = link(&hash, e);
        if i >= victim {
            chain.push_str(&format!(
                "UPDATE ledger.chain SET hash = '\\x{}' WHERE seq = {};",
                hex::encode(hash),
                i + 1
            ));
        }
    }
    chain.push_str("ALTER TABLE ledger.chain ENABLE TRIGGER chain_append_only;");
    owner
        .batch_execute(&chain)
        .await
        .expect("rewrite the chain");

    let plain = tokenbot_ledger::verify::verify(t.ledger.store(), |_| {})
        .await
        .expect("verify");
    assert!(plain.ok(), "consistent with itself: {:?}", plain.violation);
    let report = verify_with(t.ledger.store(), &options, |_| {})
        .await
        .expect("verify");
    let violation = report.violation.expect("the checkpoints disagree");
    let victim_seq = victim as u64 + 1;
    let first_after = signed
        .iter()
        .find(|c| c.seq >= victim_seq)
        .expect("a checkpoint after the rewrite");
    assert!(
        violation.reason.contains(&format!(
            "the checkpoint signed at {}",
            first_after.signed_at.to_rfc3339()
        )) && violation
            .reason
            .contains(&format!("at chain seq {}", first_after.seq)),
        "{}",
        violation.reason
    );
    let last_good = signed.iter().rev().find(|c| c.seq < victim_seq);
    assert_eq!(
        report.checkpoints.expect("checked").last_matched_seq,
        last_good.map(|c| c.seq)
    );
    // Named by the first event sealed after the last checkpoint that still matches.
    let since = last_good.map_or(0, |c| c.seq) as usize;
    assert_eq!(violation.position, Some(rewritten[since].position));

    // The same through the binary: plain verify 0, against the copy or the stream 1.
    let plain = tokenbot(&t, &nats, &["ledger", "verify"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    for source in [copy.to_str().expect("utf-8 path"), "nats"] {
        let held = tokenbot(
            &t,
            &nats,
            &[
                "ledger",
                "verify",
                "--checkpoints",
                source,
                "--public-key",
                &key_hex,
            ],
        );
        assert_eq!(held.status.code(), Some(1), "{source}: {}", stderr(&held));
        assert!(
            stderr(&held).contains(&format!("at chain seq {}", first_after.seq)),
            "{source}: {}",
            stderr(&held)
        );
    }

    // A copy altered after export, or the wrong key, is a finding too; no key at all cannot run.
    let forged = dir.join("forged.jsonl");
    let text = std::fs::read_to_string(&copy).expect("copy");
    let first: SignedCheckpoint =
        SignedCheckpoint::from_json(text.lines().next().expect("a line")).expect("parse");
    let mut altered = first.clone();
    altered.position += 1;
    std::fs::write(&forged, format!("{}\n", altered.to_json())).expect("write");
    let other_key = CheckpointSigner::generate().public_key().to_string();
    for (file, key) in [(&forged, key_hex.as_str()), (&copy, other_key.as_str())] {
        let o = tokenbot(
            &t,
            &nats,
            &[
                "ledger",
                "verify",
                "--checkpoints",
                file.to_str().expect("utf-8 path"),
                "--public-key",
                key,
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
    }
    let no_key = tokenbot(&t, &nats, &["ledger", "verify", "--checkpoints", "nats"]);
    assert_eq!(no_key.status.code(), Some(2), "{}", stderr(&no_key));
    assert!(
        stderr(&no_key).contains("public key"),
        "{}",
        stderr(&no_key)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_serves_checkpoints_in_pages() {
    let t = ledger().await;
    let nats = TestNats::start().await;
    let js = jetstream(nats.url()).await;
    let bus = BusConfig::prefixed(nats.prefix());
    let signer = CheckpointSigner::generate();
    for i in 1..=3 {
        open_with(&t.ledger, user(3100 + i), 10).await;
        hash_chain::seal_all(t.ledger.store()).await.expect("seal");
        let client = t.writer_pool().get().await.expect("client");
        let head = hash_chain::chain_head(&client)
            .await
            .expect("head")
            .expect("sealed");
        if i == 1 {
            tokenbot_ledger::checkpoint::ensure_stream(&js, &bus, None)
                .await
                .expect("stream");
        }
        publish(&js, &bus, &signer.sign(&head, chrono::Utc::now()))
            .await
            .expect("publish");
    }
    const KEY: &str = "test-admin-key-0123456789";
    let app =
        router(AdminState::new(t.ledger.clone(), Some(KEY), vec![]).with_checkpoints(js, bus));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .header("X-Admin-API-Key", KEY)
                .send()
                .await
                .expect("request");
            (
                r.status(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, page) = get("/admin/ledger/checkpoints?limit=2".into()).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let first = page["checkpoints"].as_array().expect("a list");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["seq"], 2, "opened + granted");
    assert_eq!(first[1]["seq"], 4);
    let next = page["next_from"].as_u64().expect("more");
    let (_, page) = get(format!("/admin/ledger/checkpoints?from={next}")).await;
    let rest = page["checkpoints"].as_array().expect("a list");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["seq"], 6);
    assert!(page["next_from"].is_null());
    let parsed: SignedCheckpoint = serde_json::from_value(serde_json::json!({
        "seq": rest[0]["seq"], "position": rest[0]["position"], "tx_id": rest[0]["tx_id"],
        "head_hash": rest[0]["head_hash"], "signed_at": rest[0]["signed_at"],
        "public_key": rest[0]["public_key"], "signature": rest[0]["signature"],
    }))
    .expect("the served fields are the signed ones");
    assert!(parsed.verify(&signer.public_key()).is_ok());
    let (status, problem) = get("/admin/ledger/checkpoints?limit=0".into()).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{problem}");
    let (_, doc) = get("/openapi.json".into()).await;
    assert!(doc["paths"]["/admin/ledger/checkpoints"]["get"].is_object());
}
