//! The chaos suite: simulated users double-tapping and Telegram redelivering webhook updates,
//! while worker processes are killed and restarted, NATS is stopped and started, every Postgres
//! connection of the system is terminated, connections are cut around `COMMIT` by a proxy
//! between the system and Postgres, and the fake OpenAI answers 429, 500 or not at all. The
//! users come in rounds with the whole system idle between them (0, 6, 12 and 20 s, in a seeded
//! order: longer than every heartbeat, expiry and ack wait on the way), as real users leave a
//! bot alone. Seeded and bounded in time; loopback only.
//!
//! At the end the money must add up exactly, and every paid task must have been delivered or
//! refunded within a bound of its request (see [`settle_bound`]); the figures, with the worst
//! pickup latency, are printed.
//!
//! Seed: CHAOS_SEED (default 7). Users: CHAOS_USERS (default 24). CHAOS_DEBUG=1 prints each
//! task's pickup and settle times (with `--nocapture`).

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

/// The suite's parts, in `tests/chaos/`.
mod chaos {
    pub mod checks;
    pub mod faults;
    pub mod story;
}

use std::io::Write;
use std::time::Duration;

use common::cut::proxied_test_ledger;
use common::pipeline::{PROVIDER_TIMEOUT, Pipeline};
use futures::future::join_all;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokenbot_bot::BotConfig;
use tokenbot_fake_telegram::TgUser;
use tokenbot_ledger::LedgerConfig;
use tokenbot_testkit::OwnedNats;
use tokenbot_worker::WorkerConfig;

use chaos::checks;
use chaos::faults::{self, FaultFigures, Targets, WorkerProcess};
use chaos::story::{self, User, UserFigures, Webhook};

