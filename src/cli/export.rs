//! `tokenbot ledger export`: the events of a period, or every account's balances over it, as CSV
//! or JSON lines, for an auditor's own tools. Read from one snapshot, streamed in bounded batches
//! (the balances keep one small row per account).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use serde::Serialize;
use tokenbot_ledger::global_order::{HORIZON_PATIENCE, LogSnapshot};
use tokenbot_ledger::replay::{REPLAY_BATCH, ReplayLine};
use tokenbot_ledger::{Event, RawEvent};

use crate::cli::progress;
use crate::configuration::Settings;
use crate::startup;

/// What `ledger export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Every event recorded in the period, in global order.
    Events,
    /// Every account: balance before the period, what came in and went out during it, and the
    /// balance at its end.
    Balances,
}

/// How `ledger export` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// `tokenbot ledger export`: what, over which period, in which format, to where.
#[derive(Args)]
pub struct ExportArgs {
    #[arg(value_enum, default_value = "events")]
    what: What,
    /// Start of the period, inclusive (RFC 3339, e.g. 2026-11-01T00:00:00Z). Default: the first
    /// event.
    #[arg(long)]
    from: Option<String>,
    /// End of the period, exclusive. Default: now. One period's closing balances are the next
    /// one's opening balances.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// An RFC 3339 time given to `flag`, or an error naming the flag and showing an example.
pub fn parse_time(raw: &str, flag: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("{flag} {raw:?} is not an RFC 3339 time (example: 2026-11-25T10:00:00Z)")
        })
}

/// A CSV field, quoted when it must be (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_line(out: &mut impl Write, fields: &[&str]) -> std::io::Result<()> {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

const EVENT_HEADER: [&str; 10] = [
    "position",
    "tx_id",
    "event_id",
    "stream_id",
    "version",
    "event_type",
    "schema_version",
    "recorded_at",
    "data",
    "metadata",
];

fn write_event(out: &mut impl Write, format: Format, e: &RawEvent) -> anyhow::Result<()> {
    let line = ReplayLine::from_raw(e)?;
    match format {
        Format::Jsonl => {
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        Format::Csv => csv_line(
            out,
            &[
                &line.position.to_string(),
                &line.tx_id.to_string(),
                &line.event_id,
                line.stream_id,
                &line.version.to_string(),
                line.event_type,
                &line.schema_version.to_string(),
                &line.recorded_at,
                line.data.get(),
                line.metadata.get(),
            ],
        )?,
    }
    Ok(())
}

/// One account over the period.
#[derive(Debug, Default, Serialize)]
struct AccountPeriod {
    telegram_id: i64,
    opening: i64,
    granted: i64,
    debited: i64,
    refunded: i64,
    closing: i64,
}

const BALANCE_HEADER: [&str; 6] = [
    "telegram_id",
    "opening",
    "granted",
    "debited",
    "refunded",
    "closing",
];

impl AccountPeriod {
    /// Adds one account event; `before` says whether it was recorded before the period.
    fn add(&mut self, event: &Event, before: bool) {
        let (granted, debited, refunded) = match event {
            Event::TokensGranted(g) => (g.amount.get(), 0, 0),
            Event::TokensDebited(d) => (0, d.amount.get(), 0),
            Event::TokensRefunded(r) => (0, 0, r.amount.get()),
            _ => return,
        };
        let [granted, debited, refunded] =
            [granted, debited, refunded].map(|t| i64::try_from(t).unwrap_or(i64::MAX));
        if before {
            self.opening += granted + refunded - debited;
        } else {
            self.granted += granted;
            self.debited += debited;
            self.refunded += refunded;
        }
        self.closing = self.opening + self.granted + self.refunded - self.debited;
    }

    fn write(&self, out: &mut impl Write, format: Format) -> anyhow::Result<()> {
        match format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *out, self)?;
                out.write_all(b"\n")?;
            }
            Format::Csv => csv_line(
                out,
                &[
                    &self.telegram_id.to_string(),
                    &self.opening.to_string(),
                    &self.granted.to_string(),
                    &self.debited.to_string(),
                    &self.refunded.to_string(),
                    &self.closing.to_string(),
                ],
            )?,
        }
        Ok(())
    }
}

