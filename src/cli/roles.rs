//! Long-running roles: `relay`, `projector`, and `up` (all of them in one process).

use clap::Args;
use tokenbot_ledger::relay::{self, RelayConfig};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_projections::live::{self, LiveConfig};
use tokenbot_projections::{LIVE_SCHEMA, Projection};

use crate::configuration::Settings;
use crate::startup;

#[derive(Args)]
pub struct RelayArgs {}

#[derive(Args)]
pub struct ProjectorArgs {}

pub async fn run_relay(settings: &Settings, _args: RelayArgs) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    let js = startup::jetstream(settings).await?;
    let shutdown = Shutdown::new();
    startup::cancel_on_signal(shutdown.clone());
    relay::run(
        ledger.store().clone(),
        js,
        settings.bus.clone(),
        RelayConfig::default(),
        shutdown,
        None,
    )
    .await?;
    Ok(0)
}

pub async fn run_projector(settings: &Settings, _args: ProjectorArgs) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    let js = startup::jetstream(settings).await?;
    let shutdown = Shutdown::new();
    startup::cancel_on_signal(shutdown.clone());
    let config = LiveConfig {
        bus: settings.bus.clone(),
        ..Default::default()
    };
    let pool = ledger.store().database().pool().clone();
    live::run(
        pool,
        LIVE_SCHEMA.to_string(),
        Projection::ALL.to_vec(),
        js,
        config,
        shutdown,
        None,
    )
    .await?;
    Ok(0)
}