/// Idle periods before the rounds of users, in seconds (each used once, in a seeded order).
const IDLE_GAPS_S: [u64; 4] = [0, 6, 12, 20];
/// Faults injected while each round of users runs.
const FAULTS_PER_ROUND: u32 = 10;
/// A session that sits inside a transaction longer than this is ended by Postgres (what
/// docs/operations.md recommends): a client cut off mid-transaction otherwise holds back
/// every reader of the log until TCP notices, which may take hours.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "2s";
/// Room for what the bound's terms do not count: NATS and Postgres outages of up to 400 ms
/// each, reconnect backoffs, the relay's pace after them, a loaded 2-core machine (slowest seen:
/// 15.4 s of an 18.4 s bound with 5 s of margin while four other builds ran).
const MARGIN: Duration = Duration::from_secs(10);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The longest a paid task may take from its request to its end under these faults: each
/// attempt may hang until the provider's timeout and then lose its worker, so that its lease
/// runs out; the pauses between attempts; a task the bus dropped waits the stall time and one
/// sweep; and a margin. (A delivery to the fake Bot API takes milliseconds.)
fn settle_bound(worker: &WorkerConfig, max_attempts: u32) -> Duration {
    let pauses: Duration = (1..max_attempts).map(|a| worker.retry_delay(a)).sum();
    (worker.lease + PROVIDER_TIMEOUT) * max_attempts
        + pauses
        + worker.task_stall
        + worker.sweep_interval()
        + MARGIN
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_leaves_every_token_accounted_for_in_time() {
    let seed = env_u64("CHAOS_SEED", 7);
    let users = env_u64("CHAOS_USERS", 24) as i64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nats = OwnedNats::spawn().await;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let max_attempts = config.max_attempts;
    // The system reaches Postgres through the proxy; `direct` is for this test's own reads.
    let (t, proxy, direct) = proxied_test_ledger(config).await;
    {
        let admin = t.db.pool().get().await.expect("client");
        let sql = format!(
            "ALTER DATABASE \"{}\" SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'",
            t.db.name()
        );
        admin.batch_execute(&sql).await.expect("set the timeout");
    }
    let p = Pipeline::start_on(t, nats.url(), "chaos").await;
    // Sessions opened before the setting do not have it.
    faults::terminate_backends(&p).await;

    // The bot behind its webhook, as in production.
    let app = tokenbot_bot::App::new(p.bot(), p.t.ledger.clone(), BotConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = Webhook::new(listener.local_addr().expect("addr"));
    let router = tokenbot_bot::webhook::router(app, story::SECRET);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let worker_config = WorkerConfig {
        lease: Duration::from_secs(2),
        ..p.worker_config()
    };
    let bound = settle_bound(&worker_config, max_attempts);
    let mut targets = Targets {
        p: &p,
        nats: &mut nats,
        proxy: &proxy,
        worker: Some(WorkerProcess::spawn(&p, &worker_config)),
        worker_config: worker_config.clone(),
    };

    let story_seed = rng.random::<u64>();
    let ids: Vec<i64> = (0..users).map(|u| 5_000 + u).collect();
    let mut people: Vec<User> = ids
        .iter()
        .map(|&id| User {
            p: &p,
            hook: &hook,
            tg: TgUser::new(id),
            rng: StdRng::seed_from_u64(story_seed ^ id as u64),
            f: UserFigures::default(),
        })
        .collect();
    let mut gaps = IDLE_GAPS_S;
    gaps.shuffle(&mut rng);
    let mut injected = FaultFigures::default();
    for (round, gap) in gaps.iter().enumerate() {
        // The idle period under test: nobody taps, nothing fails.
        tokio::time::sleep(Duration::from_secs(*gap)).await;
        let stories = join_all(people.iter_mut().map(|u| async move {
            if round == 0 {
                u.register().await;
            }
            if round == 0 || u.rng.random_bool(0.75) {
                u.one_picture(round as u32).await;
            }
        }));
        tokio::join!(
            stories,
            targets.inject(&mut rng, FAULTS_PER_ROUND, &mut injected)
        );
    }

    // Calm: everything up, no cut planned; every task must end delivered or refunded.
    targets.nats.start().await;
    proxy.disarm();
    assert!(
        proxy.wait_up(Duration::from_secs(5)).await,
        "the proxy came back"
    );
    let mut figures = UserFigures::default();
    for u in &people {
        figures.add(&u.f);
    }
    let mut violations = Vec::new();
    if figures.given_up > 0 {
        violations.push(format!("{} updates never answered 200", figures.given_up));
    }
    let outcomes = checks::every_task_settled(&p, &mut violations).await;
    let timing = checks::every_task_in_time(&p.t.db, bound, &mut violations).await;
    checks::balances_add_up(&direct, &ids, &mut violations).await;
    checks::nothing_twice(&p.t.db, &mut violations).await;
    let events = checks::read_side_and_chain(&p, &direct, &mut violations).await;

    // Written to the real stderr (not the captured test output) so that CI logs show the figures.
    let _ = writeln!(
        std::io::stderr(),
        "chaos seed {seed}: {users} users in {} rounds after idle gaps of {gaps:?} s, {} updates \
         ({} redelivered, {} double taps, {} confirms, {} answered non-200 and sent again); \
         faults: {} worker kills, {} NATS restarts, {} Postgres terminations, {} COMMIT cuts \
         ({} armed), {} OpenAI fault bursts; tasks {}: {} delivered, {} failed+refunded; \
         pickup p50 {} ms, worst {} ms; slowest task settled in {:.1} s (bound {:.1} s); \
         events {events}; violations = {}",
        gaps.len(),
        figures.updates,
        figures.redeliveries,
        figures.double_taps,
        figures.confirms,
        figures.non_200,
        injected.worker_kills,
        injected.nats_restarts,
        injected.postgres_cuts,
        proxy.cuts(),
        injected.commit_cuts_armed,
        injected.openai_faults,
        outcomes.tasks,
        outcomes.delivered,
        outcomes.refunded,
        timing.pickup_p50.as_millis(),
        timing.pickup_worst.as_millis(),
        timing.settled_worst.as_secs_f64(),
        bound.as_secs_f64(),
        violations.len()
    );
    assert!(violations.is_empty(), "violations: {violations:#?}");
    assert!(outcomes.tasks > 0, "the run created tasks");
}
