//! A COMMIT whose answer is lost never runs a batch twice. A proxy between the ledger and
//! Postgres (`tokenbot_testkit::PgProxy`) cuts the connection before COMMIT, right after
//! forwarding it, after its answer reached the client (so only the NOTIFY pipelined behind it
//! fails), and before COMMIT while the server does not notice. Each unkeyed grant must then be
//! applied exactly once and answered with what was written; a batch that cannot learn its fate
//! says so, and a keyed repeat settles it; the admin HTTP API and the worker cope.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::cut::*;
use common::pipeline::{Pipeline, final_task};
use common::*;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use tokenbot_api::{AdminState, router};
use tokenbot_ledger::{
    Actor, CommandContext, GrantKind, IdempotencyKey, Ledger, LedgerError, StreamId, TaskStatus,
    TelegramId, Tokens,
};
use tokenbot_testkit::{Cut, CutPoint};

const ALL_POINTS: [CutPoint; 4] = [
    CutPoint::BeforeCommit,
    CutPoint::AfterCommitSent,
    CutPoint::AfterCommitReply,
    CutPoint::BeforeCommitServerUnaware,
];

/// True where the cut batch itself committed (the server received COMMIT).
fn commits(point: CutPoint) -> bool {
    matches!(
        point,
        CutPoint::AfterCommitSent | CutPoint::AfterCommitReply
    )
}

fn admin() -> CommandContext {
    CommandContext::new(Actor::Admin {
        telegram_id: None,
        via: "test".into(),
        name: None,
    })
}

async fn grant(
    ledger: &Ledger,
    ctx: &CommandContext,
    u: TelegramId,
    amount: u32,
    reason: &str,
) -> Result<tokenbot_ledger::Executed<tokenbot_ledger::BalanceChange>, LedgerError> {
    ledger
        .grant(
            ctx,
            u,
            Tokens::from_const(amount),
            GrantKind::Admin,
            Some(reason.to_string()),
        )
        .await
}

/// The position of the one event carrying `reason`.
async fn position_of(t: &TestLedger, u: TelegramId, reason: &str) -> i64 {
    let events = t
        .ledger
        .store()
        .read_stream(
            &StreamId::account(u),
            tokenbot_ledger::StreamVersion(1),
            1000,
        )
        .await
        .expect("read");
    events
        .iter()
        .find(|e| e.event.data()["reason"].as_str() == Some(reason))
        .map(|e| e.position.0)
        .unwrap_or_else(|| panic!("no grant {reason:?}"))
}

// A current-thread runtime (the default): the grants of one case are all queued before the
// batch writer runs, so they form one batch.
#[tokio::test]
async fn unkeyed_grants_cut_at_commit_are_applied_once_and_answered_with_what_was_written() {
    let t = ledger().await;
    let p = proxied(&t.db, test_config()).await;
    let mut case = 0;
    for point in ALL_POINTS {
        for size in [1u32, 4] {
            case += 1;
            let u = user(90_000 + case);
            open_with(&t.ledger, u, 0).await;
            let label = format!("{point:?}-{size}");
            let cut = p.proxy.arm(Cut::at(point).when_sent("TokensGranted"));
            let ctx = admin();
            let reasons: Vec<String> = (0..size).map(|i| format!("{label}-{i}")).collect();
            let results = join_all(
                reasons
                    .iter()
                    .enumerate()
                    .map(|(i, r)| grant(&p.ledger, &ctx, u, 100 + i as u32, r)),
            )
            .await;
            cut.wait(CUT_WITHIN).await.expect("the armed cut happened");

            let mut sum = 0;
            for (i, (reason, result)) in reasons.iter().zip(&results).enumerate() {
                let done = result
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{label}: grant {i} answered {e}"));
                assert_eq!(
                    grants_with_reason(&t.db, reason).await,
                    1,
                    "{label}: grant {i} is applied exactly once"
                );
                assert!(!done.replayed, "{label}");
                assert_eq!(done.value.amount.get(), 100 + i as u64, "{label}");
                assert_eq!(
                    done.positions,
                    [tokenbot_ledger::Position(position_of(&t, u, reason).await)],
                    "{label}: the answer names the event that was written"
                );
                sum += 100 + i as u64;
            }
            assert_eq!(balance(&t.ledger, u).await.get(), sum, "{label}");
            let transactions = grant_transactions(&t.db, &label).await;
            if commits(point) {
                // The cut batch committed, and its answers came from it: nothing ran again.
                assert_eq!(transactions, 1, "{label}: one batch, committed once");
            } else {
                // It rolled back, and each command ran again alone.
                assert_eq!(transactions, i64::from(size), "{label}");
            }
        }
    }
    assert_eq!(p.proxy.cuts(), 8);
    assert_verify_clean(&t.ledger).await;
}

