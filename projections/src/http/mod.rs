//! The admin HTTP API (axum): the original's `/admin/*` endpoints over the read models and the
//! ledger, plus health, metrics and an OpenAPI document. Handlers are thin; queries live in
//! [`crate::queries`], rules in the ledger.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use tokenbot_ledger::Ledger;
use tokenbot_ledger::bus::BusConfig;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

pub mod admin;
pub mod auth;
pub mod error;
pub mod ops;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A dependency `/health` reports on.
pub trait HealthCheck: Send + Sync {
    fn name(&self) -> &'static str;
    fn check(&self) -> CheckFuture<'_>;
    /// A failure of this check means the service is degraded (answered 200, `"degraded"`), not
    /// failing (503): restarting the process would not help, an operator should look.
    fn only_degrades(&self) -> bool {
        false
    }
}

/// Postgres answers a query.
pub struct PostgresCheck(pub Pool);

impl HealthCheck for PostgresCheck {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let client = self.0.get().await.map_err(|e| e.to_string())?;
            client
                .execute("SELECT 1", &[])
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// The NATS connection is up.
pub struct NatsCheck(pub async_nats::Client);

impl HealthCheck for NatsCheck {
    fn name(&self) -> &'static str {
        "nats"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.0.connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
    }
}

/// The oldest open task's age, as a worker measures it (`tokenbot_worker::open_tasks::monitor`):
/// above `bound` a paid task is later than it can legitimately be, and health is degraded.
pub struct OpenTaskAgeCheck {
    pub age: tokio::sync::watch::Receiver<Option<std::time::Duration>>,
    pub bound: std::time::Duration,
}

impl HealthCheck for OpenTaskAgeCheck {
    fn name(&self) -> &'static str {
        "open_tasks"
    }
    fn check(&self) -> CheckFuture<'_> {
        let age = *self.age.borrow();
        let bound = self.bound;
        Box::pin(async move {
            match age {
                Some(age) if age > bound => Err(format!(
                    "the oldest open task was requested {} s ago (bound {} s)",
                    age.as_secs(),
                    bound.as_secs()
                )),
                _ => Ok(()),
            }
        })
    }
    fn only_degrades(&self) -> bool {
        true
    }
}

pub(crate) struct Inner {
    pub(crate) ledger: Ledger,
    pub(crate) pool: Pool,
    pub(crate) admin_key_digest: Option<[u8; 32]>,
    pub(crate) health_checks: Vec<Arc<dyn HealthCheck>>,
    /// Where the signed checkpoints are read from (unset: not served).
    pub(crate) checkpoints: std::sync::OnceLock<(async_nats::jetstream::Context, BusConfig)>,
}

#[derive(Clone)]
pub struct AdminState {
    pub(crate) inner: Arc<Inner>,
}

impl AdminState {
    /// `admin_api_key: None` turns the admin routes off (they answer 404).
    pub fn new(
        ledger: Ledger,
        admin_api_key: Option<&str>,
        mut health_checks: Vec<Arc<dyn HealthCheck>>,
    ) -> Self {
        let pool = ledger.store().database().pool().clone();
        health_checks.insert(0, Arc::new(PostgresCheck(pool.clone())));
        Self {
            inner: Arc::new(Inner {
                ledger,
                pool,
                admin_key_digest: admin_api_key.map(auth::digest),
                health_checks,
                checkpoints: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Serves `GET /admin/ledger/checkpoints` from the checkpoint stream of `bus` (the first
    /// call wins).
    pub fn with_checkpoints(self, js: async_nats::jetstream::Context, bus: BusConfig) -> Self {
        let _ = self.inner.checkpoints.set((js, bus));
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tokenbot admin API", description = "Read models and admin grants of the tokenbot ledger."),
    paths(admin::stats, admin::queue, admin::user, admin::grant, admin::ledger, admin::checkpoints, ops::health),
    modifiers(&AdminKeyScheme)
)]
pub struct ApiDoc;

struct AdminKeyScheme;

impl utoipa::Modify for AdminKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-API-Key"))),
        );
    }
}

/// The admin API, health, metrics and OpenAPI routes.
pub fn router(state: AdminState) -> Router {
    // Installing the recorder here means metrics exist as soon as the API is served.
    let _ = ops::metrics_handle();
    let admin = Router::new()
        .route("/admin/stats", get(admin::stats))
        .route("/admin/queue", get(admin::queue))
        .route("/admin/users/{telegram_id}", get(admin::user))
        .route("/admin/users/{telegram_id}/tokens", post(admin::grant))
        .route("/admin/users/{telegram_id}/ledger", get(admin::ledger))
        .route("/admin/ledger/checkpoints", get(admin::checkpoints))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    Router::new()
        .merge(admin)
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/", get(ops::root))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
