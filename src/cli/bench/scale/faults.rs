//! The faults of the scenario: on a seeded schedule, SIGKILL one process of each role (the
//! relay that leads, a worker, a projector, a bot) and one NATS node, and start each again after
//! a seeded pause. The relay's takeover is timed from the kill to the standby having published
//! an event appended after the kill (its checkpoint, which moves only after JetStream
//! acknowledged, passed that event).

use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use tokenbot_ledger::Ledger;
use tokenbot_ledger::events::AccountOpened;
use tokenbot_ledger::relay::RelayConfig;
use tokenbot_ledger::subscription::SubscriptionOptions;
use tokenbot_ledger::{Actor, CommandContext, LogCursor, StreamId, TelegramId};
use tokenbot_testkit::{NatsCluster, RoleProcess};

/// What gets killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The relay holding the lead.
    RelayLeader,
    /// One worker process.
    Worker,
    /// One projector process.
    Projector,
    /// One webhook bot process.
    Bot,
    /// One NATS node.
    NatsNode,
}

/// One fault as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// What was killed.
    pub kind: FaultKind,
    /// Which process or node.
    pub target: String,
    /// Seconds after the drive started.
    pub at_s: f64,
    /// How long it stayed down before the restart began.
    pub down_s: f64,
    /// From the restart to it being up again (`/health` answers, or the node is current).
    pub restart_s: f64,
    /// For the relay leader: from the kill to the standby publishing (None otherwise).
    pub takeover_s: Option<f64>,
}

/// How often the takeover is probed: nothing in another process can be awaited, so the relay
/// checkpoint is polled at this pace (it is part of the bound).
pub const TAKEOVER_PROBE: Duration = Duration::from_millis(20);

/// The longest a takeover may take, from the relay's own timers: Postgres ends the dead
/// leader's session (and its lock) as soon as the socket closes, which on loopback is at once;
/// the standby then may wait one backoff pause at most (a JetStream call failing at first),
/// finds the new event within the subscription's idle poll, and one probe sees it.
pub fn takeover_bound() -> Duration {
    RelayConfig::default().retry_max + SubscriptionOptions::default().idle_poll + TAKEOVER_PROBE
}

/// The five faults in a seeded order, each with a seeded pause before it and a seeded downtime.
pub fn schedule(rng: &mut StdRng) -> Vec<(FaultKind, Duration, Duration)> {
    let mut kinds = [
        FaultKind::RelayLeader,
        FaultKind::Worker,
        FaultKind::Projector,
        FaultKind::Bot,
        FaultKind::NatsNode,
    ];
    kinds.shuffle(rng);
    kinds
        .into_iter()
        .map(|k| {
            let before = Duration::from_millis(rng.random_range(500..=2500));
            let down = Duration::from_millis(rng.random_range(300..=2000));
            (k, before, down)
        })
        .collect()
}

/// What the faults act on: the parts of the fleet they kill, and the ledger they append the
/// takeover's marker event to.
pub struct Targets<'a> {
    /// The NATS nodes.
    pub cluster: &'a mut NatsCluster,
    /// Relay processes.
    pub relays: &'a mut [RoleProcess],
    /// Worker processes.
    pub workers: &'a mut [RoleProcess],
    /// Projector processes.
    pub projectors: &'a mut [RoleProcess],
    /// Bot processes.
    pub bots: &'a mut [RoleProcess],
    /// The ledger on the fleet's database.
    pub ledger: &'a Ledger,
}

