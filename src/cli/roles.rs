//! Long-running roles: `relay`, `projector`, `api`, `worker`, `bot`, and `up` (all of them in one
//! process). Every role selects on one shutdown signal; Ctrl-C or SIGTERM stops intake and lets
//! work in hand finish.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use clap::Args;
use futures::FutureExt;
use tokenbot_api::{HealthCheck, NatsCheck, OpenTaskAgeCheck};
use tokenbot_ledger::Ledger;
use tokenbot_ledger::relay::{self, RelayConfig};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_projections::live::{self, LiveConfig};
use tokenbot_projections::{LIVE_SCHEMA, Projection};
use tokenbot_worker::open_tasks;
use tokenbot_worker::sweeper::Sweeper;

use crate::configuration::Settings;
use crate::startup;

#[derive(Args)]
pub struct RelayArgs {}

#[derive(Args)]
pub struct ProjectorArgs {}

#[derive(Args)]
pub struct ApiArgs {}

#[derive(Args)]
pub struct WorkerArgs {}

#[derive(Args)]
pub struct BotArgs {}

#[derive(Args)]
pub struct UpArgs {}

/// Which roles this process runs.
#[derive(Debug, Clone, Copy, Default)]
struct Roles {
    relay: bool,
    projector: bool,
    api: bool,
    worker: bool,
    bot: bool,
    /// Measure the oldest open task's age (gauge and `/health`), with or without a worker here.
    open_task_age: bool,
}

type RoleFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

pub async fn run_relay(settings: &Settings, _args: RelayArgs) -> anyhow::Result<i32> {
    run_roles(
        settings,
        Roles {
            relay: true,
            ..Default::default()
        },
    )
    .await
}

pub async fn run_projector(settings: &Settings, _args: ProjectorArgs) -> anyhow::Result<i32> {
    run_roles(
        settings,
        Roles {
            projector: true,
            ..Default::default()
        },
    )
    .await
}

pub async fn run_api(settings: &Settings, _args: ApiArgs) -> anyhow::Result<i32> {
    run_roles(
        settings,
        Roles {
            api: true,
            ..Default::default()
        },
    )
    .await
}

pub async fn run_worker(settings: &Settings, _args: WorkerArgs) -> anyhow::Result<i32> {
    run_roles(
        settings,
        Roles {
            worker: true,
            open_task_age: true,
            ..Default::default()
        },
    )
    .await
}

pub async fn run_bot(settings: &Settings, _args: BotArgs) -> anyhow::Result<i32> {
    run_roles(
        settings,
        Roles {
            bot: true,
            ..Default::default()
        },
    )
    .await
}

/// Everything in one process. Without BOT_TOKEN (or OPENAI_API_KEY) the bot (or the worker)
/// stays off, with a warning: the ledger, relay, projector and admin API still run.
pub async fn run_up(settings: &Settings, _args: UpArgs) -> anyhow::Result<i32> {
    let has_bot = settings.telegram.bot_token.is_some();
    let has_openai = settings.openai.api_key.is_some();
    if !has_bot {
        eprintln!(
            "BOT_TOKEN is not set: the Telegram bot and the worker stay off (`tokenbot demo` runs everything with fakes)"
        );
    } else if !has_openai {
        eprintln!(
            "OPENAI_API_KEY is not set: the worker stays off; tasks wait in the ledger until one runs"
        );
    }
    let roles = Roles {
        relay: true,
        projector: true,
        api: true,
        worker: has_bot && has_openai,
        bot: has_bot,
        // A worker that is off leaves tasks waiting: the age shows it.
        open_task_age: true,
    };
    run_roles(settings, roles).await
}

async fn run_roles(settings: &Settings, roles: Roles) -> anyhow::Result<i32> {
    let ledger = startup::ledger(settings).await?;
    let js = startup::jetstream(settings).await?;
    let shutdown = Shutdown::new();
    startup::cancel_on_signal(shutdown.clone());
    let futures = role_futures(settings, &ledger, &js, roles, &shutdown).await?;
    // Whichever role stops first (an error, or the shutdown signal) stops the others; then every
    // role gets to finish what it holds.
    let mut set = tokio::task::JoinSet::new();
    for (name, f) in futures {
        set.spawn(async move { (name, f.await) });
    }
    let mut outcome = Ok(());
    while let Some(done) = set.join_next().await {
        shutdown.cancel();
        match done {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => {
                if outcome.is_ok() {
                    outcome = Err(e.context(format!("the {name} stopped")));
                }
            }
            Err(e) => {
                if outcome.is_ok() {
                    outcome = Err(anyhow::anyhow!("a role panicked: {e}"));
                }
            }
        }
    }
    outcome?;
    Ok(0)
}

