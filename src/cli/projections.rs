//! `tokenbot projections ...`: rebuild a read model from the log (as the owner), compare live
//! tables with a fresh replay and show checkpoints (as the reader role, or on the read replica).

use clap::Subcommand;
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::{diff, rebuild};

use crate::cli::progress;
use crate::configuration::Settings;
use crate::startup;

/// `tokenbot projections ...`.
#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the log into shadow tables and swap them in (all projections, or one by name).
    /// Runs as the owner (MIGRATION_DATABASE_URL).
    Rebuild {
        /// users or tasks; all when left out.
        name: Option<String>,
    },
    /// List rows where the live tables differ from a fresh replay; exit 1 if any.
    Diff {
        /// users or tasks; all when left out.
        name: Option<String>,
        /// Print the reports as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Where each projection has got to in the global order, read where the admin API reads
    /// (READ_DATABASE_URL, else DATABASE_URL), and how far behind the primary's newest event.
    Status {
        /// Print as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn selected(name: Option<&str>) -> anyhow::Result<Vec<Projection>> {
    Ok(match name {
        None => Projection::ALL.to_vec(),
        Some(n) => vec![Projection::parse(n)?],
    })
}

/// Runs a read-model command; its exit status (1 when `diff` finds a difference).
pub async fn run(settings: &Settings, cmd: ProjectionsCommand) -> anyhow::Result<i32> {
    match cmd {
        ProjectionsCommand::Rebuild { name } => {
            let chosen = selected(name.as_deref())?;
            let owner = startup::owner_database(settings).await?;
            let pool = owner.pool().clone();
            let total = progress::events_total(&pool).await?;
            let bar = progress::bar_if_terminal(total, "rebuilding");
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
        ProjectionsCommand::Diff { name, json } => {
            let chosen = selected(name.as_deref())?;
            let ledger = startup::ledger_readonly(settings).await?;
            let db = ledger.store().database();
            let total = progress::events_total(db.pool()).await?;
            let mut reports = Vec::new();
            for p in chosen {
                let bar = progress::bar_if_terminal(total, &format!("replaying {}", p.name()));
                let report = diff(db, p, |n| bar.set_position(n)).await?;
                bar.finish_and_clear();
                reports.push(report);
            }
            let equal = reports.iter().all(|r| r.differences.is_empty());
            if json {
                let doc = serde_json::json!({ "equal": equal, "projections": reports });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                for report in &reports {
                    if report.differences.is_empty() {
                        println!(
                            "{}: equal to a fresh replay at {}",
                            report.projection, report.checkpoint
                        );
                    }
                    for d in &report.differences {
                        println!("{} {} {}: {}", d.projection, d.table, d.side, d.row);
                    }
                }
            }
            Ok(i32::from(!equal))
        }
        ProjectionsCommand::Status { json } => {
            crate::cli::projections_status::run(settings, json).await
        }
    }
}