/// Runs the schedule; returns what happened, or the error that stopped a fault.
pub async fn run(
    fleet: &mut Targets<'_>,
    rng: &mut StdRng,
    started: Instant,
    marker_base: i64,
) -> anyhow::Result<Vec<FaultRecord>> {
    let mut done = Vec::new();
    for (i, (kind, before, down)) in schedule(rng).into_iter().enumerate() {
        tokio::time::sleep(before).await;
        let at_s = started.elapsed().as_secs_f64();
        let marker = TelegramId::new(marker_base + i as i64)?;
        let (target, takeover_s, restart_s) = match kind {
            FaultKind::RelayLeader => relay_leader(fleet, marker, down).await?,
            FaultKind::NatsNode => {
                let node = rng.random_range(0..fleet.cluster.size());
                fleet.cluster.kill(node).await;
                tokio::time::sleep(down).await;
                let restart = Instant::now();
                fleet.cluster.restart(node).await;
                let name = fleet.cluster.node_name(node).to_string();
                (name, None, restart.elapsed().as_secs_f64())
            }
            FaultKind::Worker => bounce(pick(&mut *fleet.workers, rng)?, down).await,
            FaultKind::Projector => bounce(pick(&mut *fleet.projectors, rng)?, down).await,
            FaultKind::Bot => bounce(pick(&mut *fleet.bots, rng)?, down).await,
        };
        eprintln!("scale: fault {kind:?} on {target} at {at_s:.1} s (takeover {takeover_s:?} s)");
        done.push(FaultRecord {
            kind,
            target,
            at_s,
            down_s: down.as_secs_f64(),
            restart_s,
            takeover_s,
        });
    }
    Ok(done)
}

fn pick<'a>(
    processes: &'a mut [RoleProcess],
    rng: &mut StdRng,
) -> anyhow::Result<&'a mut RoleProcess> {
    anyhow::ensure!(!processes.is_empty(), "no process of that role to kill");
    let i = rng.random_range(0..processes.len());
    Ok(&mut processes[i])
}

/// Kill, pause, restart; (name, no takeover, restart seconds).
async fn bounce(p: &mut RoleProcess, down: Duration) -> (String, Option<f64>, f64) {
    p.kill().await;
    tokio::time::sleep(down).await;
    let restart = Instant::now();
    p.restart().await;
    (p.name().to_string(), None, restart.elapsed().as_secs_f64())
}

/// Kills the leading relay, appends an event, times until the standby published it, then
/// restarts the killed one (which waits as the new standby).
async fn relay_leader(
    fleet: &mut Targets<'_>,
    marker: TelegramId,
    down: Duration,
) -> anyhow::Result<(String, Option<f64>, f64)> {
    let mut leader = None;
    for (i, relay) in fleet.relays.iter().enumerate() {
        if relay.metric("tokenbot_relay_leader").await == Some(1.0) {
            leader = Some(i);
        }
    }
    let leader = leader.ok_or_else(|| anyhow::anyhow!("no relay reports being the leader"))?;
    let killed = Instant::now();
    fleet.relays[leader].kill().await;
    let cursor = append_marker(fleet.ledger, marker).await?;
    let limit = takeover_bound() * 4;
    let store = fleet.ledger.store().clone();
    let name = RelayConfig::default().name;
    let takeover = tokio::time::timeout(limit, async {
        loop {
            if tokenbot_ledger::relay::checkpoint(&store, &name).await? >= cursor {
                return anyhow::Ok(killed.elapsed());
            }
            tokio::time::sleep(TAKEOVER_PROBE).await;
        }
    })
    .await
    .unwrap_or(Ok(limit))?;
    let rest = down.saturating_sub(killed.elapsed());
    tokio::time::sleep(rest).await;
    let restart = Instant::now();
    let relay = &mut fleet.relays[leader];
    relay.restart().await;
    Ok((
        relay.name().to_string(),
        Some(takeover.as_secs_f64()),
        restart.elapsed().as_secs_f64(),
    ))
}

/// Opens the account `marker` (an event only the standby relay can publish); its cursor.
async fn append_marker(ledger: &Ledger, marker: TelegramId) -> anyhow::Result<LogCursor> {
    let ctx = CommandContext::new(Actor::system("scale-marker"));
    let profile = AccountOpened {
        telegram_id: marker,
        username: None,
        first_name: None,
        language_code: None,
    };
    ledger.open_account(&ctx, profile).await?;
    let client = ledger.store().database().pool().get().await?;
    let row = client
        .query_one(
            // Opening also grants the welcome tokens: the last of its events.
            "SELECT tx_id::text, position FROM ledger.events WHERE stream_id = $1
             ORDER BY tx_id DESC, position DESC LIMIT 1",
            &[&StreamId::account(marker).as_str()],
        )
        .await?;
    Ok(LogCursor::from_db(row.try_get(0)?, row.try_get(1)?)?)
}
