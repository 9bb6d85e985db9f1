//! `tokenbot ledger ...`: the auditor's commands. None of them writes except `seal`; they
//! connect as the reader role (see `startup`). Exit status: 0 clean, 1 a finding (a violation, a
//! user without an account, a forged checkpoint), 2 could not run (`main` maps errors to it).

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokenbot_ledger::global_order::{HORIZON_PATIENCE, LogSnapshot};
use tokenbot_ledger::ledger::STREAM_PAGE;
use tokenbot_ledger::replay::{REPLAY_BATCH, ReplayLine};
use tokenbot_ledger::roles::Access;
use tokenbot_ledger::verify::{VerifyOptions, VerifyReport};
use tokenbot_ledger::{RecordedEvent, StreamVersion, TelegramId, hash_chain, verify};

use crate::cli::checkpoints::{self, CheckpointsCommand, KeygenArgs, Source};
use crate::cli::export::{self, ExportArgs, parse_time};
use crate::cli::progress;
use crate::configuration::Settings;
use crate::startup;

/// `tokenbot ledger ...`: the auditor's commands.
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute the hash chain and every balance from the first event, in one snapshot; exit 1
    /// naming the first bad position.
    Verify(VerifyArgs),
    /// Print every committed event in global order as JSON lines.
    Replay,
    /// A user's balance now, or at a past moment.
    Balance {
        /// The user's Telegram id.
        #[arg(allow_hyphen_values = true)]
        telegram_id: String,
        /// An RFC 3339 time, e.g. 2026-11-25T10:00:00Z.
        #[arg(long)]
        at: Option<String>,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Every event of a user's account, oldest first.
    History {
        /// The user's Telegram id.
        #[arg(allow_hyphen_values = true)]
        telegram_id: String,
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
    },
    /// Seal committed events into the hash chain now (the relay does this continuously).
    Seal,
    /// Export a period's events, or every account's balances over it, as CSV or JSON lines.
    Export(ExportArgs),
    /// Make an Ed25519 key for signing checkpoints (LEDGER_SIGNING_KEY).
    Keygen(KeygenArgs),
    /// Signed checkpoints of the hash chain's head.
    #[command(subcommand)]
    Checkpoints(CheckpointsCommand),
}

/// `tokenbot ledger verify`: the output form and the checkpoints to hold the log against.
#[derive(Args)]
pub struct VerifyArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also hold the log against signed checkpoints: a file written by `ledger checkpoints
    /// export`, or `nats` for the checkpoint stream.
    #[arg(long, value_name = "FILE|nats")]
    checkpoints: Option<String>,
    /// The public key the checkpoints must be signed with (default: LEDGER_PUBLIC_KEY).
    #[arg(long)]
    public_key: Option<String>,
    /// Rows per read (tests make batch boundaries fall where they want them).
    #[arg(long, hide = true)]
    batch_size: Option<i64>,
}

fn parse_user(raw: &str) -> anyhow::Result<TelegramId> {
    raw.parse::<TelegramId>().map_err(anyhow::Error::from)
}

