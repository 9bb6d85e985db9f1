//! `bot.inbox`: updates confirmed to Telegram before they were handled (see the module doc of
//! [`super`] for when), kept until handled so that a restart loses none of them.

use deadpool_postgres::Pool;
use teloxide::types::Update;

use super::window::id_of;
use crate::storage::StorageError;

/// The inbox rows of one bot.
#[derive(Clone)]
pub(super) struct Inbox {
    pool: Pool,
    /// Update ids are numbered per bot.
    bot_id: i64,
}

impl Inbox {
    pub fn new(pool: Pool, bot_id: i64) -> Self {
        Self { pool, bot_id }
    }

    /// Stores `updates` (one statement, one transaction); an update stored before stays as it
    /// was.
    pub async fn park(&self, updates: &[Update]) -> Result<(), StorageError> {
        let ids: Vec<i64> = updates.iter().map(|u| i64::from(id_of(u))).collect();
        // As text: teloxide's `Update` decodes from text, not from a `serde_json::Value`.
        let payloads = updates
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO bot.inbox (bot_id, update_id, payload)
                 SELECT $1, u.id, u.payload FROM unnest($2::int8[], $3::text[]::jsonb[]) AS u(id, payload)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        client
            .execute(&stmt, &[&self.bot_id, &ids, &payloads])
            .await?;
        Ok(())
    }

    /// Forgets an update that was handled; a failure is logged (the row left behind is handled
    /// again at the next start, and skipped as handled).
    pub async fn forget(&self, update_id: i32) {
        if let Err(e) = self.remove(update_id).await {
            tracing::warn!(update_id, error = %tokenbot_ledger::error::chain(&e), "could not remove a handled update from the inbox");
        }
    }

    async fn remove(&self, update_id: i32) -> Result<(), StorageError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached("DELETE FROM bot.inbox WHERE bot_id = $1 AND update_id = $2")
            .await?;
        client
            .execute(&stmt, &[&self.bot_id, &i64::from(update_id)])
            .await?;
        Ok(())
    }

    /// Every update stored, oldest first. One that no longer decodes (written by a release that
    /// knew a kind this one does not) cannot be handled: it is logged at each start and left in
    /// the table for an operator to look at.
    pub async fn load(&self) -> Result<Vec<Update>, StorageError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT update_id, payload::text FROM bot.inbox WHERE bot_id = $1 ORDER BY update_id",
                &[&self.bot_id],
            )
            .await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0)?;
            match serde_json::from_str::<Update>(row.try_get(1)?) {
                Ok(u) => updates.push(u),
                Err(e) => {
                    tracing::error!(update_id = id, error = %e, "an update in bot.inbox does not decode; left there");
                }
            }
        }
        Ok(updates)
    }
}
