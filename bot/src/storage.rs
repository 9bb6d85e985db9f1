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
            let stmt = client
                .prepare_cached("DELETE FROM bot.dialogues WHERE chat_id = $1")
                .await?;
            client.execute(&stmt, &[&chat_id.0]).await?;
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
            let stmt = client
                .prepare_cached(
                    "INSERT INTO bot.dialogues (chat_id, dialogue) VALUES ($1, $2)
                     ON CONFLICT (chat_id) DO UPDATE
                     SET dialogue = EXCLUDED.dialogue, updated_at = clock_timestamp()",
                )
                .await?;
            client.execute(&stmt, &[&chat_id.0, &value]).await?;
            Ok(())
        })
    }

    fn get_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<Option<D>, StorageError>> {
        Box::pin(async move {
            let client = self.pool.get().await?;
            let stmt = client
                .prepare_cached("SELECT dialogue FROM bot.dialogues WHERE chat_id = $1")
                .await?;
            let row = client.query_opt(&stmt, &[&chat_id.0]).await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(serde_json::from_value(
                    r.get::<_, serde_json::Value>(0),
                )?)),
            }
        })
    }
}

/// Marks an update handled (a second mark of it is a no-op).
const MARK: &str =
    "INSERT INTO bot.handled_updates (bot_id, update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// Telegram update ids already handled (`bot.handled_updates`), as [`UpdateStore`] checks and
/// marks them; this keeps the table small.
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

    /// Forgets this bot's updates older than a day (Telegram stops redelivering long before).
    pub async fn prune(&self) -> Result<u64, StorageError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "DELETE FROM bot.handled_updates \
                 WHERE bot_id = $1 AND handled_at < now() - interval '1 day'",
                &[&self.bot_id],
            )
            .await?)
    }
}

/// What an update finds when its handling starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Begun {
    /// The update was handled before (a redelivery): it is skipped.
    pub handled: bool,
    /// The chat's dialogue as stored (decoded by the caller: an unreadable one starts over).
    pub dialogue: Option<serde_json::Value>,
}

impl Begun {
    /// From a row of [`BEGIN`].
    pub(crate) fn from_row(row: &tokio_postgres::Row) -> Result<Self, StorageError> {
        Ok(Begun {
            handled: row.try_get(0)?,
            dialogue: row.try_get(1)?,
        })
    }
}

/// What an update's handling does to its chat's dialogue.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogueChange {
    /// The state did not change: nothing is written.
    Keep,
    /// The chat is in this state now.
    Save(serde_json::Value),
    /// The chat is idle again: its row goes.
    Remove,
}

/// Starts an update: the handled check and the dialogue load in one statement (`$1` bot id, `$2`
/// update id, `$3` chat id).
pub(crate) const BEGIN: &str =
    "SELECT EXISTS (SELECT 1 FROM bot.handled_updates WHERE bot_id = $1 AND update_id = $2),
        (SELECT dialogue FROM bot.dialogues WHERE chat_id = $3)";
/// Finishes an update whose state changed: the mark and the save in one statement (data-modifying
/// CTEs run whether or not the outer statement reads them).
const FINISH_SAVE: &str = "WITH saved AS (
            INSERT INTO bot.dialogues (chat_id, dialogue) VALUES ($3, $4)
            ON CONFLICT (chat_id) DO UPDATE
            SET dialogue = EXCLUDED.dialogue, updated_at = clock_timestamp())
        INSERT INTO bot.handled_updates (bot_id, update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
/// Finishes an update that ended the conversation: the mark and the delete in one statement.
const FINISH_REMOVE: &str = "WITH removed AS (DELETE FROM bot.dialogues WHERE chat_id = $3)
        INSERT INTO bot.handled_updates (bot_id, update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// The bot's per-update reads and writes, one round trip each: [`UpdateStore::begin`] (was it
/// handled, where is the chat) and [`UpdateStore::finish`] (it is handled, the chat is here now).
/// Statements are prepared once per pooled connection, so each is a single round trip.
#[derive(Clone)]
pub struct UpdateStore {
    pool: Pool,
    /// Update ids are numbered per bot.
    bot_id: i64,
}

impl UpdateStore {
    /// The store of the bot whose id is `bot_id` (the token's number).
    pub fn new(pool: Pool, bot_id: i64) -> Self {
        Self { pool, bot_id }
    }

    /// Whether `update_id` was handled already, and the dialogue of `chat_id`.
    pub async fn begin(&self, update_id: u32, chat_id: ChatId) -> Result<Begun, StorageError> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(BEGIN).await?;
        let row = client
            .query_one(&stmt, &[&self.bot_id, &i64::from(update_id), &chat_id.0])
            .await?;
        Begun::from_row(&row)
    }

    /// Marks `update_id` handled and applies `change` to the dialogue of `chat_id`, atomically:
    /// either both happen or neither (a redelivery then finds the old state, unmarked).
    pub async fn finish(
        &self,
        update_id: u32,
        chat_id: ChatId,
        change: &DialogueChange,
    ) -> Result<(), StorageError> {
        let client = self.pool.get().await?;
        let update_id = i64::from(update_id);
        match change {
            DialogueChange::Keep => {
                let stmt = client.prepare_cached(MARK).await?;
                client.execute(&stmt, &[&self.bot_id, &update_id]).await?;
            }
            DialogueChange::Save(dialogue) => {
                let stmt = client.prepare_cached(FINISH_SAVE).await?;
                client
                    .execute(&stmt, &[&self.bot_id, &update_id, &chat_id.0, dialogue])
                    .await?;
            }
            DialogueChange::Remove => {
                let stmt = client.prepare_cached(FINISH_REMOVE).await?;
                client
                    .execute(&stmt, &[&self.bot_id, &update_id, &chat_id.0])
                    .await?;
            }
        }
        Ok(())
    }
}
