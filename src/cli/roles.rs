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

#[derive(Args)]
pub struct ApiArgs {}

#[derive(Args)]
pub struct UpArgs {}

/// Serves the HTTP API (admin, health, metrics, OpenAPI) on HTTP_ADDR until `shutdown`.
async fn serve_http(
    settings: &Settings,
    ledger: tokenbot_ledger::Ledger,
    nats: async_nats::Client,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    use tokenbot_projections::http::{AdminState, NatsCheck, router};
    if settings.admin_api_key.is_none() {
        tracing::warn!("ADMIN_API_KEY is not set: the admin API is off (its routes answer 404)");
    }
    let state = AdminState::new(
        ledger,
        settings.admin_api_key.as_deref(),
        vec![Arc::new(NatsCheck(nats))],
    );
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on HTTP_ADDR={}: {e}", settings.http_addr))?;
    eprintln!("HTTP API on http://{}", settings.http_addr);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

pub async fn run_api(settings: &Settings, _args: ApiArgs) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    let js = startup::jetstream(settings).await?;
    let shutdown = Shutdown::new();
    startup::cancel_on_signal(shutdown.clone());
    serve_http(settings, ledger, js.client(), shutdown).await?;
    Ok(0)
}

/// Everything in one process: relay, projector and the HTTP API, with one shutdown. The Telegram
/// bot and the image worker join here when their issues land.
pub async fn run_up(settings: &Settings, _args: UpArgs) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    let js = startup::jetstream(settings).await?;
    let shutdown = Shutdown::new();
    startup::cancel_on_signal(shutdown.clone());
    let relay = tokio::spawn(relay::run(
        ledger.store().clone(),
        js.clone(),
        settings.bus.clone(),
        RelayConfig::default(),
        shutdown.clone(),
        None,
    ));
    let projector = tokio::spawn(live::run(
        ledger.store().database().pool().clone(),
        LIVE_SCHEMA.to_string(),
        Projection::ALL.to_vec(),
        js.clone(),
        LiveConfig {
            bus: settings.bus.clone(),
            ..Default::default()
        },
        shutdown.clone(),
        None,
    ));
    let http = serve_http(settings, ledger, js.client(), shutdown.clone());
    // Whichever role stops first (an error, or the shutdown signal) stops the others.
    let outcome = tokio::select! {
        r = http => r,
        r = relay => r.map_err(anyhow::Error::from).and_then(|r| r.map_err(anyhow::Error::from)),
        r = projector => r.map_err(anyhow::Error::from).and_then(|r| r.map_err(anyhow::Error::from)),
    };
    shutdown.cancel();
    outcome?;
    Ok(0)
}
