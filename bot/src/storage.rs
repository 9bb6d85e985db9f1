//! Dialogue state in Postgres (`bot.dialogues`): teloxide's `Storage` on tokio-postgres, so that a
//! restarted bot (or another bot process behind the same webhook) continues every conversation
//! where it was. The original kept this in process memory and lost it on every deploy.

use std::marker::PhantomData;
use std::sync::Arc;

use deadpool_postgres::Pool;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::ChatId;

/// Dialogue state or handled update ids could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No connection could be had.
    #[error("cannot reach Postgres for dialogue state")]
    Pool(#[source] tokenbot_ledger::db::PoolFailure),
    /// A query failed.
    #[error("dialogue state query failed")]
    Query(#[from] tokio_postgres::Error),
    /// A state written by an older release that this one no longer understands: the chat starts
    /// over rather than failing forever.
    #[error("stored dialogue does not decode")]
    Decode(#[from] serde_json::Error),
}

tokenbot_ledger::pool_failure_from!(StorageError::Pool);

/// teloxide's dialogue [`Storage`] in `bot.dialogues`, one JSON row per chat.
pub struct PgStorage<D> {
    pool: Pool,
    _state: PhantomData<fn() -> D>,
}

impl<D> PgStorage<D> {
    /// The storage on `pool`.
    pub fn new(pool: Pool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            _state: PhantomData,
        })
    }
}

impl<D> Storage<D> for PgStorage<D>
where
    D: Serialize + DeserializeOwned + Send + 'static,
{
    type Error = StorageError;

    fn remove_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<(), StorageError>>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            let client = self.pool.get().await?;
            client
                .execute(
                    "DELETE FROM bot.dialogues WHERE chat_id = $1",
                    &[&chat_id.0],
                )
                .await?;
            Ok(())
        })
    }

    fn update_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
        dialogue: D,
    ) -> BoxFuture<'static, Result<(), StorageError>>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            let value = serde_json::to_value(&dialogue)?;
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO bot.dialogues (chat_id, dialogue) VALUES ($1, $2)
                     ON CONFLICT (chat_id) DO UPDATE
                     SET dialogue = EXCLUDED.dialogue, updated_at = clock_timestamp()",
                    &[&chat_id.0, &value],
                )
                .await?;
            Ok(())
        })
    }

    fn get_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<Option<D>, StorageError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT dialogue FROM bot.dialogues WHERE chat_id = $1",
                    &[&chat_id.0],
                )
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(serde_json::from_value(
                    r.get::<_, serde_json::Value>(0),
                )?)),
            }
        })
    }
}

/// Telegram update ids already handled (`bot.handled_updates`): a redelivered update is skipped.
#[derive(Clone)]
pub struct HandledUpdates {
    pool: Pool,
    /// Update ids are numbered per bot.
    bot_id: i64,
}

impl HandledUpdates {
    /// The ids of the bot whose id is `bot_id` (the token's number).
    pub fn new(pool: Pool, bot_id: i64) -> Self {
        Self { pool, bot_id }
    }

    /// Whether `update_id` was handled already.
    pub async fn contains(&self, update_id: u32) -> Result<bool, StorageError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT 1 FROM bot.handled_updates WHERE bot_id = $1 AND update_id = $2",
                &[&self.bot_id, &i64::from(update_id)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Records `update_id` as handled.
    pub async fn mark(&self, update_id: u32) -> Result<(), StorageError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO bot.handled_updates (bot_id, update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&self.bot_id, &i64::from(update_id)],
            )
            .await?;
        Ok(())
    }

    /// Forgets updates older than a day (Telegram stops redelivering long before).
    pub async fn prune(&self) -> Result<u64, StorageError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "DELETE FROM bot.handled_updates WHERE handled_at < now() - interval '1 day'",
                &[],
            )
            .await?)
    }
}
