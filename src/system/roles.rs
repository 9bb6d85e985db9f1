//! Each role as a future, built but not yet running: the relay, the projector, the worker and
//! its sweeper, the open-task monitor, the bot (polling, or a webhook router) and the HTTP
//! server. Everything that can fail at start (clients, setWebhook, binding the address) fails
//! here, before any role runs.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use secrecy::ExposeSecret;
use tokenbot_api::{HealthCheck, NatsCheck, OpenTaskAgeCheck, ReadPostgresCheck};
use tokenbot_ledger::relay::{self, Relay};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Ledger, LogCursor};
use tokenbot_projections::live::{self, Observer, Projector};
use tokenbot_projections::{LIVE_SCHEMA, Projection};
use tokenbot_worker::open_tasks;
use tokenbot_worker::sweeper::Sweeper;
use tokio::sync::watch;

use super::parts;
use crate::configuration::Settings;
use crate::telemetry::LIFECYCLE;

/// A role's work until shutdown.
pub(super) type RoleFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Every role ready to run, and what the handle tells about them.
pub(super) struct Prepared {
    pub ledger: Ledger,
    pub js: async_nats::jetstream::Context,
    pub shutdown: Shutdown,
    pub roles: Vec<(&'static str, RoleFuture)>,
    pub relayed: watch::Receiver<LogCursor>,
    pub projected: watch::Receiver<LogCursor>,
    pub http_addr: Option<SocketAddr>,
}

/// Which roles to run and how each is configured: what the builder collects.
#[derive(Default)]
pub(super) struct Selection {
    pub relay: Option<relay::RelayConfig>,
    pub projector: Option<live::LiveConfig>,
    pub projector_observer: Option<Observer>,
    pub worker: Option<tokenbot_worker::WorkerConfig>,
    pub bot: Option<tokenbot_bot::BotConfig>,
    pub http: Option<Http>,
    pub open_task_age: bool,
}

impl Selection {
    /// Whether the admin API is served (the only reader of `READ_DATABASE_URL`).
    pub fn serves_admin(&self) -> bool {
        self.http.is_some_and(|h| h.admin)
    }
}

/// What the HTTP server serves beside `/health`, `/metrics` and `/openapi.json`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Http {
    pub admin: bool,
}

/// What every role is built from.
struct Parts<'a> {
    settings: &'a Settings,
    ledger: &'a Ledger,
    js: &'a async_nats::jetstream::Context,
    /// The admin API's read models, when not the ledger's pool (`READ_DATABASE_URL`).
    read_pool: Option<deadpool_postgres::Pool>,
    shutdown: &'a Shutdown,
    /// The Bot API client of the bot and the worker: one rate limiter for both.
    telegram: std::sync::OnceLock<tokenbot_telegram::Telegram>,
}

impl Parts<'_> {
    /// The process's Bot API client, made by the first role that needs it.
    fn telegram(&self, role: &str) -> anyhow::Result<tokenbot_telegram::Telegram> {
        if let Some(t) = self.telegram.get() {
            return Ok(t.clone());
        }
        let made = parts::telegram(self.settings, role)?;
        Ok(self.telegram.get_or_init(|| made).clone())
    }
}

