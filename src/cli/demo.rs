//! `tokenbot demo`: a newcomer's first run. Drives a few users through the ledger's real flows
//! (registration, a delivered task, a task that fails and is refunded, an admin grant, a double
//! tap, an overdraft refused) against the real database, then seals and verifies the log.

use anyhow::Context;
use chrono::Duration;
use clap::Args;
use tokenbot_ledger::events::AccountOpened;
use tokenbot_ledger::{
    Actor, CommandContext, DomainError, GrantKind, IdempotencyKey, ImageSize, Ledger, LedgerError,
    Prompt, Quality, TaskKind, TaskRequest, TelegramId, Tokens, hash_chain, verify,
};

use crate::configuration::Settings;
use crate::startup;

#[derive(Args)]
pub struct DemoArgs {
    /// How many simulated users.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    users: u32,
}

const NAMES: [&str; 5] = ["Алиса", "Bob", "Carol", "Дмитрий", "Eve"];

fn ctx_for(user: TelegramId) -> CommandContext {
    CommandContext::new(Actor::User { telegram_id: user })
}

fn worker_ctx() -> CommandContext {
    CommandContext::new(Actor::system("demo-worker"))
}

fn request(user: TelegramId, prompt: &str, quality: Quality) -> anyhow::Result<TaskRequest> {
    Ok(TaskRequest {
        telegram_id: user,
        kind: TaskKind::Generate,
        prompt: Prompt::parse(prompt)?,
        model: None,
        quality,
        size: ImageSize::Square,
        template_id: None,
        source_file_id: None,
    })
}

/// One user's story: registration, a delivered picture, a failed one refunded.
async fn user_story(ledger: &Ledger, user: TelegramId, name: &str) -> anyhow::Result<()> {
    let opened = ledger
        .open_account(
            &ctx_for(user),
            AccountOpened {
                telegram_id: user,
                username: None,
                first_name: Some(name.to_string()),
                language_code: Some("ru".into()),
            },
        )
        .await?;
    let greeting = if opened.value.newly_opened {
        "registered"
    } else {
        "welcome back"
    };
    println!(
        "  {user} {name}: {greeting}, balance {}",
        opened.value.balance
    );

    let ok = ledger
        .request_task(
            &ctx_for(user),
            request(user, "кот в космосе", Quality::Medium)?,
        )
        .await?;
    let id = ok.value.task_id;
    let started = ledger
        .start_task(&worker_ctx(), id, "demo", Duration::minutes(5))
        .await?;
    ledger
        .succeed_task(&worker_ctx(), id, started.value.attempt, None)
        .await?;
    ledger
        .deliver_task(&worker_ctx(), id, &format!("demo-file-{id}"))
        .await?;
    println!(
        "    task {id}: charged {}, delivered; balance {}",
        ok.value.cost, ok.value.balance_after
    );

    let bad = ledger
        .request_task(
            &ctx_for(user),
            request(user, "a very detailed city", Quality::High)?,
        )
        .await?;
    let id = bad.value.task_id;
    for _ in 0..ledger.config().max_attempts {
        let started = ledger
            .start_task(&worker_ctx(), id, "demo", Duration::minutes(5))
            .await?;
        ledger
            .record_attempt_failure(
                &worker_ctx(),
                id,
                started.value.attempt,
                "simulated provider error",
                true,
            )
            .await?;
    }
    let failed = ledger
        .fail_task(&worker_ctx(), id, user, "three attempts failed")
        .await?;
    println!(
        "    task {id}: charged {}, failed after {} attempts, refunded {}; balance {}",
        bad.value.cost,
        ledger.config().max_attempts,
        failed.value.refunded,
        failed.value.balance_after
    );
    Ok(())
}

pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    println!(
        "tokenbot demo against {}",
        ledger.store().database().describe()
    );

    // Distinct ids per run, so a second run tells new stories instead of "welcome back".
    let base = 9_000_000_000 + (chrono::Utc::now().timestamp() % 1_000_000) * 1_000;
    let users: Vec<TelegramId> = (0..i64::from(args.users))
        .map(|i| TelegramId::new(base + i))
        .collect::<Result<_, _>>()?;
    for (i, user) in users.iter().enumerate() {
        user_story(&ledger, *user, NAMES[i % NAMES.len()]).await?;
    }

    let first = users[0];
    let admin = CommandContext::new(Actor::Admin {
        telegram_id: None,
        via: "demo".into(),
    })
    .with_key(IdempotencyKey::derived("demo-grant", first)?);
    let grant = ledger
        .grant(
            &admin,
            first,
            Tokens::from_const(5_000),
            GrantKind::Admin,
            Some("demo bonus".into()),
        )
        .await?;
    let again = ledger
        .grant(
            &admin,
            first,
            Tokens::from_const(5_000),
            GrantKind::Admin,
            Some("demo bonus".into()),
        )
        .await?;
    println!(
        "  admin grant to {first}: {} -> {} (sent twice with one Idempotency-Key: replayed = {}, same positions = {})",
        grant.value.balance_before,
        grant.value.balance_after,
        again.replayed,
        grant.positions == again.positions
    );

    let tap = ctx_for(first).with_key(IdempotencyKey::derived("draft", uuid::Uuid::now_v7())?);
    let (a, b) = tokio::join!(
        ledger.request_task(&tap, request(first, "double tap", Quality::Low)?),
        ledger.request_task(&tap, request(first, "double tap", Quality::Low)?)
    );
    let (a, b) = (a?, b?);
    println!(
        "  double tap on confirm: task ids equal = {}, one debit of {}",
        a.value.task_id == b.value.task_id,
        a.value.cost
    );

    let poor = users[users.len() - 1];
    let big = request(poor, "too expensive", Quality::High)?;
    let mut refused = None;
    for _ in 0..10 {
        match ledger.request_task(&ctx_for(poor), big.clone()).await {
            Ok(_) => continue,
            Err(LedgerError::Domain(e @ DomainError::InsufficientBalance { .. })) => {
                refused = Some(e);
                break;
            }
            Err(e) => return Err(e).context("unexpected error in the overdraft step"),
        }
    }
    match refused {
        Some(e) => println!("  overdraft refused for {poor}: {e}"),
        None => println!("  overdraft: {poor} could still pay after 10 high-quality tasks"),
    }

    let sealed = hash_chain::seal_all(ledger.store()).await?;
    let report = verify::verify(ledger.store(), |_| {}).await?;
    println!(
        "sealed {sealed} new events; ledger holds {} events, {} accounts, {} tasks; granted {}, debited {}, refunded {}",
        report.events,
        report.accounts,
        report.tasks,
        report.tokens_granted,
        report.tokens_debited,
        report.tokens_refunded
    );
    match report.violation {
        None => {
            println!(
                "verify OK (head hash {})",
                report.head_hash.unwrap_or_default()
            );
            Ok(0)
        }
        Some(v) => {
            eprintln!("verify FAILED at {:?}: {}", v.position, v.reason);
            Ok(1)
        }
    }
}