async fn role_futures(
    settings: &Settings,
    ledger: &Ledger,
    js: &async_nats::jetstream::Context,
    roles: Roles,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<(&'static str, RoleFuture)>> {
    let mut futures: Vec<(&'static str, RoleFuture)> = Vec::new();
    if roles.relay {
        let f = relay::run(
            ledger.store().clone(),
            js.clone(),
            settings.bus.clone(),
            RelayConfig {
                checkpoints: relay_checkpoints(settings),
                ..Default::default()
            },
            shutdown.clone(),
            None,
        );
        futures.push(("relay", Box::pin(async move { Ok(f.await?) })));
    }
    if roles.projector {
        let f = live::run(
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
        );
        futures.push(("projector", Box::pin(async move { Ok(f.await?) })));
    }
    if roles.worker {
        let (runner, config) = startup::worker_runner(settings, ledger)?;
        let sweeper = Sweeper::new(runner.clone(), ledger.clone(), config.clone());
        futures.push(("sweeper", Box::pin(sweeper.run(shutdown.clone()).map(Ok))));
        let f = tokenbot_worker::consumer::run(runner, js.clone(), config, shutdown.clone());
        futures.push(("worker", Box::pin(async move { Ok(f.await?) })));
    }
    let mut checks: Vec<Arc<dyn HealthCheck>> = vec![Arc::new(NatsCheck(js.client()))];
    if roles.open_task_age {
        let config = startup::worker_config(settings);
        let (age, measured) = tokio::sync::watch::channel(None);
        let f = open_tasks::monitor(
            ledger.store().database().pool().clone(),
            config.sweep_interval(),
            age,
            shutdown.clone(),
        );
        futures.push(("open-task monitor", Box::pin(f.map(Ok))));
        checks.push(Arc::new(OpenTaskAgeCheck {
            age: measured,
            bound: config.open_task_bound(settings.ledger.max_attempts),
        }));
    }
    let mut router: Option<axum::Router> = None;
    if roles.bot {
        let app = startup::bot_app(settings, ledger)?;
        let pruner = tokenbot_bot::prune_handled_updates(app.clone(), shutdown.clone());
        futures.push((
            "update-id pruner",
            Box::pin(async move {
                pruner.await;
                Ok(())
            }),
        ));
        if let Err(e) = tokenbot_bot::register_commands(app.bot()).await {
            tracing::warn!(error = %e, "setMyCommands failed; the command menu may be stale");
        }
        match &settings.telegram.webhook {
            Some(webhook) => {
                tokenbot_bot::webhook::set_webhook(app.bot(), webhook)
                    .await
                    .map_err(|e| anyhow::anyhow!("setWebhook to {} failed: {e}", webhook.url))?;
                eprintln!("Telegram webhook at {}", webhook.url);
                router = Some(tokenbot_bot::webhook::router(app, &webhook.secret));
            }
            None => {
                eprintln!("Telegram long polling (no WEBHOOK_URL)");
                let f = tokenbot_bot::polling::run(app, shutdown.clone());
                futures.push(("bot", Box::pin(async move { Ok(f.await?) })));
            }
        }
    }
    // Every role serves /health and /metrics on HTTP_ADDR (in containers each has its own
    // address); the admin endpoints only where the api role runs.
    let admin = admin_router(settings, ledger.clone(), js, checks, roles.api);
    let router = Some(match router {
        Some(r) => r.merge(admin),
        None => admin,
    });
    if let Some(router) = router {
        let listener = tokio::net::TcpListener::bind(settings.http_addr)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on HTTP_ADDR={}: {e}", settings.http_addr)
            })?;
        eprintln!("HTTP on http://{}", settings.http_addr);
        let stop = shutdown.clone();
        futures.push((
            "HTTP server",
            Box::pin(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await?;
                Ok(())
            }),
        ));
    }
    Ok(futures)
}

/// The relay signs checkpoints when a key is configured; without one it says so, once.
pub fn relay_checkpoints(
    settings: &Settings,
) -> Option<tokenbot_ledger::checkpoint::CheckpointSettings> {
    match &settings.checkpoints.signer {
        Some(signer) => Some(tokenbot_ledger::checkpoint::CheckpointSettings {
            signer: signer.clone(),
            policy: settings.checkpoints.policy.clone(),
        }),
        None => {
            eprintln!(
                "LEDGER_SIGNING_KEY is not set: the relay seals the hash chain but publishes no signed checkpoints (make a key with `tokenbot ledger keygen`; docs/operations.md)"
            );
            None
        }
    }
}

/// /health, /metrics, /openapi.json, and the admin endpoints when `with_admin`.
fn admin_router(
    settings: &Settings,
    ledger: Ledger,
    js: &async_nats::jetstream::Context,
    checks: Vec<Arc<dyn HealthCheck>>,
    with_admin: bool,
) -> axum::Router {
    use tokenbot_api::{AdminState, router};
    if with_admin && settings.admin_api_key.is_none() {
        tracing::warn!("ADMIN_API_KEY is not set: the admin API is off (its routes answer 404)");
    }
    let key = settings.admin_api_key.as_deref().filter(|_| with_admin);
    let state =
        AdminState::new(ledger, key, checks).with_checkpoints(js.clone(), settings.bus.clone());
    router(state)
}
