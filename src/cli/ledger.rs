//! `tokenbot ledger ...`: the auditor's commands. None of them writes except `seal`.

use std::io::Write;
use std::pin::pin;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use futures::TryStreamExt;
use tokenbot_ledger::replay::{ReplayLine, replay_raw};
use tokenbot_ledger::{LogCursor, StreamVersion, TelegramId, hash_chain, verify};

use crate::cli::progress;
use crate::configuration::Settings;
use crate::startup;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute the hash chain and every balance from the first event; exit 1 naming the first
    /// bad position.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every committed event in global order as JSON lines.
    Replay,
    /// A user's balance now, or at a past moment.
    Balance {
        #[arg(allow_hyphen_values = true)]
        telegram_id: String,
        /// An RFC 3339 time, e.g. 2026-11-25T10:00:00Z.
        #[arg(long)]
        at: Option<String>,
    },
    /// Every event of a user's account, oldest first, as JSON lines.
    History {
        #[arg(allow_hyphen_values = true)]
        telegram_id: String,
    },
    /// Seal committed events into the hash chain now (the relay does this continuously).
    Seal,
}

fn parse_user(raw: &str) -> anyhow::Result<TelegramId> {
    raw.parse::<TelegramId>().map_err(anyhow::Error::from)
}

fn parse_time(raw: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("--at {raw:?} is not an RFC 3339 time (example: 2026-11-25T10:00:00Z)")
        })
}

pub async fn run(settings: &Settings, cmd: LedgerCommand) -> anyhow::Result<i32> {
    // Validate arguments before touching the database, so a typo is reported as a typo.
    match &cmd {
        LedgerCommand::Balance { telegram_id, at } => {
            parse_user(telegram_id)?;
            if let Some(at) = at {
                parse_time(at)?;
            }
        }
        LedgerCommand::History { telegram_id } => {
            parse_user(telegram_id)?;
        }
        _ => {}
    }
    let ledger = startup::ledger_readonly(settings).await?;
    let store = ledger.store();
    let mut out = std::io::stdout().lock();
    match cmd {
        LedgerCommand::Verify { json } => {
            let client = store.database().pool().get().await?;
            let total: i64 = client
                .query_one("SELECT count(*) FROM ledger.events", &[])
                .await?
                .try_get(0)?;
            drop(client);
            let bar = progress::bar(u64::try_from(total).unwrap_or(0), "verifying");
            let report = verify::verify(store, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                writeln!(
                    out,
                    "events: {}  sealed: {}  unsealed: {}  accounts: {}  tasks: {}\n\
                     granted: {}  debited: {}  refunded: {}  balances: {}\nhead hash: {}",
                    report.events,
                    report.sealed,
                    report.unsealed,
                    report.accounts,
                    report.tasks,
                    report.tokens_granted,
                    report.tokens_debited,
                    report.tokens_refunded,
                    report.total_balance,
                    report
                        .head_hash
                        .as_deref()
                        .unwrap_or("(nothing sealed yet)")
                )?;
            }
            match &report.violation {
                None => {
                    // With --json stdout is the report alone, for tools to parse.
                    if !json {
                        writeln!(out, "verify OK")?;
                    }
                    Ok(0)
                }
                Some(v) => {
                    let at = v
                        .position
                        .map_or("the log".to_string(), |p| format!("position {p}"));
                    eprintln!("verify FAILED at {at}: {}", v.reason);
                    Ok(1)
                }
            }
        }
        LedgerCommand::Replay => {
            let mut batches = pin!(replay_raw(store, LogCursor::START));
            while let Some(batch) = batches.try_next().await? {
                for e in &batch {
                    serde_json::to_writer(&mut out, &ReplayLine::from_raw(e)?)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(0)
        }
        LedgerCommand::Balance { telegram_id, at } => {
            let id = parse_user(&telegram_id)?;
            let balance = match at {
                None => ledger.account(id).await?.map(|(a, _)| a.balance),
                Some(at) => ledger.balance_at(id, parse_time(&at)?).await?,
            };
            match balance {
                Some(b) => {
                    writeln!(out, "{b}")?;
                    Ok(0)
                }
                None => bail!("user {id} has no account (at that time)"),
            }
        }
        LedgerCommand::History { telegram_id } => {
            let id = parse_user(&telegram_id)?;
            let events = ledger.history(id, StreamVersion(1), i64::MAX).await?;
            if events.is_empty() {
                bail!("user {id} has no account");
            }
            for e in events {
                let line = serde_json::json!({
                    "position": e.position,
                    "version": e.version,
                    "recorded_at": e.recorded_at.to_rfc3339(),
                    "event": e.event,
                    "metadata": e.metadata,
                });
                writeln!(out, "{line}")?;
            }
            Ok(0)
        }
        LedgerCommand::Seal => {
            let n = hash_chain::seal_all(store).await?;
            writeln!(out, "sealed {n} events")?;
            Ok(0)
        }
    }
}
