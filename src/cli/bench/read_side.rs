//! `tokenbot bench read-side`: relay msgs/s to JetStream next to raw JetStream publishing of the
//! same messages; live projection lag (p50/p99) at a sustained append rate; rebuild time. Its
//! streams have NATS_STREAM_REPLICAS copies, so that it measures a cluster too (docs/scaling.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, message::PublishMessage};
use clap::Args;
use serde::Serialize;
use tokenbot_ledger::bus::{BusConfig, encode};
use tokenbot_ledger::relay::RelayConfig;
use tokenbot_ledger::{
    Actor, CommandContext, Database, EventStore, ImageSize, Ledger, LedgerConfig, LogCursor,
    Prompt, Quality, RawEvent, TaskKind, TaskRequest, TelegramId,
};
use tokenbot_projections::Projection;
use tokenbot_projections::live::{LiveConfig, Observer};
use tokenbot_projections::rebuild::rebuild;

use super::support::{ScratchDb, open_rich_accounts, quantile, replace_section};
use crate::configuration::Settings;
use crate::startup;
use crate::system::{System, last_committed};

/// `tokenbot bench read-side`: the sizes of the logs the relay publishes and the projections
/// are rebuilt from.
#[derive(Args)]
pub struct ReadSideArgs {
    /// Events in the log the relay publishes.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=5_000_000))]
    relay_events: u64,
    /// Events in the log the projections are rebuilt from.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=20_000_000))]
    rebuild_events: u64,
    /// Appended events per second during the lag measurement.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=20_000))]
    rate: u64,
    /// Seconds of sustained appends during the lag measurement.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// Do not rewrite the read-side section of docs/benchmarks.md.
    #[arg(long)]
    no_docs: bool,
}

#[derive(Serialize)]
struct RelayRow {
    events: u64,
    relay_msgs_per_s: f64,
    raw_publish_msgs_per_s: f64,
    ratio: f64,
}

#[derive(Serialize)]
struct LagRow {
    rate_events_per_s: u64,
    achieved_events_per_s: f64,
    events: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
struct RebuildRow {
    events: u64,
    total_s: f64,
    events_per_s: f64,
}

#[derive(Serialize)]
struct ReadSideReport {
    bench: &'static str,
    cores: usize,
    relay: RelayRow,
    projection_lag: LagRow,
    rebuild: RebuildRow,
}

/// Tasks per account in the generated log (each account: opened, granted, then per task five
/// events: requested, debited, started, succeeded, delivered).
const TASKS_PER_ACCOUNT: i64 = 18;
const EVENTS_PER_ACCOUNT: i64 = 2 + 5 * TASKS_PER_ACCOUNT;

/// Appends about `events` valid events in bulk, for accounts numbered from `first_account`.
async fn fill_mixed(db: &Database, events: u64, first_account: i64) -> anyhow::Result<i64> {
    let accounts = (events as i64 / EVENTS_PER_ACCOUNT).max(1);
    let client = db.pool().get().await?;
    client
        .execute(
            "WITH acc AS (SELECT a FROM generate_series($1::int8, $2::int8) a), \
             steps AS ( \
               SELECT a, 0 AS k, s AS step FROM acc, generate_series(0, 1) s \
               UNION ALL SELECT a, k, s FROM acc, generate_series(1, $3::int8) k, generate_series(2, 6) s) \
             INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata) \
             SELECT gen_random_uuid(), \
               CASE WHEN step IN (0, 1, 3) THEN 'account-' || (7000000000 + a) ELSE 'task-' || md5(a || '-' || k)::uuid END, \
               CASE step WHEN 0 THEN 1 WHEN 1 THEN 2 WHEN 3 THEN 2 + k ELSE step - 1 END, \
               (ARRAY['AccountOpened','TokensGranted','TaskRequested','TokensDebited','TaskStarted','TaskSucceeded','TaskDelivered'])[step + 1], \
               1, \
               CASE step \
                 WHEN 0 THEN jsonb_build_object('telegram_id', 7000000000 + a, 'username', NULL, 'first_name', 'bench', 'language_code', NULL) \
                 WHEN 1 THEN jsonb_build_object('amount', 1000000, 'kind', 'import', 'reason', NULL, 'balance_after', 1000000) \
                 WHEN 2 THEN jsonb_build_object('task_id', md5(a || '-' || k)::uuid, 'telegram_id', 7000000000 + a, 'kind', 'generate', \
                      'prompt', 'a lighthouse at dawn', 'model', 'gpt-image-1', 'quality', 'low', 'size', '1024x1024', 'cost', 272) \
                 WHEN 3 THEN jsonb_build_object('task_id', md5(a || '-' || k)::uuid, 'amount', 272, 'balance_after', 1000000 - 272 * k) \
                 WHEN 4 THEN jsonb_build_object('attempt', 1, 'worker', 'bench') \
                 WHEN 5 THEN jsonb_build_object('attempt', 1) \
                 ELSE jsonb_build_object('telegram_file_id', 'file-' || a || '-' || k) END, \
               '{\"correlation_id\": \"00000000-0000-7000-8000-000000000000\", \"actor\": {\"kind\": \"system\", \"component\": \"bench\"}}'::jsonb \
             FROM steps ORDER BY a, k, step",
            &[&first_account, &(first_account + accounts - 1), &TASKS_PER_ACCOUNT],
        )
        .await?;
    client.batch_execute("ANALYZE ledger.events").await?;
    Ok(accounts)
}

async fn last_cursor(db: &Database) -> anyhow::Result<LogCursor> {
    last_committed(db)
        .await?
        .context("the benchmark's log is empty")
}

/// The settings with the benchmark's own stream and subjects.
fn on_bus(settings: &Settings, bus: &BusConfig) -> Settings {
    let mut settings = settings.clone();
    settings.bus = bus.clone();
    settings
}

async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<LogCursor>,
    target: LogCursor,
    what: &str,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(600), rx.wait_for(|c| *c >= target))
        .await
        .with_context(|| format!("{what} did not catch up within 10 minutes"))?
        .with_context(|| format!("{what} stopped"))?;
    Ok(())
}