#[tokio::test]
async fn an_outcome_that_cannot_be_learned_is_reported_and_a_keyed_repeat_settles_it() {
    let t = ledger().await;
    let mut config = test_config();
    config.commit_outcome_wait = Duration::from_secs(1);
    let p = proxied(&t.db, config).await;
    let outage = Duration::from_secs(3);
    let u = user(91_000);
    open_with(&t.ledger, u, 0).await;

    // Committed, but Postgres is out of reach for longer than the ledger waits to learn it.
    let cut = p.proxy.arm(
        Cut::at(CutPoint::AfterCommitSent)
            .when_sent("TokensGranted")
            .then_down_for(outage),
    );
    let key = IdempotencyKey::parse("grant-1").expect("key");
    let keyed = admin().with_key(key);
    let first = grant(&p.ledger, &keyed, u, 100, "keyed").await;
    cut.wait(CUT_WITHIN).await.expect("cut");
    let Err(e) = first else {
        panic!("the outcome cannot be known while Postgres is unreachable: {first:?}")
    };
    assert!(e.is_outcome_unknown(), "{e}");
    assert!(!e.is_transient(), "it may have been written");
    assert!(p.proxy.wait_up(CUT_WITHIN).await);
    let again = grant(&p.ledger, &keyed, u, 100, "keyed")
        .await
        .expect("the repeat is answered");
    assert!(again.replayed, "answered from the first, which committed");
    assert_eq!(grants_with_reason(&t.db, "keyed").await, 1);

    // Rolled back, equally unknowable: the keyed repeat applies it, once.
    let cut = p.proxy.arm(
        Cut::at(CutPoint::BeforeCommit)
            .when_sent("TokensGranted")
            .then_down_for(outage),
    );
    let keyed = admin().with_key(IdempotencyKey::parse("grant-2").expect("key"));
    let first = grant(&p.ledger, &keyed, u, 200, "keyed-2").await;
    cut.wait(CUT_WITHIN).await.expect("cut");
    assert!(
        first.as_ref().is_err_and(LedgerError::is_outcome_unknown),
        "{first:?}"
    );
    assert!(p.proxy.wait_up(CUT_WITHIN).await);
    assert_eq!(grants_with_reason(&t.db, "keyed-2").await, 0);
    let again = grant(&p.ledger, &keyed, u, 200, "keyed-2")
        .await
        .expect("the repeat is applied");
    assert!(!again.replayed);
    assert_eq!(grants_with_reason(&t.db, "keyed-2").await, 1);
    assert_eq!(balance(&t.ledger, u).await.get(), 300);
    assert_verify_clean(&t.ledger).await;
}

struct Admin {
    base: String,
    http: reqwest::Client,
}

const KEY: &str = "test-admin-key-0123456789";

