//! The admin HTTP API against a real server on a loopback port, real Postgres behind it, the read
//! models filled by the real projection code (catch-up from Postgres).

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokenbot_api::{AdminState, CheckFuture, HealthCheck, router};

const KEY: &str = "test-admin-key-0123456789";

struct Serving {
    base: String,
    http: reqwest::Client,
    _t: TestLedger,
}

struct Failing;

impl HealthCheck for Failing {
    fn name(&self) -> &'static str {
        "nats"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async { Err("connection refused".to_string()) })
    }
}

async fn serve(
    t: TestLedger,
    key: Option<&str>,
    checks: Vec<std::sync::Arc<dyn HealthCheck>>,
) -> Serving {
    let app = router(AdminState::new(t.ledger.clone(), key, checks));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Serving {
        base,
        http: reqwest::Client::new(),
        _t: t,
    }
}

async fn project(t: &TestLedger) {
    let pool = t.ledger.store().database().pool().clone();
    project_all(&pool).await;
}

impl Serving {
    async fn get(&self, path: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let r = admin_get(&self.http, format!("{}{path}", self.base), KEY).await;
        let (status, headers) = (r.status(), r.headers().clone());
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    async fn grant(
        &self,
        id: &str,
        body: &str,
        key: Option<&str>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .post(format!("{}/admin/users/{id}/tokens", self.base))
            .header("X-Admin-API-Key", KEY)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.expect("request");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }
}

fn is_problem(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/problem+json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_required_and_no_key_means_no_admin_api() {
    let s = serve(ledger().await, Some(KEY), vec![]).await;
    for (header, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong-key-wrong-key"), StatusCode::UNAUTHORIZED),
    ] {
        let mut req = s.http.get(format!("{}/admin/stats", s.base));
        if let Some(h) = header {
            req = req.header("X-Admin-API-Key", h);
        }
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), expected);
        assert!(is_problem(r.headers()));
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], 401);
    }
    let off = serve(ledger().await, None, vec![]).await;
    let r = off
        .http
        .get(format!("{}/admin/stats", off.base))
        .header("X-Admin-API-Key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no key configured: the admin API does not exist"
    );
    let r = off
        .http
        .get(format!("{}/health", off.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK, "health stays public");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_validate_every_field_and_are_idempotent() {
    let t = ledger().await;
    let u = user(4001);
    open_with(&t.ledger, u, 100).await;
    let ledger = t.ledger.clone();
    let s = serve(t, Some(KEY), vec![]).await;

    let cases: [(&str, &str, StatusCode, &str); 9] = [
        (
            "abc",
            r#"{"amount": 5}"#,
            StatusCode::BAD_REQUEST,
            "telegram_id",
        ),
        (
            "-4",
            r#"{"amount": 5}"#,
            StatusCode::BAD_REQUEST,
            "telegram_id",
        ),
        (
            "4001",
            r#"{"amount": -5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"amount": 0}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"amount": 1.9}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"amount": "5"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"amount": 100000000000}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"reason": "no amount"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            "4001",
            r#"{"amount": 5, "reason": 7}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
    ];
    for (id, body, status, field) in cases {
        let (got, problem, headers) = s.grant(id, body, None).await;
        assert_eq!(got, status, "{id} {body}: {problem}");
        assert!(is_problem(&headers), "{id} {body}");
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{id} {body}: {problem}"
        );
    }
    let (got, problem, _) = s.grant("4001", "{not json", None).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{problem}");
    let (got, _, _) = s.grant("4001", "[1, 2]", None).await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    let (got, _, _) = s.grant("4999", r#"{"amount": 5}"#, None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert_eq!(
        balance(&ledger, u).await.get(),
        100,
        "nothing was granted by bad requests"
    );

    let (first, body, headers) = s
        .grant(
            "4001",
            r#"{"amount": 250, "reason": "support"}"#,
            Some("ticket-17"),
        )
        .await;
    assert_eq!(first, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"telegram_id": 4001, "old_balance": 100, "added": 250, "new_balance": 350})
    );
    assert!(headers.get("idempotent-replayed").is_none());
    let (again, body2, headers2) = s
        .grant(
            "4001",
            r#"{"amount": 250, "reason": "support"}"#,
            Some("ticket-17"),
        )
        .await;
    assert_eq!(
        (again, &body2),
        (StatusCode::OK, &body),
        "a repeat returns the first result"
    );
    assert_eq!(
        headers2
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(balance(&ledger, u).await.get(), 350, "granted once");
    let (conflict, problem, _) = s
        .grant("4001", r#"{"amount": 999}"#, Some("ticket-17"))
        .await;
    assert_eq!(conflict, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], problem_type("idempotency-key-reused"));
    assert_eq!(balance(&ledger, u).await.get(), 350);
    // The quoted form (a Structured Field string, as the IETF draft writes it) is the same key.
    let (quoted, body3, _) = s
        .grant(
            "4001",
            r#"{"amount": 250, "reason": "support"}"#,
            Some("\"ticket-17\""),
        )
        .await;
    assert_eq!((quoted, &body3), (StatusCode::OK, &body));
    assert_eq!(balance(&ledger, u).await.get(), 350, "still granted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_queue_user_and_ledger_have_the_original_shapes() {
    let t = ledger().await;
    let u = user(4100);
    open_with(&t.ledger, u, 1000).await;
    for _ in 0..3 {
        t.ledger
            .request_task(&ctx(u), low_task(u, "shape"))
            .await
            .expect("task");
    }
    tokenbot_ledger::hash_chain::seal_all(t.ledger.store())
        .await
        .expect("seal");
    project(&t).await;
    let s = serve(t, Some(KEY), vec![]).await;

    let (status, stats, _) = s.get("/admin/stats").await;
    assert_eq!(status, StatusCode::OK);
    let mut keys: Vec<&str> = stats
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "active_users_today",
            "as_of",
            "model_usage",
            "revenue",
            "tasks_by_status",
            "tasks_today",
            "total_tasks",
            "total_tokens_spent",
            "total_users",
            "users_today"
        ]
    );
    assert_eq!(stats["total_users"], 1);
    assert_eq!(stats["total_tasks"], 3);
    assert_eq!(stats["tasks_by_status"], json!({"pending": 3}));
    assert_eq!(stats["total_tokens_spent"], 300);
    assert_eq!(stats["model_usage"], json!({"gpt-image-1": 3}));
    assert!(
        stats["as_of"]["position"].as_i64() > Some(0) && stats["as_of"]["recorded_at"].is_string(),
        "the checkpoint the counters are as of: {stats}"
    );

    let (_, queue, _) = s.get("/admin/queue").await;
    assert_eq!(queue["queue_name"], "tasks");
    assert_eq!(queue["pending_jobs"], 3);
    assert!(queue["oldest_pending_age_s"].as_f64().is_some());

    let (status, user, _) = s.get("/admin/users/4100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["tokens"], 700);
    assert_eq!(user["tasks_count"], 3);
    assert_eq!(user["selected_model"], "gpt-image-1");
    let (status, _, headers) = s.get("/admin/users/4242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(is_problem(&headers));

    let (status, page, _) = s.get("/admin/users/4100/ledger?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["next_from_version"], 3);
    assert_eq!(page["events"][0]["type"], "AccountOpened");
    assert_eq!(
        page["events"][0]["hash"].as_str().map(str::len),
        Some(64),
        "sealed events carry their chain hash"
    );
    let (_, rest, _) = s
        .get("/admin/users/4100/ledger?from_version=3&limit=100")
        .await;
    assert_eq!(rest["events"].as_array().map(Vec::len), Some(3));
    assert_eq!(rest["next_from_version"], Value::Null);
    let (status, problem, _) = s.get("/admin/users/4100/ledger?limit=5000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi() {
    let s = serve(ledger().await, Some(KEY), vec![]).await;
    let (status, health, _) = s.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["checks"]["postgres"], "ok");

    let failing = serve(
        ledger().await,
        Some(KEY),
        vec![std::sync::Arc::new(Failing)],
    )
    .await;
    let (status, health, _) = failing.get("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        health["checks"]["nats"]
            .as_str()
            .is_some_and(|c| c.contains("connection refused"))
    );

    let (_, doc, _) = s.get("/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/admin/stats",
        "/admin/queue",
        "/admin/users/{telegram_id}",
        "/admin/users/{telegram_id}/tokens",
        "/admin/users/{telegram_id}/ledger",
        "/admin/ledger/checkpoints",
        "/health",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} documented");
    }
    assert!(doc["components"]["securitySchemes"]["admin_key"].is_object());
    // The read endpoints document the checkpoint their answer is as of.
    let schemas = &doc["components"]["schemas"];
    for schema in ["UserResponse", "QueueResponse", "PaymentsPage"] {
        assert!(
            schemas[schema]["properties"]["as_of"].is_object(),
            "{schema}: {}",
            schemas[schema]
        );
    }
    assert!(
        schemas["StatsResponse"].to_string().contains("\"as_of\""),
        "{}",
        schemas["StatsResponse"]
    );
    assert!(schemas["AsOf"]["properties"]["recorded_at"].is_object());

    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tokenbot_http_requests_total"),
        "{metrics}"
    );
}