/// Writes the export; exit status 0.
pub async fn run(settings: &Settings, args: ExportArgs) -> anyhow::Result<i32> {
    let from = args
        .from
        .as_deref()
        .map(|t| parse_time(t, "--from"))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_time(t, "--to"))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f < t, "--from must be before --to");
    }
    let ledger = startup::ledger_readonly(settings).await?;
    let snapshot = LogSnapshot::open(ledger.store().database(), HORIZON_PATIENCE).await?;
    if !snapshot.covers_start() {
        eprintln!(
            "note: a transaction open since before the export started is still running; what it commits is not in the export"
        );
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let total = match progress::on_terminal() {
        true => Some(snapshot.count().await?),
        false => None,
    };
    let bar = progress::bar_if_terminal(total, "exporting");
    let job = Job {
        snapshot: &snapshot,
        format: args.format,
        period: (from, to),
        bar: &bar,
    };
    match args.what {
        What::Events => export_events(&job, &mut out).await?,
        What::Balances => export_balances(&job, &mut out).await?,
    }
    out.flush()?;
    snapshot.close().await?;
    Ok(0)
}

/// The start and end of the exported period, each optional.
type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// One export: what it reads from, how it writes, over which period, and its progress bar.
struct Job<'a> {
    snapshot: &'a LogSnapshot,
    format: Format,
    period: Period,
    bar: &'a ProgressBar,
}

/// Hands the events of `period` to `f` a batch at a time, moving `bar` along; the number read.
async fn read_with_progress(
    snapshot: &LogSnapshot,
    (from, to): Period,
    bar: &ProgressBar,
    mut f: impl FnMut(&[RawEvent]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut read = 0u64;
    snapshot
        .each_batch(REPLAY_BATCH, from, to, |batch| {
            f(batch)?;
            read += batch.len() as u64;
            bar.set_position(read);
            anyhow::Ok(())
        })
        .await?;
    bar.finish_and_clear();
    Ok(read)
}

/// Every event of the period, in global order.
async fn export_events(job: &Job<'_>, out: &mut impl Write) -> anyhow::Result<()> {
    if job.format == Format::Csv {
        csv_line(out, &EVENT_HEADER)?;
    }
    let read = read_with_progress(job.snapshot, job.period, job.bar, |batch| {
        for e in batch {
            write_event(out, job.format, e)?;
        }
        Ok(())
    })
    .await?;
    eprintln!("{read} events exported");
    Ok(())
}

/// Every account's balances over the period: the log up to its end is read, the events before
/// its start make the opening balances.
async fn export_balances(job: &Job<'_>, out: &mut impl Write) -> anyhow::Result<()> {
    let (from, to) = job.period;
    let mut accounts: BTreeMap<i64, AccountPeriod> = BTreeMap::new();
    read_with_progress(job.snapshot, (None, to), job.bar, |batch| {
        for raw in batch {
            let Some(owner) = raw.stream_id.account_owner() else {
                continue;
            };
            let e = raw.decode()?;
            let before = from.is_some_and(|f| e.recorded_at < f);
            let row = accounts.entry(i64::from(owner)).or_default();
            row.telegram_id = i64::from(owner);
            row.add(&e.event, before);
        }
        Ok(())
    })
    .await?;
    if job.format == Format::Csv {
        csv_line(out, &BALANCE_HEADER)?;
    }
    for row in accounts.values() {
        row.write(out, job.format)?;
    }
    let sum = |f: fn(&AccountPeriod) -> i64| accounts.values().map(f).sum::<i64>();
    eprintln!(
        "{} accounts: opening {}, granted {}, debited {}, refunded {}, closing {}",
        accounts.len(),
        sum(|a| a.opening),
        sum(|a| a.granted),
        sum(|a| a.debited),
        sum(|a| a.refunded),
        sum(|a| a.closing)
    );
    Ok(())
}
