//! `tokenbot projections status`: each projection's checkpoint, read where the admin API reads
//! the read models (`READ_DATABASE_URL`, else the primary as the reader role), the event that
//! checkpoint is as of, and how far it is behind the primary's newest event when the primary
//! can be asked too. On a replica that gap is the projector's lag plus the replica's replay lag.

use anyhow::Context;
use serde::Serialize;
use tokenbot_ledger::Database;
use tokenbot_projections::as_of::{self, AsOf};
use tokenbot_projections::rebuild::{ProjectionStatus, status};

use crate::configuration::Settings;
use crate::startup;

/// Where the checkpoints were read, and how they compare with the primary.
#[derive(Serialize)]
struct Report {
    /// `READ_DATABASE_URL` or `DATABASE_URL`.
    read_from: &'static str,
    /// Who read it where: `role@host:port/db`.
    database: String,
    /// The oldest checkpoint and its event's time.
    as_of: AsOf,
    /// The primary's newest event (null: no events, or the primary not reachable).
    primary_head: Option<AsOf>,
    /// Events committed on the primary after `as_of`, and the time between their recording.
    behind: Option<Behind>,
    /// Why the primary could not be asked, when it could not.
    primary_error: Option<String>,
}

#[derive(Serialize)]
struct Behind {
    events: i64,
    seconds: Option<f64>,
}

/// Prints the status; exit status 0.
pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<i32> {
    let primary = || async { startup::ledger_readonly(settings).await };
    let (read_from, db) = match startup::read_database(settings)? {
        Some(db) => {
            db.check().await.context("READ_DATABASE_URL")?;
            ("READ_DATABASE_URL", db)
        }
        None => ("DATABASE_URL", primary().await?.store().database().clone()),
    };
    let all = status(db.pool()).await?;
    let oldest = all.iter().map(cursor).min().unwrap_or_default();
    let as_of = as_of::at(&db.pool().get().await?, oldest).await?;
    let mut report = Report {
        read_from,
        database: format!("{}@{}", db.user(), db.describe()),
        as_of,
        primary_head: None,
        behind: None,
        primary_error: None,
    };
    let on_primary = match read_from {
        "DATABASE_URL" => Ok(db),
        _ => primary().await.map(|l| l.store().database().clone()),
    };
    match on_primary {
        Ok(primary) => compare(&mut report, &primary).await?,
        Err(e) => report.primary_error = Some(format!("{e:#}")),
    }
    if json {
        print_json(&all, &report)?;
    } else {
        print_text(&all, &report);
    }
    Ok(0)
}

fn cursor(s: &ProjectionStatus) -> tokenbot_ledger::LogCursor {
    tokenbot_ledger::LogCursor {
        tx_id: s.tx_id,
        position: s.position,
    }
}

/// The primary's head and how many events the checkpoint is behind it.
async fn compare(report: &mut Report, primary: &Database) -> anyhow::Result<()> {
    let client = primary.pool().get().await?;
    let head = as_of::head(&client).await?;
    let events = as_of::events_after(&client, report.as_of.cursor()).await?;
    let seconds = head.and_then(|h| {
        let newest = h.recorded_at?;
        let seen = report.as_of.recorded_at;
        let gap = seen.map_or(chrono::TimeDelta::zero(), |s| newest - s);
        Some(gap.num_milliseconds().max(0) as f64 / 1000.0)
    });
    report.primary_head = head;
    report.behind = Some(Behind { events, seconds });
    Ok(())
}

fn print_json(all: &[ProjectionStatus], report: &Report) -> anyhow::Result<()> {
    let mut doc: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .map(|s| Ok((s.projection.to_string(), serde_json::to_value(s)?)))
        .collect::<Result<_, serde_json::Error>>()?;
    if let serde_json::Value::Object(extra) = serde_json::to_value(report)? {
        doc.extend(extra);
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

fn print_text(all: &[ProjectionStatus], r: &Report) {
    println!("read from {} ({})", r.read_from, r.database);
    for s in all {
        println!("{}: {}", s.projection, s.checkpoint);
    }
    println!("as of: {}", describe(&r.as_of));
    match (&r.primary_head, &r.behind, &r.primary_error) {
        (_, _, Some(e)) => println!("primary: not reachable ({e})"),
        (None, _, _) => println!("primary head: no events"),
        (Some(head), Some(b), _) => println!(
            "primary head: {}; behind: {} events, {} s",
            describe(head),
            b.events,
            b.seconds.unwrap_or(0.0)
        ),
        (Some(head), None, _) => println!("primary head: {}", describe(head)),
    }
}

fn describe(a: &AsOf) -> String {
    match a.recorded_at {
        Some(t) => format!(
            "event {} (tx {}), recorded {}",
            a.position,
            a.tx_id,
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        None => "the start (no event applied)".to_string(),
    }
}
