//! Long-running roles: `relay`, `projector`, `api`, `worker`, `bot`, and `up` (all of them in one
//! process), each a choice of roles for [`System`]. Every role selects on one shutdown signal;
//! Ctrl-C or SIGTERM stops intake and lets work in hand finish. Every role serves `/health` and
//! `/metrics` on HTTP_ADDR.

use clap::Args;

use crate::configuration::Settings;
use crate::system::{System, SystemBuilder};

/// `tokenbot relay` takes no arguments of its own.
#[derive(Args)]
pub struct RelayArgs {}

/// `tokenbot projector` takes no arguments of its own.
#[derive(Args)]
pub struct ProjectorArgs {}

/// `tokenbot api` takes no arguments of its own.
#[derive(Args)]
pub struct ApiArgs {}

/// `tokenbot worker` takes no arguments of its own.
#[derive(Args)]
pub struct WorkerArgs {}

/// `tokenbot bot` takes no arguments of its own.
#[derive(Args)]
pub struct BotArgs {}

/// `tokenbot up` takes no arguments of its own.
#[derive(Args)]
pub struct UpArgs {}

/// The builder every role starts from: HTTP on, stopped by Ctrl-C or SIGTERM.
fn role(settings: Settings) -> SystemBuilder {
    System::builder(settings).http().stop_on_signal()
}

/// Starts the system and runs it until it stops.
async fn run(builder: SystemBuilder) -> anyhow::Result<i32> {
    builder.start().await?.join().await?;
    Ok(0)
}

/// `tokenbot relay`.
pub async fn run_relay(settings: Settings, _args: RelayArgs) -> anyhow::Result<i32> {
    run(role(settings).relay()).await
}

/// `tokenbot projector`.
pub async fn run_projector(settings: Settings, _args: ProjectorArgs) -> anyhow::Result<i32> {
    run(role(settings).projector()).await
}

/// `tokenbot api`.
pub async fn run_api(settings: Settings, _args: ApiArgs) -> anyhow::Result<i32> {
    run(role(settings).api()).await
}

/// `tokenbot worker` (with its sweeper and the open-task age). Without BOT_TOKEN or
/// OPENAI_API_KEY it stays off (see [`stay_off`]).
pub async fn run_worker(settings: Settings, _args: WorkerArgs) -> anyhow::Result<i32> {
    if settings.telegram.bot_token.is_none() {
        return stay_off(settings, "worker", "BOT_TOKEN").await;
    }
    if settings.openai.api_key.is_none() {
        return stay_off(settings, "worker", "OPENAI_API_KEY").await;
    }
    run(role(settings).worker()).await
}

/// `tokenbot bot`. Without BOT_TOKEN it stays off (see [`stay_off`]).
pub async fn run_bot(settings: Settings, _args: BotArgs) -> anyhow::Result<i32> {
    if settings.telegram.bot_token.is_none() {
        return stay_off(settings, "bot", "BOT_TOKEN").await;
    }
    run(role(settings).bot()).await
}

/// A role whose secret is not set says so once and then serves only `/health` and `/metrics`
/// until it is stopped. Exiting instead would make a supervisor that restarts whatever exits
/// (compose's `restart: unless-stopped`, which must stay so the roles come back after a
/// reboot) start it again and again, repeating the line in a loop; idling keeps the deployment
/// quiet until the operator sets the secret and restarts the service.
async fn stay_off(settings: Settings, name: &str, missing: &str) -> anyhow::Result<i32> {
    tracing::warn!(
        role = name,
        missing,
        "{missing} is not set: the {name} stays off; this process only serves /health and /metrics until it is stopped (set {missing} and restart it to run the {name})"
    );
    run(role(settings)).await
}

/// Everything in one process. Without BOT_TOKEN (or OPENAI_API_KEY) the bot (or the worker)
/// stays off, with a warning: the ledger, relay, projector and admin API still run.
pub async fn run_up(settings: Settings, _args: UpArgs) -> anyhow::Result<i32> {
    let has_bot = settings.telegram.bot_token.is_some();
    let has_openai = settings.openai.api_key.is_some();
    if !has_bot {
        tracing::warn!(
            target: crate::telemetry::LIFECYCLE,
            "BOT_TOKEN is not set: the Telegram bot and the worker stay off (`tokenbot demo` runs everything with fakes)"
        );
    } else if !has_openai {
        tracing::warn!(
            target: crate::telemetry::LIFECYCLE,
            "OPENAI_API_KEY is not set: the worker stays off; tasks wait in the ledger until one runs"
        );
    }
    // A worker that is off leaves tasks waiting: the age shows it.
    let mut up = role(settings).relay().projector().api().open_task_age();
    if has_bot {
        up = up.bot();
    }
    if has_bot && has_openai {
        up = up.worker();
    }
    run(up).await
}
