//! The chaos suite: simulated users double-tapping and Telegram redelivering webhook updates,
//! while workers are killed and restarted, NATS is stopped and started, every Postgres
//! connection of the system is cut (what a Postgres restart does to it), and the fake OpenAI
//! answers 429, 500 or not at all. Seeded and bounded in time; loopback only. At the end the
//! money must add up exactly.
//!
//! Seed: CHAOS_SEED (default 7). Users: CHAOS_USERS (default 24).

// A test may panic on its own setup (servers, databases, fixtures): that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use common::pipeline::Pipeline;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokenbot_bot::BotConfig;
use tokenbot_fake_openai::Behavior;
use tokenbot_fake_telegram::{TgUser, Update};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{
    Event, LedgerConfig, StreamId, StreamVersion, TaskStatus, hash_chain, verify,
};
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::diff;
use tokenbot_testkit::OwnedNats;

const SECRET: &str = "chaos-secret";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Posts Telegram updates to the bot's webhook; a redelivery posts the same update again.
struct Webhook {
    url: String,
    http: reqwest::Client,
}

impl Webhook {
    async fn post(&self, update: &serde_json::Value) -> u16 {
        match self
            .http
            .post(&self.url)
            .header(tokenbot_bot::webhook::SECRET_HEADER, SECRET)
            .json(update)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }
}

#[derive(Default)]
struct Figures {
    updates: u64,
    redeliveries: u64,
    double_taps: u64,
    confirms: u64,
    worker_kills: u64,
    nats_restarts: u64,
    postgres_cuts: u64,
    openai_faults: u64,
    non_200: u64,
}

