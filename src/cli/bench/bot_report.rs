//! What `bench bot` checks its figures against (issue 13's targets), and the table it writes
//! into docs/benchmarks.md.

use std::fmt::Write;

use serde::Serialize;

use super::bot_drive::{Mode, Side};
use super::bot_wire::WireReport;

/// One mode at one size: the bot and its echo baseline.
#[derive(Serialize)]
pub(crate) struct Run {
    pub mode: Mode,
    pub users: u64,
    pub bot: Side,
    pub echo_baseline: Side,
    /// Bot updates/s over echo updates/s.
    pub ratio: f64,
}

#[derive(Serialize)]
pub(crate) struct BotReport {
    pub bench: &'static str,
    pub cores: usize,
    /// The machine's one-minute load average before and after the runs (other processes too).
    pub load_average: [f64; 2],
    pub measured: &'static str,
    pub runs: Vec<Run>,
    pub postgres_per_update: WireReport,
    pub targets: Targets,
    /// A crowd of new users at Telegram's limits: how long their answers took to drain.
    pub at_telegram_limits: super::bot_limits::Drain,
}

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

fn per_update(cpu_s: f64, side: &Side) -> f64 {
    cpu_s * 1000.0 / side.updates.max(1) as f64
}

/// How many times getUpdates carried each update on average, bot / echo; "-" by webhook.
fn downloads(bot: &Side, echo: &Side) -> String {
    let per = |s: &Side| s.polls.map(|p| p.downloads_per_update);
    match (per(bot), per(echo)) {
        (Some(b), Some(e)) => format!("{b:.1} / {e:.1}"),
        _ => "-".into(),
    }
}

/// The docs section: the command, the runs, the round trips, the targets.
pub(crate) fn docs_section(report: &BotReport) -> String {
    let mut out = format!(
        "Command: `cargo run --release -- bench bot` ({} cores, load average {:.1} before and \
         {:.1} after; every run in one process, one after another). Each user goes through its flow {} times. Each row: the bot role alone (System with `.bot()`, pool of \
         `DB_POOL_SIZE`) and an echo bot (one sendMessage per update, no database), each driven \
         by the same simulated users through the same fake Bot API. {}.\n\n\
         | mode | users | bot updates/s | echo updates/s | ratio | bot p50 / p99 | echo p50 / p99 \
         | driver busy (bot run / echo run) | CPU ms per update: bot / echo / Postgres \
         | getUpdates downloads per update: bot / echo | wall s |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        report.cores,
        report.load_average[0],
        report.load_average[1],
        super::bot_drive::ROUNDS,
        report.measured
    );
    for r in &report.runs {
        let (b, e) = (&r.bot, &r.echo_baseline);
        let _ = writeln!(
            out,
            "| {:?} | {} | {:.0} | {:.0} | {:.2} | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.2} / {:.2} | {:.2} / {:.2} / {:.2} | {} | {:.1} |",
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
            per_update(b.cpu.bot_cpu_s, b),
            per_update(e.cpu.bot_cpu_s, e),
            per_update(b.cpu.postgres_cpu_s, b),
            downloads(b, e),
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
