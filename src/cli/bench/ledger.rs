//! `tokenbot bench ledger`: throughput of the ledger next to a raw-Postgres baseline measured in
//! the same run on the same database, reported as ratios (machines here are shared and noisy, so
//! absolute numbers mean little on their own).

use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use serde::Serialize;
use tokenbot_ledger::replay::replay_balances;
use tokenbot_ledger::{
    Actor, CommandContext, Database, EventStore, ImageSize, Ledger, LedgerConfig, Prompt, Quality,
    TaskKind, TaskRequest, TelegramId,
};

use super::support::{ScratchDb, measure, open_rich_accounts, replace_section};
use crate::configuration::Settings;

/// `tokenbot bench ledger`: how long each phase runs and how large the replayed log is.
#[derive(Args)]
pub struct LedgerBenchArgs {
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// Events generated for the replay measurement.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=20_000_000))]
    replay_events: u64,
    /// Do not rewrite the ledger section of docs/benchmarks.md.
    #[arg(long)]
    pub no_docs: bool,
}

#[derive(Serialize)]
struct ChargeRow {
    scenario: String,
    writers: usize,
    ledger_per_s: f64,
    raw_insert_per_s: f64,
    ratio: f64,
}

#[derive(Serialize)]
struct ReplayRow {
    events: u64,
    ledger_events_per_s: f64,
    copy_rows_per_s: f64,
    ratio: f64,
}

#[derive(Serialize)]
struct LedgerBenchReport {
    bench: &'static str,
    seconds_per_phase: u64,
    cores: usize,
    postgres: String,
    charges: Vec<ChargeRow>,
    replay: ReplayRow,
}

fn bench_request(user: TelegramId) -> anyhow::Result<TaskRequest> {
    Ok(TaskRequest {
        telegram_id: user,
        kind: TaskKind::Generate,
        prompt: Prompt::parse("a lighthouse on a cliff at dawn, oil painting, warm light")?,
        model: None,
        quality: Quality::Low,
        size: ImageSize::Square,
        template_id: None,
        source_file_id: None,
    })
}