pub(super) async fn prepare(
    settings: &Settings,
    chosen: &Selection,
    ledger: Ledger,
    js: async_nats::jetstream::Context,
    read_pool: Option<deadpool_postgres::Pool>,
) -> anyhow::Result<Prepared> {
    let shutdown = Shutdown::new();
    let p = Parts {
        settings,
        ledger: &ledger,
        js: &js,
        read_pool,
        shutdown: &shutdown,
        telegram: std::sync::OnceLock::new(),
    };
    let mut roles: Vec<(&'static str, RoleFuture)> = Vec::new();
    let (relay_tx, relayed) = watch::channel(LogCursor::START);
    if let Some(config) = &chosen.relay {
        roles.push(("relay", relay(&p, config.clone(), relay_tx)));
    }
    let (projected_tx, projected) = watch::channel(LogCursor::START);
    if let Some(config) = &chosen.projector {
        let observer = observer(projected_tx, chosen.projector_observer.clone());
        roles.push(("projector", projector(&p, config.clone(), observer)));
    }
    if let Some(config) = &chosen.worker {
        roles.extend(worker(&p, config.clone())?);
    }
    let mut checks: Vec<Arc<dyn HealthCheck>> = vec![Arc::new(NatsCheck(js.client()))];
    if let Some(pool) = &p.read_pool {
        checks.push(Arc::new(ReadPostgresCheck(pool.clone())));
    }
    if chosen.open_task_age {
        let (monitor, check) = open_task_age(&p);
        roles.push(("open-task monitor", monitor));
        checks.push(Arc::new(check));
    }
    let mut webhook = None;
    if let Some(config) = &chosen.bot {
        let (bot_roles, router) = bot(&p, config.clone()).await?;
        roles.extend(bot_roles);
        webhook = router;
    }
    let mut http_addr = None;
    if let Some(http) = chosen.http {
        // Every role serves /health and /metrics on HTTP_ADDR (in containers each has its own
        // address); the admin endpoints only where the api role runs.
        let router = admin_router(&p, checks, http.admin);
        let router = match webhook {
            Some(w) => w.merge(router),
            None => router,
        };
        let (server, addr) = http_server(&p, router).await?;
        roles.push(("HTTP server", server));
        http_addr = Some(addr);
    }
    Ok(Prepared {
        ledger,
        js,
        shutdown,
        roles,
        relayed,
        projected,
        http_addr,
    })
}

fn relay(
    p: &Parts<'_>,
    config: relay::RelayConfig,
    progress: watch::Sender<LogCursor>,
) -> RoleFuture {
    let f = relay::run(Relay {
        store: p.ledger.store().clone(),
        js: p.js.clone(),
        bus: p.settings.bus.clone(),
        config,
        shutdown: p.shutdown.clone(),
        progress: Some(progress),
    });
    Box::pin(async move { Ok(f.await?) })
}

/// Tells the handle's `projected` channel, then `extra`, about every applied batch.
fn observer(projected: watch::Sender<LogCursor>, extra: Option<Observer>) -> Observer {
    Arc::new(move |cursor, applied| {
        if let Some(extra) = &extra {
            extra(cursor, applied);
        }
        projected.send_replace(cursor);
    })
}

fn projector(p: &Parts<'_>, mut config: live::LiveConfig, observer: Observer) -> RoleFuture {
    config.bus = p.settings.bus.clone();
    let f = live::run(Projector {
        pool: p.ledger.store().database().pool().clone(),
        schema: LIVE_SCHEMA.to_string(),
        projections: Projection::ALL.to_vec(),
        js: p.js.clone(),
        config,
        shutdown: p.shutdown.clone(),
        observer: Some(observer),
    });
    Box::pin(async move { Ok(f.await?) })
}

/// The worker's consumer and its sweeper, sharing one runner.
fn worker(
    p: &Parts<'_>,
    mut config: tokenbot_worker::WorkerConfig,
) -> anyhow::Result<Vec<(&'static str, RoleFuture)>> {
    config.bus = p.settings.bus.clone();
    let config = Arc::new(config);
    let runner =
        parts::worker_runner_on(p.settings, p.ledger, config.clone(), p.telegram("worker")?)?;
    let sweeper = Sweeper::new(runner.clone(), p.ledger.clone(), config.clone());
    let consumer = tokenbot_worker::consumer::run(runner, p.js.clone(), config, p.shutdown.clone());
    Ok(vec![
        ("sweeper", Box::pin(sweeper.run(p.shutdown.clone()).map(Ok))),
        ("worker", Box::pin(async move { Ok(consumer.await?) })),
    ])
}

/// The oldest open task's age, judged by the bound the settings' worker pace implies.
fn open_task_age(p: &Parts<'_>) -> (RoleFuture, OpenTaskAgeCheck) {
    let config = parts::worker_config(p.settings);
    let (age, measured) = watch::channel(None);
    let monitor = open_tasks::monitor(
        p.ledger.store().database().pool().clone(),
        config.sweep_interval(),
        age,
        p.shutdown.clone(),
    );
    let check = OpenTaskAgeCheck {
        age: measured,
        bound: config.open_task_bound(p.settings.ledger.max_attempts),
    };
    (Box::pin(monitor.map(Ok)), check)
}

/// The bot's roles (the handled-update pruner, and long polling, or with a webhook what long
/// polling left in the inbox) and its webhook router, if any.
async fn bot(
    p: &Parts<'_>,
    config: tokenbot_bot::BotConfig,
) -> anyhow::Result<(Vec<(&'static str, RoleFuture)>, Option<axum::Router>)> {
    let app = tokenbot_bot::App::new(p.telegram("bot")?, p.ledger.clone(), config);
    let pruner = tokenbot_bot::prune_handled_updates(app.clone(), p.shutdown.clone());
    let mut roles: Vec<(&'static str, RoleFuture)> =
        vec![("update-id pruner", Box::pin(pruner.map(Ok)))];
    if let Err(e) = tokenbot_bot::register_commands(app.telegram()).await {
        tracing::warn!(error = %e, "setMyCommands failed; the command menu may be stale");
    }
    let router = match &p.settings.telegram.webhook {
        Some(webhook) => {
            tokenbot_bot::webhook::set_webhook(app.telegram(), &webhook.config())
                .await
                .map_err(|e| anyhow::anyhow!("setWebhook to {} failed: {e}", webhook.url))?;
            tracing::info!(target: LIFECYCLE, "Telegram webhook at {}", webhook.url);
            // Updates long polling parked before a switch to the webhook: Telegram will not
            // deliver them again.
            let (drained, shutdown) = (app.clone(), p.shutdown.clone());
            let inbox = async move {
                tokenbot_bot::polling::drain_inbox(drained, shutdown.clone()).await;
                shutdown.cancelled().await;
                Ok(())
            };
            roles.push(("inbox", Box::pin(inbox)));
            Some(tokenbot_bot::webhook::router(
                app,
                webhook.secret.expose_secret(),
            ))
        }
        None => {
            tracing::info!(target: LIFECYCLE, "Telegram long polling (no WEBHOOK_URL)");
            let polling = tokenbot_bot::polling::run(app, p.shutdown.clone());
            roles.push(("bot", Box::pin(async move { Ok(polling.await?) })));
            None
        }
    };
    Ok((roles, router))
}

/// /health, /metrics, /openapi.json, and the admin endpoints when `with_admin`.
fn admin_router(
    p: &Parts<'_>,
    checks: Vec<Arc<dyn HealthCheck>>,
    with_admin: bool,
) -> axum::Router {
    use tokenbot_api::{AdminState, router};
    let keys = &p.settings.admin_keys;
    if with_admin && keys.is_empty() {
        tracing::warn!(
            target: LIFECYCLE,
            "neither ADMIN_API_KEYS nor ADMIN_API_KEY is set: the admin API is off (its routes answer 404)"
        );
    } else if with_admin {
        let names: Vec<&str> = keys.names().map(|n| n.as_str()).collect();
        tracing::info!(target: LIFECYCLE, admins = ?names, "admin API on");
        if p.settings.admin_key_plaintext {
            tracing::warn!(
                target: LIFECYCLE,
                "ADMIN_API_KEY holds a plaintext key (acting as admin `default`): make a named key \
                 with `tokenbot admin key new <name>` and put its line in ADMIN_API_KEYS instead"
            );
        }
    }
    let keys = if with_admin {
        keys.clone()
    } else {
        tokenbot_api::auth::AdminKeys::none()
    };
    let mut state = AdminState::new(p.ledger.clone(), keys, checks)
        .with_checkpoints(p.js.clone(), p.settings.bus.clone());
    if let Some(pool) = &p.read_pool {
        state = state.with_read_pool(pool.clone());
    }
    // Refunds return Stars through the bot's token; without one they answer 503.
    if let Ok(bot) = super::parts::telegram_bot(p.settings, "admin API's refunds") {
        state = state.with_return_stars(return_stars(bot, p.ledger.clone()));
    }
    router(state)
}

/// The admin API's way of returning a refunded purchase's Stars: the bot crate's.
fn return_stars(bot: teloxide::Bot, ledger: tokenbot_ledger::Ledger) -> tokenbot_api::ReturnStars {
    // Refunds are rare and answered one by one: a limiter of their own (429 still honoured).
    let telegram = tokenbot_telegram::Telegram::from(bot);
    Arc::new(move |refund| {
        let (telegram, ledger) = (telegram.clone(), ledger.clone());
        Box::pin(async move {
            tokenbot_bot::stars::return_stars(&telegram, &ledger, &refund)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// Binds HTTP_ADDR now (a taken port fails the start) and serves until shutdown.
async fn http_server(
    p: &Parts<'_>,
    router: axum::Router,
) -> anyhow::Result<(RoleFuture, SocketAddr)> {
    let addr = p.settings.http_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on HTTP_ADDR={addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(target: LIFECYCLE, "HTTP on http://{bound}");
    let stop = p.shutdown.clone();
    let server = async move {
        // The client's address, for the admin API's limit on failed authentications.
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await?;
        Ok(())
    };
    Ok((Box::pin(server), bound))
}
