//! `tokenbot projections ...`: rebuild a read model from the log, compare live tables with a
//! fresh replay, show checkpoints.

use clap::Subcommand;
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::{diff, rebuild, status};

use crate::cli::progress;
use crate::configuration::Settings;
use crate::startup;

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the log into shadow tables and swap them in (all projections, or one by name).
    Rebuild { name: Option<String> },
    /// List rows where the live tables differ from a fresh replay; exit 1 if any.
    Diff { name: Option<String> },
    /// Where each projection has got to in the global order.
    Status,
}

fn selected(name: Option<String>) -> anyhow::Result<Vec<Projection>> {
    Ok(match name {
        None => Projection::ALL.to_vec(),
        Some(n) => vec![Projection::parse(&n)?],
    })
}

pub async fn run(settings: &Settings, cmd: ProjectionsCommand) -> anyhow::Result<i32> {
    let names_ok = match &cmd {
        ProjectionsCommand::Rebuild { name } | ProjectionsCommand::Diff { name } => {
            selected(name.clone()).map(|_| ())
        }
        ProjectionsCommand::Status => Ok(()),
    };
    names_ok?;
    let ledger = startup::ledger(settings).await?;
    let pool = ledger.store().database().pool().clone();
    let client = pool.get().await?;
    let total: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;
    drop(client);
    match cmd {
        ProjectionsCommand::Rebuild { name } => {
            let chosen = selected(name)?;
            let bar = progress::bar(u64::try_from(total).unwrap_or(0), "rebuilding");
            let report = rebuild(&pool, &chosen, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            println!(
                "rebuilt {}: {} events in {:.2} s",
                report.projections.join(", "),
                report.events,
                report.seconds
            );
            Ok(0)
        }
        ProjectionsCommand::Diff { name } => {
            let mut any = false;
            for p in selected(name)? {
                let report = diff(&pool, p).await?;
                if report.differences.is_empty() {
                    println!(
                        "{}: equal to a fresh replay at {}",
                        report.projection, report.checkpoint
                    );
                }
                for d in &report.differences {
                    any = true;
                    println!("{} {} {}: {}", d.projection, d.table, d.side, d.row);
                }
            }
            Ok(i32::from(any))
        }
        ProjectionsCommand::Status => {
            for (name, cursor) in status(&pool).await? {
                println!("{name}: {cursor}");
            }
            Ok(0)
        }
    }
}