async fn relay_phase(
    settings: &Settings,
    db: &Database,
    js: &jetstream::Context,
    events: u64,
) -> anyhow::Result<RelayRow> {
    let pid = std::process::id();
    let bus = BusConfig {
        stream: format!("BENCH_RELAY_{pid}"),
        subject_prefix: format!("benchrelay{pid}.ledger"),
        replicas: settings.bus.replicas,
        ..Default::default()
    };
    fill_mixed(db, events, 1).await?;
    let target = last_cursor(db).await?;
    let store = EventStore::new(db.clone());

    // Raw baseline: the same messages, already in memory, published with the same batching.
    let mut all: Vec<RawEvent> = Vec::new();
    let mut cursor = LogCursor::START;
    loop {
        let batch = store.read_log(cursor, 10_000).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.cursor();
        all.extend(batch);
    }
    let raw_bus = BusConfig {
        stream: format!("BENCH_RAW_{pid}"),
        subject_prefix: format!("benchraw{pid}.ledger"),
        replicas: settings.bus.replicas,
        ..Default::default()
    };
    raw_bus.ensure_stream(js).await?;
    let mut prev = LogCursor::START;
    let mut messages = Vec::with_capacity(all.len());
    for e in &all {
        messages.push((encode(&raw_bus, e, prev)?, e.event_id.to_string()));
        prev = e.cursor();
    }
    let started = Instant::now();
    for chunk in messages.chunks(1000) {
        let mut acks = Vec::with_capacity(chunk.len());
        for ((subject, headers, payload), id) in chunk {
            let m = PublishMessage::build()
                .payload(payload.clone())
                .headers(headers.clone())
                .message_id(id);
            acks.push(js.send_publish(subject.clone(), m).await?);
        }
        for ack in acks {
            ack.await?;
        }
    }
    let raw_rate = all.len() as f64 / started.elapsed().as_secs_f64();
    drop(messages);

    let config = RelayConfig {
        seal: false,
        ..Default::default()
    };
    let started = Instant::now();
    let system = System::builder(on_bus(settings, &bus))
        .ledger(Ledger::new(store, LedgerConfig::seed_default()))
        .jetstream(js.clone())
        .relay_with(config)
        .start()
        .await?;
    wait_for(&mut system.relayed(), target, "relay").await?;
    let relay_rate = all.len() as f64 / started.elapsed().as_secs_f64();
    system.stop().await?;
    for name in [&bus.stream, &raw_bus.stream] {
        js.delete_stream(name).await.ok();
    }
    Ok(RelayRow {
        events: all.len() as u64,
        relay_msgs_per_s: relay_rate,
        raw_publish_msgs_per_s: raw_rate,
        ratio: relay_rate / raw_rate,
    })
}

