//! `tokenbot import --from <url>`: carries the original bot's users, balances and tasks into the
//! ledger. Safe to run again: users already imported are not imported twice. The source URL
//! holds a password, so it may come from `IMPORT_SOURCE_URL` or a file (`--from-file`,
//! `IMPORT_SOURCE_URL_FILE`) instead of the command line, where any user of the machine can read
//! it in the process list.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cli::progress;
use crate::configuration::Settings;
use crate::import::{self, ImportOptions, ImportProgress, Source};
use crate::startup;

/// `tokenbot import`: where the original is, and how many users to read at a time.
#[derive(Args)]
pub struct ImportArgs {
    /// The original bot's Postgres URL (its `postgresql+asyncpg://` form is accepted too);
    /// prefer the variable or --from-file: a command line is visible in the process list.
    #[arg(
        long,
        env = "IMPORT_SOURCE_URL",
        hide_env_values = true,
        conflicts_with = "from_file",
        required_unless_present = "from_file"
    )]
    pub from: Option<String>,
    /// A file holding the original's URL (one line), e.g. a mounted secret.
    #[arg(long, env = "IMPORT_SOURCE_URL_FILE", value_name = "PATH")]
    pub from_file: Option<PathBuf>,
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
    let from = match (args.from, &args.from_file) {
        (Some(url), _) => url,
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("--from-file {} cannot be read", path.display()))?,
        (None, None) => {
            anyhow::bail!("give the original's URL: IMPORT_SOURCE_URL, --from-file or --from")
        }
    };
    let source = Source::connect(&from).await?;
    let ledger = startup::ledger(settings).await?;
    let bar = Bar(progress::bar(0, "importing users"));
    let summary = import::import(&ledger, source, &options, &bar).await;
    bar.0.finish_and_clear();
    let summary = summary?;
    print!("{summary}");
    Ok(if summary.ok() { 0 } else { 1 })
}
