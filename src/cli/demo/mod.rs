//! `tokenbot demo`: a newcomer's first run, with no Telegram token and no OpenAI key. Starts the
//! fake Telegram and fake OpenAI in-process, runs the whole system (ledger, relay, projector,
//! worker, bot) on the real Postgres and NATS, drives a few hundred simulated users through real
//! flows, and prints what happened, `ledger verify` and `projections diff`.

mod services;
mod users;

use std::time::{Duration, Instant};

use clap::Args;
use tokenbot_ledger::checkpoint::{
    CheckpointPolicy, CheckpointSettings, CheckpointSigner, read_all,
};
use tokenbot_ledger::verify::VerifyOptions;
use tokenbot_ledger::{TelegramId, hash_chain, verify};
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::diff;

use crate::cli::system::{SimOptions, SimSystem};
use crate::configuration::Settings;
use crate::startup;

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

pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<i32> {
    let mut settings = settings.clone();
    services::ensure(&mut settings).await?;
    // Its own database and NATS names next to the configured ones, so that a real deployment on
    // the same servers never sees (or works on) the demo's users and tasks.
    let mut db: tokio_postgres::Config = settings
        .database_url
        .parse()
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a Postgres URL: {e}"))?;
    let name = format!("{}_demo", db.get_dbname().unwrap_or("tokenbot"));
    db.dbname(&name);
    settings.database_url = crate::cli::bench::config_url(&db);
    settings.bus = tokenbot_ledger::bus::BusConfig::prefixed("demo");
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
    let signer = match &settings.checkpoints.signer {
        Some(signer) => signer.clone(),
        None => {
            let ephemeral = CheckpointSigner::generate();
            println!(
                "checkpoints are signed with a key made for this run (public key {}); set LEDGER_SIGNING_KEY to use your own",
                ephemeral.public_key()
            );
            ephemeral
        }
    };
    let checkpoints = CheckpointSettings {
        signer: signer.clone(),
        // Often, so that a short run has several to check.
        policy: CheckpointPolicy {
            every_events: 500,
            every: Duration::from_secs(1),
            max_age: None,
        },
    };
    let mut system = SimSystem::start(
        ledger.clone(),
        js,
        settings.bus.clone(),
        SimOptions {
            worker_concurrency: 16,
            retry_delays: vec![Duration::from_millis(100), Duration::from_millis(300)],
            admin_ids: vec![admin],
            consumer_prefix: "demo_".into(),
            checkpoints: Some(checkpoints),
        },
    )
    .await?;
    let started_at = chrono::Utc::now();
    let clock = Instant::now();

    let mut activity = users::Activity::default();
    let mut players = tokio::task::JoinSet::new();
    let sys = std::sync::Arc::new(system);
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
    system = std::sync::Arc::into_inner(sys)
        .ok_or_else(|| anyhow::anyhow!("a simulated user outlived the run"))?;

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
    system.wait_projected(Duration::from_secs(60)).await?;
    let elapsed = clock.elapsed();

    let pool = ledger.store().database().pool().clone();
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE event_type = 'AccountOpened'),
                    coalesce(sum((data->>'amount')::bigint) FILTER (WHERE event_type = 'TokensDebited'), 0)::bigint,
                    coalesce(sum((data->>'amount')::bigint) FILTER (WHERE event_type = 'TokensRefunded'), 0)::bigint,
                    count(*) FILTER (WHERE event_type = 'TaskDelivered'),
                    count(*) FILTER (WHERE event_type = 'TaskFailed')
             FROM ledger.events WHERE recorded_at >= $1",
            &[&started_at],
        )
        .await?;
    let (opened, debited, refunded, delivered, failed): (i64, i64, i64, i64, i64) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    );
    drop(client);

    println!();
    println!("this run ({:.1} s):", elapsed.as_secs_f64());
    println!(
        "  accounts opened       {opened} (the users and one admin); updates sent {}",
        activity.updates
    );
    println!(
        "  confirm taps          {} ({} double taps, {} cancels)",
        activity.confirms, activity.double_taps, activity.cancels
    );
    println!(
        "  tasks                 {requested} requested: {delivered} delivered, {failed} failed and refunded ({} prompts were set up to fail; cancelled ones never ran)",
        activity.doomed
    );
    println!("  tokens                {debited} debited, {refunded} refunded");
    println!(
        "  Telegram calls        {} ({} documents sent); OpenAI calls {}",
        system.telegram.call_count(),
        system.telegram.uploads().len(),
        system.openai.calls().len()
    );
    if !activity.errors.is_empty() {
        println!(
            "  simulated-user errors {}: {}",
            activity.errors.len(),
            activity.errors[0]
        );
    }

    system.stop().await?;

    let sealed = hash_chain::seal_all(ledger.store()).await?;
    // This run's checkpoints (earlier runs on the same stream may have used other keys).
    let key = signer.public_key();
    let js = startup::jetstream(&settings).await?;
    let mut signed = read_all(&js, &settings.bus).await?;
    signed.retain(|c| c.verify(&key).is_ok());
    let options = VerifyOptions {
        checkpoints: signed,
        ..Default::default()
    };
    let report = verify::verify_with(ledger.store(), &options, |_| {}).await?;
    println!();
    println!(
        "ledger: {} events, {} accounts, {} tasks; granted {}, debited {}, refunded {} (sealed {sealed} now)",
        report.events,
        report.accounts,
        report.tasks,
        report.tokens_granted,
        report.tokens_debited,
        report.tokens_refunded
    );
    let verified = match &report.violation {
        None => {
            println!(
                "ledger verify: OK (head hash {})",
                report.head_hash.clone().unwrap_or_default()
            );
            if let Some(c) = &report.checkpoints {
                println!(
                    "signed checkpoints: the log matches all {} of this run (newest at chain seq {})",
                    c.matched,
                    c.last_matched_seq.unwrap_or_default()
                );
            }
            true
        }
        Some(v) => {
            println!("ledger verify: FAILED at {:?}: {}", v.position, v.reason);
            false
        }
    };
    let mut differences = 0;
    for p in Projection::ALL {
        differences += diff(ledger.store().database(), p, |_| {})
            .await?
            .differences
            .len();
    }
    if differences == 0 {
        println!("projections diff: none (live read models equal a fresh replay)");
    } else {
        println!("projections diff: {differences} differences (run `tokenbot projections diff`)");
    }
    let consistent = finished >= requested && activity.errors.is_empty();
    Ok(if verified && differences == 0 && consistent {
        0
    } else {
        1
    })
}
