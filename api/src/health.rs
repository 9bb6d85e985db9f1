//! The dependencies `/health` reports on: Postgres always, the read replica where one is
//! configured, NATS where the process has it, and whatever else a caller adds.

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
        Box::pin(select_one(&self.0))
    }
}

/// The read replica (`READ_DATABASE_URL`) answers a query. Its failure degrades the service
/// (the read endpoints answer 503) but writes still work, so restarting would not help.
pub struct ReadPostgresCheck(pub Pool);

impl HealthCheck for ReadPostgresCheck {
    fn name(&self) -> &'static str {
        "postgres_read"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(select_one(&self.0))
    }
    fn only_degrades(&self) -> bool {
        true
    }
}

async fn select_one(pool: &Pool) -> Result<(), String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    client
        .execute("SELECT 1", &[])
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
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
    /// The latest measurement (`None` before the first, or when no task is open).
    pub age: tokio::sync::watch::Receiver<Option<std::time::Duration>>,
    /// The longest a task can legitimately stay open.
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
