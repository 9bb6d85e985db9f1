//! Named admin keys over real HTTP: who granted is recorded by the key's name, failed
//! authentications are limited per client address (each client binds its own loopback
//! address), and every answer carries a request id. Also the `Idempotency-Key` while its first
//! request is in flight (409).

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokenbot_api::auth::{AdminKeys, AdminName, MAX_FAILURES};
use tokenbot_api::{AdminState, router};

const ALICE: &str = "alice-key-0123456789abcdef";
const BOB: &str = "bob-key-0123456789abcdef";

async fn serve(t: &TestLedger) -> String {
    let line = |name: &str, key: &str| AdminKeys::line(&AdminName::parse(name).unwrap(), key);
    let keys = AdminKeys::parse(&format!("{},{}", line("alice", ALICE), line("bob", BOB))).unwrap();
    let app = router(AdminState::new(t.ledger.clone(), keys, vec![]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A client whose connections come from `from` (any 127.x address reaches the server).
fn client(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .unwrap()
}

async fn grant(http: &reqwest::Client, base: &str, key: &str) -> reqwest::Response {
    http.post(format!("{base}/admin/users/{}/tokens", 7001))
        .header("X-Admin-API-Key", key)
        .header("content-type", "application/json")
        .body(r#"{"amount": 5, "reason": "ticket 9"}"#)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_grant_records_the_name_of_the_key_that_made_it() {
    let t = ledger().await;
    open_with(&t.ledger, user(7001), 10).await;
    let base = serve(&t).await;
    let http = client([127, 0, 0, 1]);
    for key in [ALICE, BOB] {
        assert_eq!(grant(&http, &base, key).await.status(), StatusCode::OK);
    }
    let client = t.db.pool().get().await.unwrap();
    let actors: Vec<Value> = client
        .query(
            "SELECT metadata->'actor' FROM ledger.events WHERE event_type = 'TokensGranted' \
             AND metadata->'actor'->>'kind' = 'admin' ORDER BY position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        actors,
        [
            serde_json::json!({"kind": "admin", "via": "http", "name": "alice"}),
            serde_json::json!({"kind": "admin", "via": "http", "name": "bob"}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_keeps_failing_is_refused_and_others_are_not() {
    let t = ledger().await;
    open_with(&t.ledger, user(7001), 10).await;
    let base = serve(&t).await;
    let guesser = client([127, 0, 0, 2]);
    for _ in 0..MAX_FAILURES {
        let r = grant(&guesser, &base, "a-guess-a-guess-a-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Over the limit: refused before the key is even looked at, a right one included.
    let r = grant(&guesser, &base, ALICE).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 429);

    let honest = client([127, 0, 0, 3]);
    assert_eq!(grant(&honest, &base, ALICE).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_made_or_passed_on() {
    let t = ledger().await;
    let base = serve(&t).await;
    let http = client([127, 0, 0, 1]);
    let made = http.get(format!("{base}/health")).send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let passed = http
        .get(format!("{base}/admin/stats"))
        .header("x-request-id", "support-case-17")
        .send()
        .await
        .unwrap();
    assert_eq!(passed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(passed.headers()["x-request-id"], "support-case-17");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_while_the_first_is_in_flight_is_409_and_after_it_the_first_result() {
    let t = ledger().await;
    open_with(&t.ledger, user(7001), 10).await;
    let base = serve(&t).await;
    let http = client([127, 0, 0, 1]);
    let send = |http: reqwest::Client, base: String| async move {
        http.post(format!("{base}/admin/users/7001/tokens"))
            .header("X-Admin-API-Key", ALICE)
            .header("Idempotency-Key", "\"grant-77\"")
            .header("content-type", "application/json")
            .body(r#"{"amount": 5}"#)
            .send()
            .await
            .unwrap()
    };
    // Hold the account's stream lock so that the first grant waits inside its transaction.
    let holder = t.db.pool().get().await.unwrap();
    holder
        .execute(
            "SELECT pg_advisory_lock(hashtextextended('account-7001', 0))",
            &[],
        )
        .await
        .unwrap();
    let first = tokio::spawn(send(http.clone(), base.clone()));
    loop {
        let waiting: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let repeat = send(http.clone(), base.clone()).await;
    assert_eq!(repeat.status(), StatusCode::CONFLICT);
    holder
        .execute(
            "SELECT pg_advisory_unlock(hashtextextended('account-7001', 0))",
            &[],
        )
        .await
        .unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let after = send(http, base).await;
    assert_eq!(after.headers()["idempotent-replayed"], "true");
    assert_eq!(after.json::<Value>().await.unwrap(), first);
    assert_eq!(
        balance(&t.ledger, user(7001)).await.get(),
        15,
        "granted once"
    );
}