/// Runs an auditor's command; its exit status (0 clean, 1 a finding).
pub async fn run(settings: &Settings, cmd: LedgerCommand) -> anyhow::Result<i32> {
    match cmd {
        LedgerCommand::Verify(args) => run_verify(settings, args).await,
        LedgerCommand::Replay => {
            let ledger = startup::ledger_readonly(settings).await?;
            let snapshot = LogSnapshot::open(ledger.store().database(), HORIZON_PATIENCE).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            snapshot
                .each_batch(REPLAY_BATCH, None, None, |batch| {
                    for e in batch {
                        serde_json::to_writer(&mut out, &ReplayLine::from_raw(e)?)?;
                        out.write_all(b"\n")?;
                    }
                    anyhow::Ok(())
                })
                .await?;
            out.flush()?;
            snapshot.close().await?;
            Ok(0)
        }
        LedgerCommand::Balance {
            telegram_id,
            at,
            json,
        } => {
            // Arguments first, so a typo is reported as a typo, not as a connection problem.
            let id = parse_user(&telegram_id)?;
            let at = at.as_deref().map(|t| parse_time(t, "--at")).transpose()?;
            let ledger = startup::ledger_readonly(settings).await?;
            let balance = match at {
                None => ledger.account(id).await?.map(|(a, _)| a.balance),
                Some(at) => ledger.balance_at(id, at).await?,
            };
            if json {
                let doc = serde_json::json!({
                    "telegram_id": id,
                    "at": at.map(|t| t.to_rfc3339()),
                    "balance": balance,
                });
                println!("{doc}");
            } else if let Some(b) = balance {
                println!("{b}");
            }
            if balance.is_none() {
                eprintln!("user {id} has no account (at that time)");
                return Ok(1);
            }
            Ok(0)
        }
        LedgerCommand::History { telegram_id, json } => {
            let id = parse_user(&telegram_id)?;
            let ledger = startup::ledger_readonly(settings).await?;
            let mut events = ledger.history(id, StreamVersion(1), STREAM_PAGE).await?;
            if events.is_empty() {
                eprintln!("user {id} has no account");
                return Ok(1);
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // Page by page: an account's history is as long as its life.
            while let Some(last) = events.last().map(|e| e.version) {
                write_history(&mut out, &events, json)?;
                if events.len() < STREAM_PAGE as usize {
                    break;
                }
                events = ledger.history(id, last.next(), STREAM_PAGE).await?;
            }
            out.flush()?;
            Ok(0)
        }
        LedgerCommand::Seal => {
            let ledger = startup::ledger_as(settings, Access::Write).await?;
            let n = hash_chain::seal_all(ledger.store()).await?;
            println!("sealed {n} events");
            Ok(0)
        }
        LedgerCommand::Export(args) => export::run(settings, args).await,
        LedgerCommand::Keygen(args) => checkpoints::keygen(args),
        LedgerCommand::Checkpoints(cmd) => checkpoints::run(settings, cmd).await,
    }
}

/// Events of `ledger history`, as JSON lines or for a person.
fn write_history(out: &mut impl Write, events: &[RecordedEvent], json: bool) -> anyhow::Result<()> {
    for e in events {
        if json {
            let line = serde_json::json!({
                "position": e.position,
                "version": e.version,
                "recorded_at": e.recorded_at.to_rfc3339(),
                "event": e.event,
                "metadata": e.metadata,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", history_line(e))?;
        }
    }
    Ok(())
}

/// One event of `ledger history` for a person: version, time, type, the change and the balance
/// it left, and why.
fn history_line(e: &RecordedEvent) -> String {
    let doc = serde_json::to_value(&e.event).unwrap_or_default();
    let data = &doc["data"];
    let amount = data["amount"].as_u64();
    let sign = match e.event.event_type() {
        "TokensDebited" => "-",
        _ => "+",
    };
    let change = amount.map_or(String::new(), |a| format!("{sign}{a}"));
    let balance = data["balance_after"]
        .as_u64()
        .map_or(String::new(), |b| format!("= {b}"));
    let mut why = Vec::new();
    for key in ["kind", "task_id", "reason", "username"] {
        if let Some(v) = data[key].as_str() {
            why.push(format!("{key} {v}"));
        }
    }
    if e.event.event_type() == "SettingsChanged" {
        why.push(data.to_string());
    }
    let actor = serde_json::to_value(&e.metadata.actor).unwrap_or_default();
    format!(
        "v{:<4} {}  {:<15} {:>9} {:<10} {}  (by {})",
        e.version,
        e.recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        e.event.event_type(),
        change,
        balance,
        why.join(", "),
        actor
    )
}

async fn run_verify(settings: &Settings, args: VerifyArgs) -> anyhow::Result<i32> {
    let mut options = VerifyOptions {
        count_total: progress::on_terminal(),
        ..Default::default()
    };
    if let Some(n) = args.batch_size {
        anyhow::ensure!(n >= 1, "--batch-size must be at least 1");
        options.batch_size = n;
    }
    // Checkpoints are read before the snapshot is taken: every one of them was signed over a
    // chain the snapshot then contains.
    if let Some(source) = &args.checkpoints {
        let key = checkpoints::trusted_key(settings, args.public_key.as_deref())?.context(
            "no public key to check the checkpoints' signatures against: pass --public-key or set LEDGER_PUBLIC_KEY",
        )?;
        let all = checkpoints::load(settings, &Source::parse(source)).await?;
        if let Some(bad) = checkpoints::first_forged(&all, &key) {
            let reason = format!(
                "the checkpoint at chain seq {} (signed at {}) does not verify with public key {key}: it was not signed by that key, or was altered",
                bad.seq,
                bad.signed_at.to_rfc3339()
            );
            if args.json {
                let doc =
                    serde_json::json!({ "violation": { "position": null, "reason": reason } });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            eprintln!("verify FAILED at the checkpoints: {reason}");
            return Ok(1);
        }
        options.checkpoints = all;
    }
    let ledger = startup::ledger_readonly(settings).await?;
    let bar = progress::bar_if_terminal(Some(0), "verifying");
    let report = verify::verify_with(ledger.store(), &options, |p| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.checked)
    })
    .await?;
    bar.finish_and_clear();
    print_report(&report, args.json)?;
    if !report.covers_start {
        eprintln!(
            "note: a transaction open since before verify started was still running after {} s; what it commits was not checked",
            HORIZON_PATIENCE.as_secs()
        );
    }
    match &report.violation {
        None => Ok(0),
        Some(v) => {
            let at = v
                .position
                .map_or("the log".to_string(), |p| format!("position {p}"));
            eprintln!("verify FAILED at {at}: {}", v.reason);
            Ok(1)
        }
    }
}

fn print_report(report: &VerifyReport, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        // With --json stdout is the report alone, for tools to parse.
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "events: {}  sealed: {}  unsealed: {}  accounts: {}  tasks: {}\n\
         granted: {}  debited: {}  refunded: {}  reclaimed: {}  balances: {}\n\
         purchases paid: {} ({} Stars), refunded: {}\nhead hash: {}",
        report.events,
        report.sealed,
        report.unsealed,
        report.accounts,
        report.tasks,
        report.tokens_granted,
        report.tokens_debited,
        report.tokens_refunded,
        report.tokens_reclaimed,
        report.total_balance,
        report.purchases_paid,
        report.stars_paid,
        report.purchases_refunded,
        report
            .head_hash
            .as_deref()
            .unwrap_or("(nothing sealed yet)")
    )?;
    if let Some(c) = &report.checkpoints {
        writeln!(
            out,
            "checkpoints: {} given, {} matched (newest matching: seq {})",
            c.given,
            c.matched,
            c.last_matched_seq
                .map_or("none".to_string(), |s| s.to_string())
        )?;
    }
    if report.ok() {
        writeln!(out, "verify OK")?;
    }
    Ok(())
}