async fn serve(ledger: Ledger) -> Admin {
    let app = router(AdminState::new(ledger, Some(KEY), vec![]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Admin {
        base,
        http: reqwest::Client::new(),
    }
}

impl Admin {
    async fn grant(
        &self,
        u: TelegramId,
        amount: u32,
        reason: &str,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}/admin/users/{u}/tokens", self.base))
            .header("X-Admin-API-Key", KEY)
            .json(&serde_json::json!({ "amount": amount, "reason": reason }));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let problem = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            == Some("application/problem+json");
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            assert!(problem, "an error is a problem document: {status} {body}");
        }
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_grants_without_a_key_survive_cuts_at_commit() {
    let t = ledger().await;
    let p = proxied(&t.db, test_config()).await;
    let api = serve(p.ledger.clone()).await;
    let mut case = 0;
    for point in ALL_POINTS {
        for size in [1u32, 4] {
            case += 1;
            let u = user(92_000 + case);
            open_with(&t.ledger, u, 0).await;
            let label = format!("http-{point:?}-{size}");
            let cut = p.proxy.arm(Cut::at(point).when_sent("TokensGranted"));
            let reasons: Vec<String> = (0..size).map(|i| format!("{label}-{i}")).collect();
            let answers = join_all(reasons.iter().map(|r| api.grant(u, 100, r, None))).await;
            cut.wait(CUT_WITHIN).await.expect("cut");
            for (reason, (status, body)) in reasons.iter().zip(&answers) {
                assert_eq!(*status, StatusCode::OK, "{label}: {body}");
                assert_eq!(body["added"], 100, "{label}: {body}");
                assert_eq!(grants_with_reason(&t.db, reason).await, 1, "{label}: once");
            }
            assert_eq!(
                balance(&t.ledger, u).await.get(),
                100 * u64::from(size),
                "{label}"
            );
        }
    }

    // Postgres unreachable before anything is written: a clear 503, nothing applied.
    let u = user(92_100);
    open_with(&t.ledger, u, 0).await;
    p.proxy.down_for(Duration::from_secs(2));
    let (status, body) = api.grant(u, 100, "while-down", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/unavailable")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Nothing was written")),
        "{body}"
    );
    assert_eq!(grants_with_reason(&t.db, "while-down").await, 0);
    assert!(p.proxy.wait_up(CUT_WITHIN).await);
    assert_eq!(
        api.grant(u, 100, "while-down", None).await.0,
        StatusCode::OK
    );
    assert_verify_clean(&t.ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_grant_whose_outcome_is_unknown_gets_a_503_and_its_keyed_repeat_the_answer() {
    let t = ledger().await;
    let mut config = test_config();
    config.commit_outcome_wait = Duration::from_secs(1);
    let p = proxied(&t.db, config).await;
    let api = serve(p.ledger.clone()).await;
    let u = user(93_000);
    open_with(&t.ledger, u, 0).await;
    let cut = p.proxy.arm(
        Cut::at(CutPoint::AfterCommitSent)
            .when_sent("TokensGranted")
            .then_down_for(Duration::from_secs(3)),
    );
    let (status, body) = api.grant(u, 100, "unknown", Some("k-1")).await;
    cut.wait(CUT_WITHIN).await.expect("cut");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/outcome-unknown")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("same Idempotency-Key"), "{detail}");
    assert!(p.proxy.wait_up(CUT_WITHIN).await);
    let (status, body) = api.grant(u, 100, "unknown", Some("k-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["new_balance"], 100, "{body}");
    assert_eq!(grants_with_reason(&t.db, "unknown").await, 1);
    assert_verify_clean(&t.ledger).await;
}

/// A worker whose `TaskStarted` or `TaskSucceeded` commit is cut carries on with that attempt
/// (no second start, no wait for its own lease) and delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_step_whose_commit_is_cut_still_delivers_with_one_attempt() {
    let mut config = test_config();
    config.commit_outcome_wait = Duration::from_secs(1);
    let (t, proxy, direct) = proxied_test_ledger(config).await;
    let p = Pipeline::start(t).await;
    let mut worker_config = p.worker_config();
    // Longer than the test may take: a task held by its own lease would not finish in time.
    worker_config.lease = Duration::from_secs(120);
    let _worker = p.spawn_worker(worker_config, p.shutdown.clone());
    let cases = [
        ("TaskStarted", CutPoint::AfterCommitSent, Duration::ZERO),
        ("TaskStarted", CutPoint::BeforeCommit, Duration::ZERO),
        ("TaskSucceeded", CutPoint::AfterCommitSent, Duration::ZERO),
        ("TaskSucceeded", CutPoint::AfterCommitReply, Duration::ZERO),
        // Postgres out of reach past the ledger's wait: the worker sends the step again under
        // its key and is answered with the first result.
        (
            "TaskStarted",
            CutPoint::AfterCommitSent,
            Duration::from_secs(2),
        ),
        (
            "TaskSucceeded",
            CutPoint::AfterCommitSent,
            Duration::from_secs(2),
        ),
    ];
    for (i, (event, point, outage)) in cases.into_iter().enumerate() {
        let label = format!("{event} {point:?} outage {outage:?}");
        let u = user(94_000 + i as i64);
        open_with(&direct, u, 1000).await;
        let cut = proxy.arm(Cut::at(point).when_sent(event).then_down_for(outage));
        let task = direct
            .request_task(&ctx(u), low_task(u, &format!("cut {i}")))
            .await
            .expect("request")
            .value
            .task_id;
        cut.wait(CUT_WITHIN).await.expect("cut");
        let done = final_task(&direct, task).await;
        assert_eq!(done.status, TaskStatus::Delivered, "{label}");
        assert_eq!(done.attempts, 1, "{label}");
        let events: Vec<String> = direct
            .store()
            .read_stream(
                &StreamId::task(task),
                tokenbot_ledger::StreamVersion(1),
                100,
            )
            .await
            .expect("read")
            .iter()
            .map(|e| e.event.event_type().to_string())
            .collect();
        assert_eq!(
            events,
            [
                "TaskRequested",
                "TaskStarted",
                "TaskSucceeded",
                "TaskDelivered"
            ],
            "{label}"
        );
    }
    assert_eq!(p.telegram.calls_to("sendDocument").len(), 6);
    assert_verify_clean(&direct).await;
}

/// Postgres out of reach while OpenAI draws: the worker cannot keep the image or record
/// `TaskSucceeded` when the picture arrives. It waits the outage out with the picture in hand
/// (one provider call, one attempt) instead of giving up and leaving the task to its own lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_its_picture_through_a_postgres_outage_and_delivers_it() {
    let (t, proxy, direct) = proxied_test_ledger(test_config()).await;
    let p = Pipeline::start(t).await;
    let mut worker_config = p.worker_config();
    // Longer than the test may take: a task held by its own lease would not finish in time.
    worker_config.lease = Duration::from_secs(120);
    let _worker = p.spawn_worker(worker_config, p.shutdown.clone());
    let u = user(95_000);
    open_with(&direct, u, 1000).await;
    p.openai.enqueue(tokenbot_fake_openai::Behavior::Latency(
        Duration::from_secs(1),
    ));
    let task = direct
        .request_task(&ctx(u), low_task(u, "outage while drawing"))
        .await
        .expect("request")
        .value
        .task_id;
    p.openai.wait_for_calls(1, CUT_WITHIN).await;
    // Down from before the picture arrives until well after.
    proxy.down_for(Duration::from_secs(4));
    let done = final_task(&direct, task).await;
    assert_eq!(done.status, TaskStatus::Delivered);
    assert_eq!(done.attempts, 1);
    assert_eq!(p.openai.calls().len(), 1, "the picture was made once");
    let client = direct
        .store()
        .database()
        .pool()
        .get()
        .await
        .expect("client");
    let took: f64 = client
        .query_one(
            "SELECT extract(epoch FROM max(recorded_at) - min(recorded_at))::float8
             FROM ledger.events WHERE stream_id = $1",
            &[&StreamId::task(task).as_str()],
        )
        .await
        .expect("timing")
        .get(0);
    assert!(
        took < 60.0,
        "delivered {took:.1} s after the request: the outage was waited out, not the lease"
    );
    assert_verify_clean(&direct).await;
}