fn problem_type(slug: &str) -> String {
    format!("https://tokenbot.dev/problems/{slug}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_request_is_a_problem_naming_what_is_wrong() {
    let t = ledger().await;
    let u = user(4200);
    open_with(&t.ledger, u, 100).await;
    let ledger = t.ledger.clone();
    let s = serve(t, Some(KEY), vec![]).await;

    // Path and query: the shape of the request, 400 naming the parameter.
    for (path, field) in [
        ("/admin/users/abc", "telegram_id"),
        ("/admin/users/0", "telegram_id"),
        ("/admin/users/4503599627370496", "telegram_id"),
        ("/admin/users/abc/ledger", "telegram_id"),
        ("/admin/users/4200/ledger?from_version=0", "from_version"),
        (
            "/admin/users/4200/ledger?from_version=x&limit=5",
            "from_version",
        ),
        ("/admin/users/4200/ledger?limit=0", "limit"),
        ("/admin/users/4200/ledger?limit=1001", "limit"),
        ("/admin/ledger/checkpoints?limit=-1", "limit"),
        ("/admin/ledger/checkpoints?from=0", "from"),
    ] {
        let (status, problem, headers) = s.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert!(is_problem(&headers), "{path}");
        assert_eq!(problem["type"], problem_type("invalid-field"), "{path}");
        assert_eq!(problem["status"], 400, "{path}");
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("{field}: ")),
            "{path}: {detail}"
        );
    }
    let (_, problem, _) = s.get("/admin/users/4200/ledger?limit=0").await;
    assert_eq!(problem["detail"], "limit: a whole number from 1 to 1000");
    let (_, problem, _) = s.get("/admin/users/abc").await;
    assert_eq!(
        problem["detail"],
        "telegram_id: a Telegram user id is a whole number from 1 to 4503599627370495, got \"abc\""
    );
    let (status, _, _) = s.get("/admin/users/4200/ledger?limit=5&unknown=1").await;
    assert_eq!(status, StatusCode::OK, "unknown parameters are ignored");

    // Bodies that are not a JSON object: 400, nothing granted.
    for body in [
        "{not json",
        r#"{"amount": 5"#,
        r#"{"amount": 5} x"#,
        "",
        "[5, \"x\"]",
        "5",
        "null",
    ] {
        let (status, problem, headers) = s.grant("4200", body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {problem}");
        assert!(is_problem(&headers), "{body:?}");
        assert_eq!(problem["type"], problem_type("bad-request"), "{body:?}");
    }
    // Well-formed bodies whose fields break a rule: 422 naming the field, with the reason.
    for (body, field, detail) in [
        (
            r#"{"reason": "no amount"}"#,
            "amount",
            "amount: is required",
        ),
        (r#"{"amount": 0}"#, "amount", "amount: must be positive"),
        (r#"{"amount": -5}"#, "amount", "amount: must be positive"),
        (
            r#"{"amount": 1.5}"#,
            "amount",
            "amount: must be a whole number",
        ),
        (
            r#"{"amount": 5, "reason": ["x"]}"#,
            "reason",
            "reason: invalid type",
        ),
    ] {
        let (status, problem, headers) = s.grant("4200", body, None).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert!(is_problem(&headers), "{body}");
        assert_eq!(problem["type"], problem_type("invalid-field"), "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        let got = problem["detail"].as_str().unwrap_or_default();
        assert!(got.starts_with(detail), "{body}: {got}");
    }
    let long = format!(r#"{{"amount": 5, "reason": "{}"}}"#, "x".repeat(501));
    let (status, problem, _) = s.grant("4200", &long, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["detail"], "reason: at most 500 characters");

    let (status, problem, _) = s.grant("4200", r#"{"amount": 5}"#, Some("ticket 17")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");

    let huge = format!(r#"{{"amount": 5, "reason": "{}"}}"#, "x".repeat(70_000));
    let (status, problem, headers) = s.grant("4200", &huge, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert!(is_problem(&headers));
    assert_eq!(problem["status"], 413);

    assert_eq!(
        balance(&ledger, u).await.get(),
        100,
        "no refused request granted anything"
    );
    let (status, body, _) = s.grant("4200", r#"{"amount": 5, "other": 1}"#, None).await;
    assert_eq!(status, StatusCode::OK, "unknown fields are ignored: {body}");
    assert_eq!(body["new_balance"], 105);
}
