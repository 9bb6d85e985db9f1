use tokenbot_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("event at position {position} does not fit the read model: {detail}")]
    Inconsistent { position: i64, detail: String },
    #[error("projection {projection} is behind (at {checkpoint}): catch up from Postgres first")]
    Behind {
        projection: &'static str,
        checkpoint: String,
    },
    #[error("unknown projection {0:?} (known: users, tasks)")]
    UnknownProjection(String),
}
