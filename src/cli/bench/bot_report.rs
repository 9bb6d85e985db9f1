//! What `bench bot` checks its figures against (issue 13's targets), and the table it writes
//! into docs/benchmarks.md.

use std::fmt::Write;

use serde::Serialize;

use super::bot::{BotReport, Run};
use super::bot_drive::Mode;
use super::bot_wire::WireReport;

/// One target: the figure, its limit, and whether the run met it.
#[derive(Serialize)]
pub(crate) struct Check {
    pub target: String,
    pub value: f64,
    pub limit: f64,
    pub met: bool,
}

/// Every target checked in one run.
#[derive(Serialize)]
pub(crate) struct Targets {
    pub all_met: bool,
    pub checks: Vec<Check>,
}

fn at_least(target: String, value: f64, limit: f64) -> Check {
    Check {
        target,
        value,
        limit,
        met: value >= limit,
    }
}

fn at_most(target: String, value: f64, limit: f64) -> Check {
    Check {
        target,
        value,
        limit,
        met: value <= limit,
    }
}

fn find(runs: &[Run], mode: Mode, users: u64) -> Option<&Run> {
    runs.iter().find(|r| r.mode == mode && r.users == users)
}

impl Targets {
    /// The targets that the runs and the round-trip count allow checking.
    pub(crate) fn of(runs: &[Run], wire: &WireReport) -> Targets {
        let mut checks = Vec::new();
        for r in runs {
            let what = format!("{:?} {} users: bot/echo updates/s", r.mode, r.users);
            checks.push(at_least(what, r.ratio, 0.5));
        }
        for (mode, limit) in [(Mode::Webhook, 100.0), (Mode::Polling, 250.0)] {
            if let Some(r) = find(runs, mode, 200) {
                let what = format!("{mode:?} 200 users: bot p99 ms");
                checks.push(at_most(what, r.bot.p99_ms, limit));
            }
            if let (Some(small), Some(large)) = (find(runs, mode, 200), find(runs, mode, 1000)) {
                let what = format!("{mode:?}: bot updates/s at 1000 users over 200 users");
                let ratio = large.bot.updates_per_s / small.bot.updates_per_s;
                checks.push(at_least(what, ratio, 0.8));
            }
        }
        let per_statement = wire.flow_round_trips / wire.flow_statements.max(1.0);
        checks.push(at_most(
            "Postgres round trips per statement (generate flow)".into(),
            per_statement,
            1.0,
        ));
        for c in wire.per_update.iter().filter(|c| c.ledger == "none") {
            let what = format!("Postgres round trips of the {} (no ledger)", c.update);
            checks.push(at_most(what, c.round_trips, 4.0));
        }
        Targets {
            all_met: checks.iter().all(|c| c.met),
            checks,
        }
    }
}

/// The docs section: the command, the runs, the round trips, the targets.
pub(crate) fn docs_section(report: &BotReport) -> String {
    let mut out = format!(
        "Command: `cargo run --release -- bench bot` ({} cores; every run in one process, one \
         after another). Each row: the bot role alone (System with `.bot()`, pool of \
         `DB_POOL_SIZE`) and an echo bot (one sendMessage per update, no database), each driven \
         by the same simulated users through the same fake Bot API. {}.\n\n\
         | mode | users | bot updates/s | echo updates/s | ratio | bot p50 / p99 | echo p50 / p99 \
         | driver busy (bot run / echo run) | bot CPU s | Postgres CPU s | wall s |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        report.cores, report.measured
    );
    for r in &report.runs {
        let (b, e) = (&r.bot, &r.echo_baseline);
        let _ = writeln!(
            out,
            "| {:?} | {} | {:.0} | {:.0} | {:.2} | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.2} / {:.2} | {:.1} | {:.1} | {:.1} |",
            r.mode,
            r.users,
            b.updates_per_s,
            e.updates_per_s,
            r.ratio,
            b.p50_ms,
            b.p99_ms,
            e.p50_ms,
            e.p99_ms,
            b.cpu.driver_busy,
            e.cpu.driver_busy,
            b.cpu.bot_cpu_s,
            b.cpu.postgres_cpu_s,
            b.cpu.wall_s,
        );
    }
    let wire = &report.postgres_per_update;
    let _ = write!(
        out,
        "\nPostgres per update ({}; mean of {} users after warm-up):\n\n\
         | update | ledger | statements | round trips | exchanges | prepares |\n|---|---|---|---|---|---|\n",
        wire.counted_by, wire.users_counted
    );
    for c in &wire.per_update {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            c.update, c.ledger, c.statements, c.round_trips, c.exchanges, c.prepares
        );
    }
    let _ = write!(
        out,
        "| whole flow | | {:.1} | {:.1} | | |\n\nTargets ({}):\n\n| target | value | limit | met |\n|---|---|---|---|\n",
        wire.flow_statements,
        wire.flow_round_trips,
        if report.targets.all_met {
            "all met"
        } else {
            "not all met"
        }
    );
    for c in &report.targets.checks {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {} | {} |",
            c.target,
            c.value,
            c.limit,
            if c.met { "yes" } else { "**no**" }
        );
    }
    out.trim_end().to_string()
}
