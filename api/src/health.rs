//! The dependencies `/health` reports on: Postgres always, NATS where the process has it, and
//! whatever else a caller adds.

use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::Pool;

/// What a check's future resolves to: `Err` says why the dependency is failing.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A dependency `/health` reports on.
pub trait HealthCheck: Send + Sync {
    /// Its key in the `checks` object of `/health`.
    fn name(&self) -> &'static str;
    /// Asks the dependency; `/health` gives it two seconds.
    fn check(&self) -> CheckFuture<'_>;
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