/// Puts the relay checkpoint `lag` and the projections' checkpoints at the end of the existing
/// log, so the relay and the projector start there: this measures live lag.
async fn start_at_end(db: &Database) -> anyhow::Result<()> {
    let start = last_cursor(db).await?;
    let client = db.pool().get().await?;
    client
        .execute(
            "INSERT INTO ledger.relay_checkpoint (name, tx_id, position) VALUES ('lag', $1::text::xid8, $2)",
            &[&start.tx_id.to_string(), &start.position],
        )
        .await?;
    for p in Projection::ALL {
        client
            .execute(
                "INSERT INTO projections.checkpoints (name, tx_id, position) VALUES ($1, $2::text::xid8, $3) \
                 ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
                &[&p.name(), &start.tx_id.to_string(), &start.position],
            )
            .await?;
    }
    Ok(())
}

/// The lag of every event the projector applies while `measuring`, in milliseconds.
#[derive(Clone, Default)]
struct LagRecorder {
    lags: Arc<Mutex<Vec<f64>>>,
    measuring: Arc<AtomicBool>,
}

impl LagRecorder {
    fn observer(&self) -> Observer {
        let recorder = self.clone();
        Arc::new(move |_, applied| {
            if recorder.measuring.load(Ordering::Relaxed) {
                let now = chrono::Utc::now();
                let mut l = recorder.lags.lock().unwrap_or_else(|p| p.into_inner());
                l.extend(applied.iter().map(|e| {
                    (now - e.recorded_at).num_microseconds().unwrap_or(0) as f64 / 1000.0
                }));
            }
        })
    }

    /// The lags so far, sorted.
    fn sorted(&self) -> Vec<f64> {
        let mut lags = self.lags.lock().unwrap_or_else(|p| p.into_inner()).clone();
        lags.sort_by(f64::total_cmp);
        lags
    }
}

