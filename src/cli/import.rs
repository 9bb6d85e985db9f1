//! `tokenbot import --from <url>`: carries the original bot's users, balances and tasks into the
//! ledger. Safe to run again: users already imported are not imported twice.

use clap::Args;

use crate::cli::progress;
use crate::configuration::Settings;
use crate::import::{self, ImportOptions, ImportProgress, Source};
use crate::startup;

/// `tokenbot import`: where the original is, and how many users to read at a time.
#[derive(Args)]
pub struct ImportArgs {
    /// The original bot's Postgres URL (its `postgresql+asyncpg://` form is accepted too).
    #[arg(long)]
    pub from: String,
    /// Users read per query.
    #[arg(long, default_value_t = 500)]
    pub batch: i64,
}

struct Bar(indicatif::ProgressBar);

impl ImportProgress for Bar {
    fn total(&self, users: u64) {
        self.0.set_length(users);
    }

    fn advanced(&self, users: u64) {
        self.0.inc(users);
    }
}

/// Exit code 1 when some user could not be imported (the summary names them).
pub async fn run(settings: &Settings, args: ImportArgs) -> anyhow::Result<i32> {
    let options = ImportOptions::new(args.batch)?;
    // The original first: a wrong --from should not touch the ledger at all.
    let source = Source::connect(&args.from).await?;
    let ledger = startup::ledger(settings).await?;
    let bar = Bar(progress::bar(0, "importing users"));
    let summary = import::import(&ledger, source, &options, &bar).await;
    bar.0.finish_and_clear();
    let summary = summary?;
    print!("{summary}");
    Ok(if summary.ok() { 0 } else { 1 })
}
