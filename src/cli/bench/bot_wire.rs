//! What one update costs the bot in Postgres statements and round trips, counted on the wire:
//! the bot and its ledger connect through testkit's [`PgProxy`], which counts the messages
//! (the server here has no `pg_stat_statements`, which `shared_preload_libraries` would have to
//! load, and that would count statements, not round trips, anyway). Users go one at a time, so
//! the counts between an update's hand-over and its handling are that update's alone; the first
//! users warm the per-connection statement caches, the next ones are measured.

use serde::Serialize;
use tokenbot_fake_telegram::TgUser;
use tokenbot_ledger::{Database, EventStore, Ledger, LedgerConfig};
use tokenbot_testkit::{PgProxy, WireCounts};

use super::bot_drive::{GENERATE_FLOW, Handled, Mode, generate_update, start_fake, step_ms};
use super::bot_system::BotBench;

/// Users whose flows warm the statement caches (every pooled connection has prepared them).
const WARM_USERS: i64 = 12;
/// Users whose flows are counted.
const COUNTED_USERS: i64 = 10;
/// Connections of the counted bot: few, so that warming covers them all.
const POOL: usize = 2;

/// The average cost of one kind of update.
#[derive(Serialize, Clone)]
pub(crate) struct UpdateCost {
    pub update: &'static str,
    /// "command": it runs a ledger command; "read": it reads the ledger; "none".
    pub ledger: &'static str,
    pub statements: f64,
    pub round_trips: f64,
    pub exchanges: f64,
    pub prepares: f64,
}

/// Per update of the generate flow, and the flow's total.
#[derive(Serialize)]
pub(crate) struct WireReport {
    pub counted_by: &'static str,
    pub users_counted: i64,
    pub per_update: Vec<UpdateCost>,
    pub flow_statements: f64,
    pub flow_round_trips: f64,
}

/// Counts the generate flow of [`COUNTED_USERS`] users after [`WARM_USERS`] warm-up users, with
/// the bot (long polling) on its own ledger through a proxy to `database_url`.
pub(crate) async fn count(
    bench: &BotBench<'_>,
    database_url: &str,
    ledger_config: LedgerConfig,
) -> anyhow::Result<WireReport> {
    let proxy = PgProxy::start(database_url).await?;
    let db = Database::connect(&proxy.url(database_url), POOL).await?;
    let ledger = Ledger::new(EventStore::new(db), ledger_config);
    let first = 1_900_000_000;
    let tg = start_fake(bench.driver, first).await?;
    let system = bench.start_bot(ledger, &tg, Mode::Polling).await?;
    let mut sums = [WireCounts::default(); 4];
    for u in 0..WARM_USERS + COUNTED_USERS {
        let user = TgUser::new(first + u);
        for (i, (what, _)) in GENERATE_FLOW.iter().enumerate() {
            let update = generate_update(&tg, &user, i)?;
            let before = proxy.wire_counts();
            step_ms(&tg, Handled::PolledPast, user.id, update)
                .await
                .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            if u >= WARM_USERS {
                let d = proxy.wire_counts() - before;
                let s = &mut sums[i];
                s.statements += d.statements;
                s.round_trips += d.round_trips;
                s.exchanges += d.exchanges;
                s.prepares += d.prepares;
            }
        }
    }
    system.stop().await?;
    let n = COUNTED_USERS as f64;
    let per_update: Vec<UpdateCost> = GENERATE_FLOW
        .iter()
        .zip(sums)
        .map(|((update, ledger), s)| UpdateCost {
            update,
            ledger,
            statements: s.statements as f64 / n,
            round_trips: s.round_trips as f64 / n,
            exchanges: s.exchanges as f64 / n,
            prepares: s.prepares as f64 / n,
        })
        .collect();
    Ok(WireReport {
        counted_by: "testkit PgProxy between the bot (with its ledger) and Postgres",
        users_counted: COUNTED_USERS,
        flow_statements: per_update.iter().map(|c| c.statements).sum(),
        flow_round_trips: per_update.iter().map(|c| c.round_trips).sum(),
        per_update,
    })
}
