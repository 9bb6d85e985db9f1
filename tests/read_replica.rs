//! Reads off the primary: the admin API's read endpoints and `projections status` on a real hot
//! standby (testkit's `PgReplica`: a private primary and a `pg_basebackup -R` standby streaming
//! from it). With the standby's replay paused, a grant made through the API on the primary is
//! not visible on the read endpoints, and the checkpoint they report is older than the
//! primary's; after the replay resumes, the checkpoint reaches the primary's and the grant
//! shows. Without `READ_DATABASE_URL` the same endpoints read the primary.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokenbot::configuration::{SecretUrl, Settings};
use tokenbot::system::{System, SystemHandle};
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::migrations::migrate;
use tokenbot_ledger::roles::{READER_ROLE, WRITER_ROLE};
use tokenbot_ledger::{Database, EventStore, Ledger};
use tokenbot_projections::Projection;
use tokenbot_projections::as_of::{AsOf, as_of};
use tokenbot_testkit::{PgReplica, TestNats};

const KEY: &str = "test-admin-key-0123456789";
const WAIT: Duration = Duration::from_secs(20);

/// The api role of a System on `ledger`, reading the read models from `read_url` when given.
struct Api {
    base: String,
    http: reqwest::Client,
    _system: SystemHandle,
    _nats: TestNats,
}

