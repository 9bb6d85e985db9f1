//! What an operator's tools see of a running system: `/metrics` as Prometheus scrapes it (every
//! name prefixed, described, histograms with buckets, the build named), `tokenbot health` as a
//! container health check runs it, and a bot without its token staying off without exiting.

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokenbot::configuration::{SecretUrl, Settings};
use tokenbot::system::{System, parts};
use tokenbot_ledger::bus::BusConfig;
use tokenbot_projections::live::LiveConfig;
use tokenbot_testkit::{TestDatabase, TestNats, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {LIMIT:?}"))
}

/// The metric names of a scrape (a histogram's series by the histogram's name).
fn series_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_running_system_are_prefixed_described_and_bucketed() {
    let t = ledger().await;
    let nats = TestNats::start().await;
    let prefix = nats.prefix().to_string();
    let settings = Settings {
        nats_url: SecretUrl::new(nats.url()),
        bus: BusConfig::prefixed(&prefix),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..Settings::default()
    };
    let js = common::pipeline::jetstream(nats.url()).await;
    let system = System::builder(settings.clone())
        .ledger(t.ledger.clone())
        .jetstream(js)
        .relay()
        .projector_with(LiveConfig {
            consumer: format!("{prefix}_projector"),
            ..parts::live_config(&settings)
        })
        .http()
        .start()
        .await
        .expect("start the system");
    let base = format!("http://{}", system.http_addr().expect("HTTP runs"));

    // Work that touches a counter, a gauge and two histograms: an append (batch size), its
    // publication (relay), HTTP requests (latency).
    open_with(&t.ledger, user(7100), 500).await;
    let mut relayed = system.relayed();
    within(
        "the relay publishes the account",
        relayed.wait_for(|c| *c != tokenbot_ledger::LogCursor::START),
    )
    .await
    .expect("relay");
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let scrape = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let names = series_names(&scrape);
    for name in &names {
        assert!(
            name.starts_with("tokenbot_"),
            "{name} lacks the prefix:\n{scrape}"
        );
    }
    // Every metric family has its description, and the exported ones include the ones this
    // work touched.
    for line in scrape.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            scrape.contains(&format!("# HELP {name} ")),
            "{name} has no HELP line:\n{scrape}"
        );
    }
    for described in [
        "# HELP tokenbot_ledger_appends_total Events appended to the ledger.",
        "# HELP tokenbot_relay_published_total Events acknowledged by JetStream.",
        "# TYPE tokenbot_ledger_batch_size histogram",
        "# TYPE tokenbot_http_request_duration_seconds histogram",
    ] {
        assert!(scrape.contains(described), "{described} missing:\n{scrape}");
    }
    // Histograms come as buckets (which add up across processes), with this measure's bounds.
    assert!(
        scrape.contains("tokenbot_ledger_batch_size_bucket{le=\"64\"}"),
        "{scrape}"
    );
    assert!(
        scrape.lines().any(
            |l| l.starts_with("tokenbot_http_request_duration_seconds_bucket{")
                && l.contains("le=\"0.005\"")
                && l.contains("route=\"/health\"")
        ),
        "{scrape}"
    );
    assert!(
        !scrape.contains("quantile="),
        "no summaries left:\n{scrape}"
    );
    // The build names itself.
    let build = scrape
        .lines()
        .find(|l| l.starts_with("tokenbot_build_info{"))
        .unwrap_or_else(|| panic!("no build info:\n{scrape}"));
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    assert!(build.contains("rustc=\"rustc 1."), "{build}");
    assert!(build.contains("git_sha=\""), "{build}");
    assert!(build.ends_with(" 1"), "{build}");

    system.shutdown();
    system.join().await.expect("the system stops cleanly");
}

/// The variables compose.yaml passes as `${NAME:-}`, empty when `.env` does not set them.
fn compose_optional() -> Vec<String> {
    let compose = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/compose.yaml"))
        .expect("compose.yaml");
    let names: Vec<String> = compose
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once(":-}").map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_string)
        .collect();
    assert!(
        names.len() > 30,
        "compose.yaml's optional variables: {names:?}"
    );
    names
}

/// `tokenbot <args>` with this test's database, NATS and HTTP address, and nothing else of the
/// environment that could change its behaviour (the bot creates no stream, so the default
/// stream name touches nothing).
fn tokenbot(db: &TestDatabase, nats: &TestNats, http_port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenbot"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("NATS_URL", nats.url())
        .env("HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_its_token_stays_off_and_healthy_and_health_says_so() {
    let db = TestDatabase::create().await;
    let nats = TestNats::start().await;
    let port = free_port();

    let mut bot = tokenbot(&db, &nats, port, &["bot"])
        .env("BOT_TOKEN", "")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tokenbot bot");
    let mut lines = BufReader::new(bot.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    // The process says why the bot is off, then serves HTTP on the port it was given.
    let listening = format!("127.0.0.1:{port}");
    within("the bot's process serves HTTP", async {
        while let Some(line) = lines.next_line().await.expect("stderr") {
            let done = line.contains(&listening);
            said.push(line);
            if done {
                return;
            }
        }
        panic!("tokenbot bot ended before serving HTTP: {said:#?}");
    })
    .await;
    assert!(
        said.iter()
            .any(|l| l.contains("BOT_TOKEN is not set: the bot stays off")),
        "{said:#?}"
    );

    let health = tokenbot(&db, &nats, port, &["health"])
        .output()
        .await
        .expect("tokenbot health");
    let out = String::from_utf8_lossy(&health.stdout);
    assert_eq!(health.status.code(), Some(0), "{out} {health:?}");
    assert!(
        out.starts_with(&format!(
            "healthy: http://127.0.0.1:{port}/health answered 200"
        )),
        "{out}"
    );
    assert!(out.contains("\"status\":\"ok\""), "{out}");
    // Still running: staying off is not exiting (a supervisor would restart it in a loop).
    assert!(
        bot.try_wait().expect("status").is_none(),
        "the bot's process exited"
    );

    bot.kill().await.expect("stop the bot");
    // compose.yaml hands every service its variables with empty values where .env leaves them
    // out: they must count as unset, not stop the command.
    let mut health = tokenbot(&db, &nats, port, &["health", "--timeout-s", "2"]);
    for name in compose_optional() {
        health.env(name, "");
    }
    let unhealthy = health.output().await.expect("tokenbot health");
    let err = String::from_utf8_lossy(&unhealthy.stderr);
    assert_eq!(unhealthy.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "unhealthy: http://127.0.0.1:{port}/health did not answer"
        )),
        "{err}"
    );
}