/// Requests tasks for `users` in turn at `rate` events per second (a charge is two events) for
/// `seconds`, at most 32 at once; returns how many were requested.
async fn paced_charges(
    ledger: &Ledger,
    users: &[TelegramId],
    rate: u64,
    seconds: u64,
) -> anyhow::Result<usize> {
    let interval = Duration::from_secs_f64(2.0 / rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let started = Instant::now();
    let mut i = 0usize;
    let mut handles = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let permit = limit.clone().acquire_owned().await?;
        let ledger = ledger.clone();
        let user = users[i % users.len()];
        i += 1;
        handles.push(tokio::spawn(async move {
            let request = TaskRequest {
                telegram_id: user,
                kind: TaskKind::Generate,
                prompt: Prompt::parse("lag probe")?,
                model: None,
                quality: Quality::Low,
                size: ImageSize::Square,
                template_id: None,
                source_file_id: None,
            };
            ledger
                .request_task(
                    &CommandContext::new(Actor::User { telegram_id: user }),
                    request,
                )
                .await?;
            drop(permit);
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(i)
}

async fn lag_phase(
    settings: &Settings,
    db: &Database,
    js: &jetstream::Context,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<LagRow> {
    let pid = std::process::id();
    let bus = BusConfig {
        stream: format!("BENCH_LAG_{pid}"),
        subject_prefix: format!("benchlag{pid}.ledger"),
        replicas: settings.bus.replicas,
        ..Default::default()
    };
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let ledger = Ledger::new(EventStore::new(db.clone()), config);
    start_at_end(db).await?;
    let recorder = LagRecorder::default();
    let system = System::builder(on_bus(settings, &bus))
        .ledger(ledger.clone())
        .jetstream(js.clone())
        .relay_with(RelayConfig {
            name: "lag".into(),
            ..Default::default()
        })
        .projector_with(LiveConfig {
            bus: bus.clone(),
            consumer: "bench-lag".into(),
            ..Default::default()
        })
        .observe_projector(recorder.observer())
        .start()
        .await?;
    let mut rx = system.projected();

    let users = open_rich_accounts(&ledger, 8_000_000_000, 64).await?;
    wait_for(&mut rx, last_cursor(db).await?, "projector").await?;
    recorder.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let charges = paced_charges(&ledger, &users, rate, seconds).await?;
    let achieved = (charges * 2) as f64 / started.elapsed().as_secs_f64();
    wait_for(&mut rx, last_cursor(db).await?, "projector").await?;
    system.stop().await?;
    js.delete_stream(&bus.stream).await.ok();

    let lags = recorder.sorted();
    Ok(LagRow {
        rate_events_per_s: rate,
        achieved_events_per_s: achieved,
        events: lags.len(),
        p50_ms: quantile(&lags, 0.5),
        p99_ms: quantile(&lags, 0.99),
        max_ms: lags.last().copied().unwrap_or(0.0),
    })
}

async fn rebuild_phase(db: &Database, events: u64) -> anyhow::Result<RebuildRow> {
    let client = db.pool().get().await?;
    let have: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;
    drop(client);
    if (have as u64) < events {
        fill_mixed(db, events - have as u64, 1_000_000).await?;
    }
    let client = db.pool().get().await?;
    let total: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;
    drop(client);
    let pool = db.pool().clone();
    let report = rebuild(&pool, &Projection::ALL, |_| {}).await?;
    Ok(RebuildRow {
        events: total as u64,
        total_s: report.seconds,
        events_per_s: total as f64 / report.seconds,
    })
}

/// Measures the relay, live projection lag and rebuild on a scratch database and JetStream
/// stream, prints the JSON and updates docs/benchmarks.md.
pub async fn run(settings: &Settings, args: ReadSideArgs) -> anyhow::Result<i32> {
    let js = startup::jetstream(settings).await?;
    let (scratch, db) = ScratchDb::create(settings, "readside").await?;
    let result = async {
        eprintln!("relay: publishing {} events...", args.relay_events);
        let relay = relay_phase(settings, &db, &js, args.relay_events).await?;
        eprintln!(
            "projection lag: {} events/s for {} s...",
            args.rate, args.seconds
        );
        let lag = lag_phase(settings, &db, &js, args.rate, args.seconds).await?;
        eprintln!("rebuild: {} events...", args.rebuild_events);
        let rebuild = rebuild_phase(&db, args.rebuild_events).await?;
        anyhow::Ok(ReadSideReport {
            bench: "read-side",
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            relay,
            projection_lag: lag,
            rebuild,
        })
    }
    .await;
    scratch.drop_db().await?;
    let r = result?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    if !args.no_docs {
        let body = format!(
            "Measured {} with `tokenbot bench read-side` ({} cores, local Postgres and nats-server).\n\n\
             | measurement | result | baseline (same run) | ratio | target |\n|---|---|---|---|---|\n\
             | relay to JetStream, {} events | {:.0} msgs/s | {:.0} msgs/s raw JetStream publish (pre-encoded, same batching) | {:.2} | >= 20 000 msgs/s |\n\
             | live projection lag at {} events/s (achieved {:.0}), {} events | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms | | | p99 <= 100 ms |\n\
             | rebuild users + tasks (one pass), {} events | {:.2} s ({:.0} events/s) | | | <= 10 s |",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            r.cores,
            r.relay.events,
            r.relay.relay_msgs_per_s,
            r.relay.raw_publish_msgs_per_s,
            r.relay.ratio,
            r.projection_lag.rate_events_per_s,
            r.projection_lag.achieved_events_per_s,
            r.projection_lag.events,
            r.projection_lag.p50_ms,
            r.projection_lag.p99_ms,
            r.projection_lag.max_ms,
            r.rebuild.events,
            r.rebuild.total_s,
            r.rebuild.events_per_s,
        );
        replace_section("read-side", "Read side", &body)?;
    }
    Ok(0)
}
