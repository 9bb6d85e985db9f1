//! What the demo prints after its users are done: this run's figures, `ledger verify` against
//! the run's signed checkpoints, and `projections diff`.

use std::time::Duration;

use tokenbot_ledger::checkpoint::{CheckpointSigner, read_all};
use tokenbot_ledger::verify::VerifyOptions;
use tokenbot_ledger::{Ledger, hash_chain, verify};
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::diff as diff_projection;

use super::users::Activity;
use crate::cli::sim::SimSystem;
use crate::configuration::Settings;
use crate::startup;

/// Prints what this run did, from the ledger and from the fakes.
pub async fn this_run(
    system: &SimSystem,
    started_at: chrono::DateTime<chrono::Utc>,
    elapsed: Duration,
    activity: &Activity,
) -> anyhow::Result<()> {
    let client = system.ledger().store().database().pool().get().await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE event_type = 'AccountOpened'),
                    coalesce(sum((data->>'amount')::bigint) FILTER (WHERE event_type = 'TokensDebited'), 0)::bigint,
                    coalesce(sum((data->>'amount')::bigint) FILTER (WHERE event_type = 'TokensRefunded'), 0)::bigint,
                    count(*) FILTER (WHERE event_type = 'TaskRequested'),
                    count(*) FILTER (WHERE event_type = 'TaskDelivered'),
                    count(*) FILTER (WHERE event_type = 'TaskFailed'),
                    count(*) FILTER (WHERE event_type = 'PurchasePaid'),
                    coalesce(sum((data->>'stars')::bigint) FILTER (WHERE event_type = 'PurchasePaid'), 0)::bigint,
                    count(DISTINCT stream_id) FILTER (WHERE event_type = 'TokensGranted' AND data->>'kind' = 'purchase')
             FROM ledger.events WHERE recorded_at >= $1",
            &[&started_at],
        )
        .await?;
    let (opened, debited, refunded): (i64, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let (requested, delivered, failed): (i64, i64, i64) =
        (row.try_get(3)?, row.try_get(4)?, row.try_get(5)?);
    let (purchases, stars, payers): (i64, i64, i64) =
        (row.try_get(6)?, row.try_get(7)?, row.try_get(8)?);
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
        "  revenue               {stars} ⭐ from {purchases} packages paid by {payers} users ({} receipts seen)",
        activity.purchases
    );
    println!(
        "  Telegram calls        {} ({} documents sent); OpenAI calls {}",
        system.telegram.call_count(),
        system.telegram.uploads().len(),
        system.openai.calls().len()
    );
    if let Some(first) = activity.errors.first() {
        println!("  simulated-user errors {}: {first}", activity.errors.len());
    }
    Ok(())
}

/// Seals, then verifies the whole ledger against this run's signed checkpoints (earlier runs
/// on the same stream may have used other keys); true when clean.
pub async fn verify(
    settings: &Settings,
    ledger: &Ledger,
    signer: &CheckpointSigner,
) -> anyhow::Result<bool> {
    let sealed = hash_chain::seal_all(ledger.store()).await?;
    let key = signer.public_key();
    let js = startup::jetstream(settings).await?;
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
    let Some(v) = &report.violation else {
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
        return Ok(true);
    };
    println!("ledger verify: FAILED at {:?}: {}", v.position, v.reason);
    Ok(false)
}

/// Compares every read model with a fresh replay; returns the number of differences.
pub async fn diff(ledger: &Ledger) -> anyhow::Result<usize> {
    let mut differences = 0;
    for p in Projection::ALL {
        differences += diff_projection(ledger.store().database(), p, |_| {})
            .await?
            .differences
            .len();
    }
    if differences == 0 {
        println!("projections diff: none (live read models equal a fresh replay)");
    } else {
        println!("projections diff: {differences} differences (run `tokenbot projections diff`)");
    }
    Ok(differences)
}