impl Api {
    async fn start(ledger: Ledger, read_url: Option<String>) -> Api {
        let nats = TestNats::start().await;
        let settings = Settings {
            nats_url: SecretUrl::new(nats.url()),
            bus: BusConfig::prefixed(nats.prefix()),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            admin_keys: Some(KEY).into(),
            read_database_url: read_url.map(SecretUrl::new),
            ..Settings::default()
        };
        let js = common::pipeline::jetstream(nats.url()).await;
        // Connected before /health is asked (the connection is made in the background).
        js.client().flush().await.expect("NATS answers");
        let system = System::builder(settings)
            .ledger(ledger)
            .jetstream(js)
            .api()
            .start()
            .await
            .expect("start the api role");
        Api {
            base: format!("http://{}", system.http_addr().expect("HTTP runs")),
            http: reqwest::Client::new(),
            _system: system,
            _nats: nats,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = admin_get(&self.http, format!("{}{path}", self.base), KEY).await;
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn grant(&self, id: i64, amount: u64) -> Value {
        let r = self
            .http
            .post(format!("{}/admin/users/{id}/tokens", self.base))
            .header("X-Admin-API-Key", KEY)
            .json(&serde_json::json!({ "amount": amount }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("json")
    }
}

/// What the projector does live: the read models catch up with the log, on the primary.
async fn project(ledger: &Ledger) -> AsOf {
    let pool = ledger.store().database().pool().clone();
    project_all(&pool).await;
    as_of(&pool.get().await.expect("connection"), &Projection::ALL)
        .await
        .expect("checkpoint")
}

fn position(body: &Value) -> i64 {
    body["as_of"]["position"]
        .as_i64()
        .unwrap_or_else(|| panic!("no as_of.position in {body}"))
}

/// `tokenbot projections status` with these arguments and only these variables: its stdout.
fn run_status(args: &[&str], vars: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tokenbot"))
        .args(["projections", "status"])
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("run tokenbot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tokenbot projections status --json`.
fn status(vars: &[(&str, &str)]) -> Value {
    let out = run_status(&["--json"], vars);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_replica_serves_stale_reads_bounded_by_the_checkpoint_it_reports() {
    let replica = PgReplica::start().await;
    let owner_url = replica.primary_url("postgres", "tokenbot");
    let (admin, connection) = tokio_postgres::connect(
        &replica.primary_url("postgres", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("primary");
    tokio::spawn(connection);
    admin
        .batch_execute("CREATE DATABASE tokenbot")
        .await
        .expect("create");
    migrate(&Database::connect(&owner_url, 2).await.expect("owner"))
        .await
        .expect("migrate");
    let writer = Database::connect(&replica.primary_url(WRITER_ROLE, "tokenbot"), 8)
        .await
        .expect("writer");
    let ledger = Ledger::new(EventStore::new(writer), test_config());
    let u = user(5001);
    open_with(&ledger, u, 100).await;
    let before = project(&ledger).await;
    replica.replayed(WAIT).await;
    let read_url = replica.standby_url(READER_ROLE, "tokenbot");
    let api = Api::start(ledger.clone(), Some(read_url.clone())).await;

    let (status_code, shown) = api.get("/admin/users/5001").await;
    assert_eq!(status_code, StatusCode::OK, "{shown}");
    assert_eq!(shown["tokens"], 100);
    assert_eq!(position(&shown), before.position, "the replica caught up");
    assert!(shown["as_of"]["recorded_at"].is_string(), "{shown}");
    let (_, health) = api.get("/health").await;
    assert_eq!(health["checks"]["postgres_read"], "ok", "{health}");

    replica.pause_replay().await;
    let granted = api.grant(5001, 250).await;
    assert_eq!(
        granted["new_balance"], 350,
        "the grant is decided on the primary"
    );
    let after = project(&ledger).await;
    assert!(
        after.cursor() > before.cursor(),
        "the primary's read models moved"
    );

    // The replica holds the data and the checkpoint of before the grant, together.
    let (_, stale) = api.get("/admin/users/5001").await;
    assert_eq!(stale["tokens"], 100, "not yet replayed: {stale}");
    assert_eq!(position(&stale), before.position, "{stale}");
    let (_, stats) = api.get("/admin/stats").await;
    assert_eq!(position(&stats), before.position, "{stats}");
    let (_, queue) = api.get("/admin/queue").await;
    assert_eq!(position(&queue), before.position, "{queue}");
    let (_, payments) = api.get("/admin/payments").await;
    assert_eq!(position(&payments), before.position, "{payments}");
    // The ledger history reads the primary: the grant is there.
    let (_, history) = api.get("/admin/users/5001/ledger").await;
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(kinds, ["AccountOpened", "TokensGranted", "TokensGranted"]);

    let vars = [
        ("DATABASE_URL", owner_url.as_str()),
        ("READ_DATABASE_URL", read_url.as_str()),
    ];
    let text = run_status(&[], &vars);
    assert!(
        text.starts_with(&format!(
            "read from READ_DATABASE_URL ({READER_ROLE}@127.0.0.1:"
        )),
        "{text}"
    );
    assert!(text.contains("behind: 1 events"), "{text}");
    let report = status(&vars);
    assert_eq!(report["read_from"], "READ_DATABASE_URL", "{report}");
    assert_eq!(report["as_of"]["position"], before.position, "{report}");
    assert_eq!(report["users"]["position"], before.position, "{report}");
    assert!(report["primary_head"]["position"].as_i64() >= Some(after.position));
    assert_eq!(report["behind"]["events"], 1, "the grant: {report}");
    assert!(
        report["behind"]["seconds"].as_f64() >= Some(0.0),
        "{report}"
    );

    replica.resume_replay().await;
    // Nothing announces the replay's progress to a client: poll the endpoint, with a deadline.
    let resumed = Instant::now();
    let deadline = resumed + WAIT;
    let fresh = loop {
        let (_, body) = api.get("/admin/users/5001").await;
        if position(&body) >= after.position {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never caught up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "replica: the grant was readable {} ms after the replay resumed",
        resumed.elapsed().as_millis()
    );
    assert_eq!(position(&fresh), after.position, "{fresh}");
    assert_eq!(
        fresh["tokens"], 350,
        "the checkpoint reached bounds the grant: {fresh}"
    );
    let report = status(&vars);
    assert_eq!(report["behind"]["events"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_replica_the_read_endpoints_read_the_primary() {
    let t = ledger().await;
    let u = user(5101);
    open_with(&t.ledger, u, 100).await;
    let api = Api::start(t.ledger.clone(), None).await;
    let granted = api.grant(5101, 50).await;
    assert_eq!(granted["new_balance"], 150);
    let checkpoint = project(&t.ledger).await;

    let (status_code, shown) = api.get("/admin/users/5101").await;
    assert_eq!(status_code, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["tokens"], 150,
        "the primary's read models, right after projecting"
    );
    assert_eq!(position(&shown), checkpoint.position);
    let (_, health) = api.get("/health").await;
    assert!(health["checks"].get("postgres_read").is_none(), "{health}");

    let report = status(&[("DATABASE_URL", t.db.url())]);
    assert_eq!(report["read_from"], "DATABASE_URL", "{report}");
    assert_eq!(report["as_of"]["position"], checkpoint.position, "{report}");
    assert_eq!(report["behind"]["events"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_replica_degrades_the_reads_and_leaves_the_writes() {
    let t = ledger().await;
    open_with(&t.ledger, user(5201), 100).await;
    let nothing = format!(
        "postgres://{READER_ROLE}@127.0.0.1:{}/nothing",
        tokenbot_testkit::free_port()
    );
    let api = Api::start(t.ledger.clone(), Some(nothing)).await;

    let (code, health) = api.get("/health").await;
    assert_eq!(code, StatusCode::OK, "degraded, not failing: {health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["checks"]["postgres_read"]
            .as_str()
            .is_some_and(|c| c.starts_with("degraded")),
        "{health}"
    );
    for path in [
        "/admin/stats",
        "/admin/queue",
        "/admin/users/5201",
        "/admin/payments",
    ] {
        let (code, problem) = api.get(path).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{path}: {problem}");
    }
    let granted = api.grant(5201, 5).await;
    assert_eq!(
        granted["new_balance"], 105,
        "grants do not need the replica"
    );
    let (code, history) = api.get("/admin/users/5201/ledger").await;
    assert_eq!(
        code,
        StatusCode::OK,
        "the ledger history reads the primary: {history}"
    );
}
