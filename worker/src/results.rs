//! Finished images waiting for delivery (`worker.results`). Written before `TaskSucceeded`, read
//! by whichever worker delivers, deleted after `TaskDelivered`.

use bytes::Bytes;
use deadpool_postgres::Pool;
use tokenbot_ledger::TaskId;

/// Why the result store could not be read or written; the task's step is retried.
#[derive(Debug, thiserror::Error)]
pub enum ResultStoreError {
    /// No connection could be taken from the pool.
    #[error("cannot reach Postgres for the result store")]
    Pool(#[source] tokenbot_ledger::db::PoolFailure),
    /// The statement failed.
    #[error("result store query failed")]
    Query(#[from] tokio_postgres::Error),
}

tokenbot_ledger::pool_failure_from!(ResultStoreError::Pool);

/// Finished images kept in Postgres between `TaskSucceeded` and `TaskDelivered`, so any worker
/// can deliver a picture another worker made (or retry a delivery after a crash) without asking
/// the provider again.
#[derive(Clone)]
pub struct ResultStore {
    pool: Pool,
}

impl ResultStore {
    /// A store on `pool` (the runtime role's; `worker.results` is the worker's own table).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Keeps the image of `attempt`. A later attempt's image replaces an earlier one: only the
    /// attempt the ledger accepts as succeeded is ever delivered.
    pub async fn put(
        &self,
        task: TaskId,
        attempt: u32,
        png: &[u8],
    ) -> Result<(), ResultStoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO worker.results (task_id, attempt, png) VALUES ($1, $2, $3)
                 ON CONFLICT (task_id) DO UPDATE SET attempt = EXCLUDED.attempt, png = EXCLUDED.png",
                &[&task.as_uuid(), &(attempt as i32), &png],
            )
            .await?;
        Ok(())
    }

    /// The image kept for `task`, if any (a delivery after a crash reads it here).
    pub async fn get(&self, task: TaskId) -> Result<Option<Bytes>, ResultStoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT png FROM worker.results WHERE task_id = $1",
                &[&task.as_uuid()],
            )
            .await?;
        Ok(row.map(|r| Bytes::from(r.get::<_, Vec<u8>>(0))))
    }

    /// Drops the image of a delivered task; deleting a missing one is not an error.
    pub async fn delete(&self, task: TaskId) -> Result<(), ResultStoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM worker.results WHERE task_id = $1",
                &[&task.as_uuid()],
            )
            .await?;
        Ok(())
    }
}