/// One user: register, then a few generate flows, with double taps and redeliveries.
async fn user_story(p: &Pipeline, hook: &Webhook, id: i64, seed: u64) -> Figures {
    let mut rng = StdRng::seed_from_u64(seed);
    let user = TgUser::new(id);
    let mut f = Figures::default();
    let send = |update: Update| p.telegram.prepare_update(update);
    let deliver = async |f: &mut Figures, rng: &mut StdRng, json: serde_json::Value| {
        f.updates += 1;
        if hook.post(&json).await != 200 {
            f.non_200 += 1;
        }
        if rng.random_bool(0.15) {
            // Telegram did not see our answer and sends the same update again.
            f.redeliveries += 1;
            if hook.post(&json).await != 200 {
                f.non_200 += 1;
            }
        }
    };
    deliver(&mut f, &mut rng, send(Update::text(&user, "/start"))).await;
    for n in 0..rng.random_range(1..=3) {
        let chat = p.chat(user.clone());
        let Some((message, data)) = chat.0.button_data("menu:generate") else {
            break;
        };
        deliver(
            &mut f,
            &mut rng,
            send(Update::callback(&user, message, &data)),
        )
        .await;
        deliver(
            &mut f,
            &mut rng,
            send(Update::text(&user, &format!("chaos picture {id} {n}"))),
        )
        .await;
        if rng.random_bool(0.3) {
            let q = ["low", "medium"][rng.random_range(0..2)];
            if let Some((message, data)) = chat.0.button_data(&format!("img:quality:{q}")) {
                deliver(
                    &mut f,
                    &mut rng,
                    send(Update::callback(&user, message, &data)),
                )
                .await;
            }
        }
        let Some((message, data)) = chat.0.button_data("confirm:yes") else {
            continue;
        };
        f.confirms += 1;
        if rng.random_bool(0.3) {
            // Two taps at once: two different updates carrying the same button.
            f.double_taps += 1;
            let a = send(Update::callback(&user, message, &data));
            let b = send(Update::callback(&user, message, &data));
            let (ra, rb) = tokio::join!(hook.post(&a), hook.post(&b));
            f.updates += 2;
            f.non_200 += u64::from(ra != 200) + u64::from(rb != 200);
        } else {
            deliver(
                &mut f,
                &mut rng,
                send(Update::callback(&user, message, &data)),
            )
            .await;
        }
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_leaves_every_token_accounted_for() {
    let seed = env_u64("CHAOS_SEED", 7);
    let users = env_u64("CHAOS_USERS", 24) as i64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nats = OwnedNats::spawn().await;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let p = Pipeline::start_on(ledger_with(config).await, nats.url(), "chaos").await;

    // The bot behind its webhook, as in production.
    let app = tokenbot_bot::App::new(p.bot(), p.t.ledger.clone(), BotConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = tokenbot_bot::webhook::router(app, SECRET);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let hook = Webhook {
        url: format!("http://{addr}/webhook"),
        http: reqwest::Client::new(),
    };

    let worker_config = || tokenbot_worker::WorkerConfig {
        lease: Duration::from_secs(2),
        ..p.worker_config()
    };
    let mut worker_stop = Shutdown::new();
    let mut worker = p.spawn_worker(worker_config(), worker_stop.clone());
    let mut figures = Figures::default();

    let story_seed = rng.random::<u64>();
    let stories = async {
        let mut all = Figures::default();
        let runs = (0..users).map(|u| user_story(&p, &hook, 5_000 + u, story_seed ^ u as u64));
        for f in futures::future::join_all(runs).await {
            all.updates += f.updates;
            all.redeliveries += f.redeliveries;
            all.double_taps += f.double_taps;
            all.confirms += f.confirms;
            all.non_200 += f.non_200;
        }
        all
    };
    let faults = async {
        let mut f = Figures::default();
        let pool = p.t.db.pool();
        let db_name = p.t.db.name().to_string();
        for _ in 0..40 {
            // Designed pacing between faults, not a wait for a result.
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
            match rng.random_range(0..4) {
                0 => {
                    worker.abort();
                    let _ = (&mut worker).await;
                    worker_stop = Shutdown::new();
                    worker = p.spawn_worker(worker_config(), worker_stop.clone());
                    f.worker_kills += 1;
                }
                1 => {
                    nats.stop().await;
                    tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                    nats.start().await;
                    f.nats_restarts += 1;
                }
                2 => {
                    if let Ok(client) = pool.get().await {
                        let _ = client
                            .execute(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                                &[&db_name],
                            )
                            .await;
                    }
                    f.postgres_cuts += 1;
                }
                _ => {
                    let b = match rng.random_range(0..3) {
                        0 => Behavior::RateLimited { retry_after_s: 0 },
                        1 => Behavior::ServerError,
                        _ => Behavior::Hang,
                    };
                    p.openai
                        .enqueue_many(std::iter::repeat_n(b, rng.random_range(1..4)));
                    f.openai_faults += 1;
                }
            }
        }
        f
    };
    let (stories, injected) = tokio::join!(stories, faults);
    figures.updates = stories.updates;
    figures.redeliveries = stories.redeliveries;
    figures.double_taps = stories.double_taps;
    figures.confirms = stories.confirms;
    figures.non_200 = stories.non_200;
    figures.worker_kills = injected.worker_kills;
    figures.nats_restarts = injected.nats_restarts;
    figures.postgres_cuts = injected.postgres_cuts;
    figures.openai_faults = injected.openai_faults;

    // Calm: everything up, every task must end delivered or refunded.
    nats.start().await;
    let _keep = (&worker_stop, &worker);
    let client = p.t.db.pool().get().await.expect("client");
    let tasks: Vec<uuid::Uuid> = client
        .query(
            "SELECT (data->>'task_id')::uuid FROM ledger.events WHERE event_type = 'TaskRequested'",
            &[],
        )
        .await
        .expect("tasks")
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(client);
    let mut delivered = 0;
    let mut failed = 0;
    let mut violations = Vec::new();
    for t in &tasks {
        let task = p.final_state(tokenbot_ledger::TaskId::from_uuid(*t)).await;
        let refunds = p
            .refunds_of(task.request.task_id, task.request.telegram_id)
            .await;
        match (task.status, refunds) {
            (TaskStatus::Delivered, 0) => delivered += 1,
            (TaskStatus::Failed, 1) => failed += 1,
            (status, n) => violations.push(format!("task {t}: {status:?} with {n} refunds")),
        }
    }

    // No negative balance, and each balance is what its events say.
    for u in 0..users {
        let Some((account, _)) = p.t.ledger.account(user(5_000 + u)).await.expect("read") else {
            continue;
        };
        let events =
            p.t.ledger
                .store()
                .read_stream(
                    &StreamId::account(user(5_000 + u)),
                    StreamVersion(1),
                    100_000,
                )
                .await
                .expect("stream");
        let mut sum: i64 = 0;
        for e in events {
            match e.event {
                Event::TokensGranted(g) => sum += g.amount.get() as i64,
                Event::TokensDebited(d) => sum -= d.amount.get() as i64,
                Event::TokensRefunded(r) => sum += r.amount.get() as i64,
                _ => {}
            }
            if sum < 0 {
                violations.push(format!("user {u} went negative"));
            }
        }
        if sum != account.balance.get() as i64 {
            violations.push(format!(
                "user {u}: balance {} but events sum to {sum}",
                account.balance
            ));
        }
    }

    // One task per draft, however often its confirm arrived.
    let client = p.t.db.pool().get().await.expect("client");
    let dup_drafts: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT metadata->>'idempotency_key' FROM ledger.events
             WHERE event_type = 'TaskRequested' GROUP BY 1 HAVING count(*) > 1) d",
            &[],
        )
        .await
        .expect("drafts")
        .get(0);
    if dup_drafts > 0 {
        violations.push(format!("{dup_drafts} drafts created more than one task"));
    }
    let by_task: HashMap<String, i64> = client
        .query(
            "SELECT data->>'task_id', count(*) FROM ledger.events WHERE event_type = 'TokensRefunded' GROUP BY 1",
            &[],
        )
        .await
        .expect("refunds")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    violations.extend(
        by_task
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(t, n)| format!("task {t} refunded {n} times")),
    );
    drop(client);

    // The read side equals a replay, and the chain verifies.
    let target = last_cursor(&p.t.db).await;
    let mut projected = p.projected.clone();
    reached(&mut projected, target, "projector").await;
    for projection in Projection::ALL {
        let report = diff(p.t.ledger.store().database(), projection, |_| {})
            .await
            .expect("diff");
        if !report.differences.is_empty() {
            violations.push(format!(
                "projection {} differs from replay in {} rows",
                projection.name(),
                report.differences.len()
            ));
        }
    }
    hash_chain::seal_all(p.t.ledger.store())
        .await
        .expect("seal");
    let report = verify::verify(p.t.ledger.store(), |_| {})
        .await
        .expect("verify");
    if let Some(v) = report.violation {
        violations.push(format!("ledger verify: {v:?}"));
    }

    // Written to the real stderr (not the captured test output) so that CI logs show the figures.
    let _ = writeln!(
        std::io::stderr(),
        "chaos seed {seed}: {users} users, {} updates ({} redelivered, {} double taps, {} confirms, {} answered non-200); \
         faults: {} worker kills, {} NATS restarts, {} Postgres connection cuts, {} OpenAI fault bursts; \
         tasks {}: {delivered} delivered, {failed} failed+refunded; events {}; violations = {}",
        figures.updates,
        figures.redeliveries,
        figures.double_taps,
        figures.confirms,
        figures.non_200,
        figures.worker_kills,
        figures.nats_restarts,
        figures.postgres_cuts,
        figures.openai_faults,
        tasks.len(),
        report.events,
        violations.len()
    );
    assert!(violations.is_empty(), "violations: {violations:#?}");
    assert!(!tasks.is_empty(), "the run created tasks");
}
