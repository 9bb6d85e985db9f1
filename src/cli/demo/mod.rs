//! `tokenbot demo`: a newcomer's first run, with no Telegram token and no OpenAI key. Starts the
//! fake Telegram and fake OpenAI in-process, runs the whole system (ledger, relay, projector,
//! worker, bot) on the real Postgres and NATS, drives a few hundred simulated users through real
//! flows, and prints what happened, `ledger verify` and `projections diff`.

mod report;
mod services;
mod users;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokenbot_ledger::TelegramId;
use tokenbot_ledger::checkpoint::{CheckpointPolicy, CheckpointSettings, CheckpointSigner};

use crate::cli::sim::{SimOptions, SimSystem};
use crate::configuration::{SecretUrl, Settings};
use crate::startup;

/// `tokenbot demo`'s options.
#[derive(Args)]
pub struct DemoArgs {
    /// How many simulated users.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
    users: u32,
    /// Users acting at the same time.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    concurrency: u32,
    /// Seed of the users' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the demo; exit status 1 when verify, the diff or a simulated user found anything.
pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<i32> {
    let settings = demo_settings(settings).await?;
    let ledger = startup::ledger(&settings).await?;
    let js = startup::jetstream(&settings).await?;
    println!(
        "tokenbot demo: {} simulated users against {} and NATS at {}",
        args.users,
        ledger.store().database().describe(),
        settings.nats_url
    );
    println!("Telegram and OpenAI are in-process fakes; everything else is the real system.");

    // Distinct ids per run, so a second run tells new stories instead of "welcome back".
    let base = 9_000_000_000 + (chrono::Utc::now().timestamp() % 1_000_000) * 10_000;
    let admin = TelegramId::new(base - 1)?;
    let signer = run_signer(&settings);
    let options = SimOptions {
        worker_concurrency: 16,
        retry_delays: vec![Duration::from_millis(100), Duration::from_millis(300)],
        admin_ids: vec![admin],
        consumer_prefix: "demo_".into(),
        checkpoints: Some(CheckpointSettings {
            signer: signer.clone(),
            // Often, so that a short run has several to check.
            policy: CheckpointPolicy {
                every_events: 500,
                every: Duration::from_secs(1),
                max_age: None,
            },
        }),
    };
    let system = SimSystem::start(settings.clone(), ledger.clone(), js, options).await?;
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let (system, activity) = play(system, base, &args).await?;

    // The admin looks at the numbers, as an operator would.
    let admin_chat = tokenbot_fake_telegram::Conversation::new(
        &system.telegram,
        tokenbot_fake_telegram::TgUser::new(admin.get()),
    );
    let _ = admin_chat.say("/start").await;
    let _ = admin_chat.say(&format!("/addtokens {base} 1000")).await;

    let (requested, finished) = system
        .wait_tasks_final(started_at, Duration::from_secs(300))
        .await?;
    system
        .system
        .wait_projected(Duration::from_secs(60))
        .await?;
    report::this_run(&system, started_at, clock.elapsed(), &activity).await?;
    system.stop().await?;

    let verified = report::verify(&settings, &ledger, &signer).await?;
    let differences = report::diff(&ledger).await?;
    let consistent = finished >= requested && activity.errors.is_empty();
    Ok(if verified && differences == 0 && consistent {
        0
    } else {
        1
    })
}

/// The configured servers (or private ones), with a database and NATS names of the demo's own
/// next to the configured ones, so that a real deployment on the same servers never sees (or
/// works on) the demo's users and tasks.
async fn demo_settings(settings: &Settings) -> anyhow::Result<Settings> {
    let mut settings = settings.clone();
    services::ensure(&mut settings).await?;
    let mut db: tokenbot_ledger::PgConfig = settings
        .database_url
        .expose()
        .parse()
        .context("DATABASE_URL is not usable")?;
    let name = format!("{}_demo", db.get_dbname().unwrap_or("tokenbot"));
    db.dbname(&name);
    settings.database_url = SecretUrl::new(crate::cli::bench::support::config_url(&db));
    settings.bus = tokenbot_ledger::bus::BusConfig::prefixed("demo");
    Ok(settings)
}

/// LEDGER_SIGNING_KEY, or a key made for this run.
fn run_signer(settings: &Settings) -> CheckpointSigner {
    match &settings.checkpoints.signer {
        Some(signer) => signer.clone(),
        None => {
            let ephemeral = CheckpointSigner::generate();
            println!(
                "checkpoints are signed with a key made for this run (public key {}); set LEDGER_SIGNING_KEY to use your own",
                ephemeral.public_key()
            );
            ephemeral
        }
    }
}

/// Runs every simulated user, `args.concurrency` at a time; gives the system back with what
/// they did.
async fn play(
    system: SimSystem,
    base: i64,
    args: &DemoArgs,
) -> anyhow::Result<(SimSystem, users::Activity)> {
    let mut activity = users::Activity::default();
    let mut players = tokio::task::JoinSet::new();
    let sys = Arc::new(system);
    let mut next = 0u32;
    while next < args.users || !players.is_empty() {
        while next < args.users && players.len() < args.concurrency as usize {
            let sys = sys.clone();
            let id = base + i64::from(next);
            let seed = args
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(u64::from(next));
            players.spawn(async move { users::play(&sys.telegram, &sys.openai, id, seed).await });
            next += 1;
        }
        if let Some(done) = players.join_next().await {
            activity.add(done?);
        }
    }
    let system =
        Arc::into_inner(sys).ok_or_else(|| anyhow::anyhow!("a simulated user outlived the run"))?;
    Ok((system, activity))
}
