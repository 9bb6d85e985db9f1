//! What every handler shares: the ledger, its pool, the pool the read models are read from (a
//! replica's, or the same), the admin keys, the health checks and where the signed checkpoints
//! are read from. Cheap to clone.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use deadpool_postgres::Pool;
use tokenbot_ledger::Ledger;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::command::refund_purchase::PurchaseRefund;

use crate::auth::{AdminAuth, AdminKeys};
use crate::health::{HealthCheck, PostgresCheck};

/// Returns the Stars of a purchase the ledger has refunded, through Telegram
/// (`refundStarPayment`; the composition passes the bot crate's `stars::return_stars`). The
/// error is Telegram's, for the admin.
pub type ReturnStars = Arc<
    dyn Fn(PurchaseRefund) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// The state of the router; clones share everything.
#[derive(Clone)]
pub struct AdminState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ledger: Ledger,
    pub(crate) pool: Pool,
    /// Where the read endpoints read the read models (unset: `pool`, the primary).
    pub(crate) read_pool: OnceLock<Pool>,
    pub(crate) admin_auth: AdminAuth,
    /// Idempotency keys whose first request is being served.
    pub(crate) in_flight: Arc<crate::idempotency::InFlight>,
    pub(crate) health_checks: Vec<Arc<dyn HealthCheck>>,
    /// Where the signed checkpoints are read from (unset: not served).
    pub(crate) checkpoints: OnceLock<(async_nats::jetstream::Context, BusConfig)>,
    /// How refunds return Stars (unset: no BOT_TOKEN, refunds answer 503 and write nothing).
    pub(crate) return_stars: OnceLock<ReturnStars>,
}

impl AdminState {
    /// No `admin_keys` turns the admin routes off (they answer 404); `Some(key)` is one key
    /// named `default`. `/health` checks Postgres and then each of `health_checks`.
    pub fn new(
        ledger: Ledger,
        admin_keys: impl Into<AdminKeys>,
        mut health_checks: Vec<Arc<dyn HealthCheck>>,
    ) -> Self {
        let pool = ledger.store().database().pool().clone();
        health_checks.insert(0, Arc::new(PostgresCheck(pool.clone())));
        Self {
            inner: Arc::new(Inner {
                ledger,
                pool,
                read_pool: OnceLock::new(),
                admin_auth: AdminAuth::new(admin_keys.into()),
                in_flight: Arc::default(),
                health_checks,
                checkpoints: OnceLock::new(),
                return_stars: OnceLock::new(),
            }),
        }
    }

    /// Serves `GET /admin/ledger/checkpoints` from the checkpoint stream of `bus` (the first
    /// call wins).
    pub fn with_checkpoints(self, js: async_nats::jetstream::Context, bus: BusConfig) -> Self {
        let _ = self.inner.checkpoints.set((js, bus));
        self
    }

    /// Serves `POST /admin/payments/{charge_id}/refund`, returning Stars through `hook` (the
    /// first call wins).
    pub fn with_return_stars(self, hook: ReturnStars) -> Self {
        let _ = self.inner.return_stars.set(hook);
        self
    }

    /// Serves the read endpoints of the read models (stats, queue, users, payments) from `pool`,
    /// a read replica's (the first call wins). Commands, idempotency and ledger reads stay on
    /// the ledger's pool.
    pub fn with_read_pool(self, pool: Pool) -> Self {
        let _ = self.inner.read_pool.set(pool);
        self
    }

    /// The pool the read endpoints use: the replica's when one was given, else the primary's.
    pub(crate) fn read_pool(&self) -> &Pool {
        self.inner.read_pool.get().unwrap_or(&self.inner.pool)
    }

    /// The keys the admin routes check.
    pub(crate) fn admin_auth(&self) -> AdminAuth {
        self.inner.admin_auth.clone()
    }
}
