//! Connecting to Postgres: one pool for requests, plus the raw config for the dedicated
//! connections that LISTEN or hold session advisory locks.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use crate::pg::{PgConfig, PgUrlError};

/// A pool's failure to hand out a connection, said once. deadpool's own `Display` embeds its
/// cause and its `source` returns that cause too, so `{e:#}` would print it twice
/// ("Error occurred while creating a new object: error connecting to server: error connecting to
/// server: ..."); this names its own layer only and passes the cause on as the source.
#[derive(Debug)]
pub struct PoolFailure(pub deadpool_postgres::PoolError);

impl std::fmt::Display for PoolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use deadpool_postgres::{PoolError, TimeoutType};
        match &self.0 {
            PoolError::Backend(_) => f.write_str("cannot open a connection"),
            PoolError::Timeout(TimeoutType::Wait) => {
                f.write_str("timed out waiting for a free connection in the pool")
            }
            PoolError::Timeout(_) => f.write_str("timed out opening a connection"),
            PoolError::Closed => f.write_str("the connection pool is closed"),
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for PoolFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            deadpool_postgres::PoolError::Backend(e) => Some(e),
            _ => None,
        }
    }
}

/// `impl From<deadpool_postgres::PoolError>` for an error enum whose `$variant` holds a
/// [`PoolFailure`], so that `?` on a pool's result keeps working.
#[macro_export]
macro_rules! pool_failure_from {
    ($ty:ident :: $variant:ident) => {
        impl From<$crate::db::PoolError> for $ty {
            fn from(e: $crate::db::PoolError) -> Self {
                $ty::$variant($crate::db::PoolFailure(e))
            }
        }
    };
}

pub use deadpool_postgres::PoolError;

/// What can go wrong connecting.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("DATABASE_URL is not usable")]
    InvalidUrl(#[source] PgUrlError),
    /// The pool cannot be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    /// Postgres did not answer.
    #[error("cannot reach Postgres at {target}")]
    Unreachable {
        /// `host:port/db`, without the password.
        target: String,
        /// Why.
        #[source]
        source: PoolFailure,
    },
}

/// A pool plus the config it was built from.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    config: PgConfig,
}

impl Database {
    /// Builds the pool; does not connect yet (see [`Database::check`]).
    pub fn connect_lazy(url: &str, max_connections: usize) -> Result<Self, DbError> {
        let config = PgConfig::parse(url).map_err(DbError::InvalidUrl)?;
        Self::from_config(config, max_connections)
    }

    /// [`Database::connect_lazy`] from a parsed configuration.
    pub fn from_config(config: PgConfig, max_connections: usize) -> Result<Self, DbError> {
        let manager = Manager::from_config(
            (*config).clone(),
            config.tls(),
            ManagerConfig {
                // Every use of a connection ends its transaction explicitly or through
                // tokio-postgres's Transaction drop guard, so the cheap check is enough.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Self { pool, config })
    }

    /// Connects once so that a wrong URL or a stopped server is reported at start, by name.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, DbError> {
        let db = Self::connect_lazy(url, max_connections)?;
        db.check().await?;
        Ok(db)
    }

    /// Connects once: a wrong URL or a stopped server is reported now, by name.
    pub async fn check(&self) -> Result<(), DbError> {
        let client = self.pool.get().await.map_err(|e| DbError::Unreachable {
            target: self.describe(),
            source: PoolFailure(e),
        })?;
        drop(client);
        Ok(())
    }

    /// The pool every request takes a connection from.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// What the pool connects with, TLS included (for dedicated connections).
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The role it connects as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    /// host:port/db without the password, for messages.
    pub fn describe(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().unwrap_or("postgres");
        format!("{host}:{port}/{db}")
    }

    /// A connection outside the pool (LISTEN, session-level locks). The connection task is
    /// spawned; it ends when the client is dropped.
    pub async fn dedicated(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "dedicated connection closed");
            }
        });
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layer_is_said_once_in_a_chain() {
        let e = Database::connect_lazy("postgres://u@h/db?sslmode=verify", 1)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "DATABASE_URL is not usable");
        assert_eq!(
            crate::error::chain(&e).to_string(),
            "DATABASE_URL is not usable: sslmode=\"verify\" is not one of disable, prefer, \
             require, verify-ca, verify-full"
        );
    }
}