async fn charges(
    ledger: &Ledger,
    db: &Database,
    scenario: &str,
    writers: usize,
    one_account: bool,
    secs: u64,
    first_id: i64,
) -> anyhow::Result<ChargeRow> {
    let accounts =
        open_rich_accounts(ledger, first_id, if one_account { 1 } else { writers }).await?;
    let duration = Duration::from_secs(secs);
    let l = ledger.clone();
    let ledger_rate = measure(writers, duration, move |w, _| {
        let l = l.clone();
        let user = accounts[if one_account { 0 } else { w }];
        async move {
            l.request_task(
                &CommandContext::new(Actor::User { telegram_id: user }),
                bench_request(user)?,
            )
            .await?;
            Ok(())
        }
    })
    .await?;

    let pool = db.pool().clone();
    let payload = serde_json::json!({
        "task_id": uuid::Uuid::now_v7(), "telegram_id": first_id, "kind": "generate",
        "prompt": "a lighthouse on a cliff at dawn, oil painting, warm light", "model": "gpt-image-1",
        "quality": "low", "size": "1024x1024", "cost": 272
    });
    let raw_rate = measure(writers, duration, move |w, _| {
        let pool = pool.clone();
        let payload = payload.clone();
        async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached("INSERT INTO bench_raw (stream, data) VALUES ($1, $2)")
                .await?;
            client
                .execute(&stmt, &[&format!("raw-{w}"), &payload])
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(ChargeRow {
        scenario: scenario.to_string(),
        writers,
        ledger_per_s: ledger_rate,
        raw_insert_per_s: raw_rate,
        ratio: ledger_rate / raw_rate,
    })
}

/// Fills the log with `n` valid account events in bulk (10 per account: opened + 9 grants).
async fn fill_log(db: &Database, n: u64) -> anyhow::Result<()> {
    let client = db.pool().get().await?;
    let accounts = (n / 10).max(1) as i64;
    client
        .execute(
            "INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata) \
             SELECT gen_random_uuid(), 'account-' || (5000000000 + a), v, \
                    CASE WHEN v = 1 THEN 'AccountOpened' ELSE 'TokensGranted' END, 1, \
                    CASE WHEN v = 1 THEN jsonb_build_object('telegram_id', 5000000000 + a, 'username', NULL, 'first_name', 'bench', 'language_code', NULL) \
                         ELSE jsonb_build_object('amount', 100, 'kind', 'import', 'reason', NULL, 'balance_after', 100 * (v - 1)) END, \
                    '{\"correlation_id\": \"00000000-0000-7000-8000-000000000000\", \"actor\": {\"kind\": \"system\", \"component\": \"bench\"}}'::jsonb \
             FROM generate_series(1, $1::int8) AS a, generate_series(1, 10) AS v",
            &[&accounts],
        )
        .await?;
    client.batch_execute("ANALYZE ledger.events").await?;
    Ok(())
}

async fn replay(db: &Database, store: &EventStore, events: u64) -> anyhow::Result<ReplayRow> {
    fill_log(db, events).await?;
    let client = db.pool().get().await?;
    let total: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;

    let start = Instant::now();
    let accounts = replay_balances(store, |_| {}).await?;
    let ledger_rate = total as f64 / start.elapsed().as_secs_f64();
    anyhow::ensure!(!accounts.is_empty(), "replay folded no accounts");

    let start = Instant::now();
    let copy = client
        .copy_out(
            "COPY (SELECT position, tx_id, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at \
             FROM ledger.events ORDER BY tx_id, position) TO STDOUT",
        )
        .await?;
    let mut copy = std::pin::pin!(copy);
    let mut rows = 0u64;
    while let Some(chunk) = copy.next().await {
        rows += chunk?.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let copy_rate = rows as f64 / start.elapsed().as_secs_f64();
    Ok(ReplayRow {
        events: tokenbot_ledger::OutOfRange::count("event count", total)?,
        ledger_events_per_s: ledger_rate,
        copy_rows_per_s: copy_rate,
        ratio: ledger_rate / copy_rate,
    })
}

/// Measures charges and replay on a scratch database (dropped afterwards), prints the JSON and
/// updates docs/benchmarks.md.
pub async fn run(settings: &Settings, args: LedgerBenchArgs) -> anyhow::Result<i32> {
    let (scratch, db) = ScratchDb::create(settings, "ledger").await?;
    let result = run_ledger(&db, &args).await;
    scratch.drop_db().await?;
    let report = result?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        write_docs(&report)?;
    }
    Ok(0)
}

async fn run_ledger(db: &Database, args: &LedgerBenchArgs) -> anyhow::Result<LedgerBenchReport> {
    let client = db.pool().get().await?;
    client
        .batch_execute("CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp())")
        .await?;
    let postgres: String = client
        .query_one("SHOW server_version", &[])
        .await?
        .try_get(0)?;
    drop(client);

    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0; // The bench measures the ledger, not the rate limit.
    let store = EventStore::new(db.clone());
    let ledger = Ledger::new(store.clone(), config);

    let mut rows = Vec::new();
    for (i, writers) in [1usize, 8, 32].into_iter().enumerate() {
        eprintln!("charges: {writers} users on distinct accounts...");
        rows.push(
            charges(
                &ledger,
                db,
                "distinct accounts",
                writers,
                false,
                args.seconds,
                1_000_000 + i as i64 * 1_000,
            )
            .await?,
        );
    }
    eprintln!("charges: 16 writers on one account...");
    rows.push(
        charges(
            &ledger,
            db,
            "one account",
            16,
            true,
            args.seconds,
            2_000_000,
        )
        .await?,
    );
    eprintln!("replay: filling {} events...", args.replay_events);
    let replay = replay(db, &store, args.replay_events).await?;
    Ok(LedgerBenchReport {
        bench: "ledger",
        seconds_per_phase: args.seconds,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        postgres,
        charges: rows,
        replay,
    })
}

fn write_docs(r: &LedgerBenchReport) -> anyhow::Result<()> {
    let mut table = format!(
        "Measured {} with `tokenbot bench ledger --seconds {}` ({} cores, Postgres {}).\n\n\
         | scenario | writers | ledger /s | raw baseline /s | ratio | target |\n|---|---|---|---|---|---|\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        r.seconds_per_phase,
        r.cores,
        r.postgres
    );
    for c in &r.charges {
        let target = if c.writers == 32 && c.scenario == "distinct accounts" {
            ">= 0.5"
        } else {
            ""
        };
        table.push_str(&format!(
            "| charges (TaskRequested + TokensDebited), {} | {} | {:.0} | {:.0} (INSERT+COMMIT) | {:.2} | {} |\n",
            c.scenario, c.writers, c.ledger_per_s, c.raw_insert_per_s, c.ratio, target
        ));
    }
    table.push_str(&format!(
        "| replay (read + decode + fold), {} events | 1 | {:.0} | {:.0} (COPY TO STDOUT) | {:.2} | >= 0.5 |",
        r.replay.events, r.replay.ledger_events_per_s, r.replay.copy_rows_per_s, r.replay.ratio
    ));
    replace_section("ledger", "Ledger", &table)
}
