//! One update of a chat at a time, across every bot process on the database: several webhook
//! processes behind one URL receive one chat's updates in any order and at once, and must still
//! handle them one after the other, each seeing the state the previous one saved.
//!
//! In the process, a mutex per chat; across processes, a Postgres session advisory lock keyed by
//! the chat (the two-`int4` key space, which nothing else here uses: the ledger's and the
//! projections' locks take one `int8`). The sessions are not pooled connections: one dedicated
//! connection per process holds the locks of all its chats (a session lock is reentrant within
//! the session, which the in-process mutex makes harmless), so a chat in hand costs no pool
//! connection and a burst of chats cannot starve the handlers of the pool. `pg_try_advisory_lock`
//! is polled (a held chat is a few milliseconds of someone else's work), so the session never
//! blocks on one chat while others wait behind it.
//!
//! When that connection is lost, Postgres releases every lock it held: the updates in hand
//! finish without the guarantee (their release notices, logs and counts
//! `bot_chat_lock_lost_total`), and the next updates take their locks on a new connection.
//! What the loss can cost is bounded by the rest of the design: ledger commands are keyed by the
//! update id, a redelivered update is skipped by `bot.handled_updates`, and the dialogue state
//! is saved before the reply that invites the next step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenbot_ledger::db::Database;
use tokio::sync::OwnedMutexGuard;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::storage::{BEGIN, Begun, StorageError};

/// The first pause before asking again for a chat another process holds; doubled up to the max.
const RETRY_FIRST: Duration = Duration::from_millis(2);
const RETRY_MAX: Duration = Duration::from_millis(50);

/// The chats this process handles, and the session holding their locks.
pub(crate) struct ChatLocks {
    db: Database,
    /// Update ids are numbered per bot.
    bot_id: i64,
    local: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

/// The dedicated connection and its statements, prepared once: every update takes and gives back
/// its chat, and an unprepared statement costs a round trip of its own each time.
struct Session {
    client: Client,
    try_lock: Statement,
    /// The update's handled check and its chat's dialogue ([`BEGIN`]), sent with the lock.
    begin: Statement,
    unlock: Statement,
}

/// A chat held; [`ChatGuard::release`] gives it back (dropping it does too, in the background).
pub(crate) struct ChatGuard {
    key: (i32, i32),
    session: Arc<Session>,
    released: bool,
    _local: OwnedMutexGuard<()>,
}

/// The advisory lock key of a chat: its id's two halves (every chat its own key).
fn key_of(chat: i64) -> (i32, i32) {
    ((chat >> 32) as i32, chat as i32)
}

impl ChatLocks {
    pub fn new(db: Database, bot_id: i64) -> Self {
        Self {
            db,
            bot_id,
            local: Mutex::new(HashMap::new()),
            session: tokio::sync::Mutex::new(None),
        }
    }

    fn local(&self, chat: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.local.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: locks nobody holds or waits for are dropped when the map grows.
        if locks.len() > 10_000 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(chat).or_default().clone()
    }

    /// The session holding this process's chat locks, connected again if it was lost.
    async fn session(&self) -> Result<Arc<Session>, StorageError> {
        let mut session = self.session.lock().await;
        if let Some(s) = session.as_ref().filter(|s| !s.client.is_closed()) {
            return Ok(s.clone());
        }
        let client = self.db.dedicated().await?;
        let try_lock = client
            .prepare("SELECT pg_try_advisory_lock($1, $2)")
            .await?;
        let begin = client.prepare(BEGIN).await?;
        let unlock = client.prepare("SELECT pg_advisory_unlock($1, $2)").await?;
        let fresh = Arc::new(Session {
            client,
            try_lock,
            begin,
            unlock,
        });
        *session = Some(fresh.clone());
        Ok(fresh)
    }

    /// Waits until this process, and no other, handles `chat`; then what `update_id` finds: was
    /// it handled, and the chat's dialogue.
    ///
    /// The read is pipelined behind the lock on the session: one round trip for both. It is a
    /// statement of its own, so its snapshot is taken after the lock was granted and it sees
    /// everything the chat's previous holder committed before letting go (one statement doing
    /// both would read with a snapshot from before the lock). When the lock is refused, the read
    /// is thrown away.
    pub async fn lock(
        &self,
        chat: i64,
        update_id: u32,
    ) -> Result<(ChatGuard, Begun), StorageError> {
        let local = self.local(chat).lock_owned().await;
        let key = key_of(chat);
        let update_id = i64::from(update_id);
        let mut pause = RETRY_FIRST;
        loop {
            let session = self.session().await?;
            let lock_params: [&(dyn ToSql + Sync); 2] = [&key.0, &key.1];
            let begin_params: [&(dyn ToSql + Sync); 3] = [&self.bot_id, &update_id, &chat];
            let (locked, begun) = tokio::try_join!(
                session.client.query_one(&session.try_lock, &lock_params),
                session.client.query_one(&session.begin, &begin_params),
            )?;
            if locked.get::<_, bool>(0) {
                let guard = ChatGuard {
                    key,
                    session,
                    released: false,
                    _local: local,
                };
                return Ok((guard, Begun::from_row(&begun)?));
            }
            metrics::counter!("tokenbot_bot_chat_lock_waits_total").increment(1);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }
}

impl ChatGuard {
    /// Gives the chat back; false (logged and counted) if the lock had been lost meanwhile with
    /// its session.
    pub async fn release(mut self) -> bool {
        self.released = true;
        let held = match self
            .session
            .client
            .query_one(&self.session.unlock, &[&self.key.0, &self.key.1])
            .await
        {
            Ok(row) => row.get::<_, bool>(0),
            Err(_) => false,
        };
        if !held {
            tracing::warn!(
                "the chat's lock was lost with its Postgres session while the update was handled"
            );
            metrics::counter!("tokenbot_bot_chat_lock_lost_total").increment(1);
        }
        held
    }
}

impl Drop for ChatGuard {
    fn drop(&mut self) {
        // Handling was cancelled midway (a webhook request dropped, shutdown): the lock must not
        // outlive it in the session. The in-process mutex is released at once with the guard;
        // an update of the chat taking the session lock before this unlock runs is fine, since
        // the session lock counts its holders and this unlock takes back only this one.
        if self.released {
            return;
        }
        let (session, key) = (self.session.clone(), self.key);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = session
                    .client
                    .execute(&session.unlock, &[&key.0, &key.1])
                    .await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chat_has_its_own_key() {
        assert_eq!(key_of(1), (0, 1));
        assert_eq!(key_of(-1), (-1, -1));
        assert_ne!(key_of(1 << 32), key_of(1));
        assert_eq!(key_of(-1001234567890).0, -234);
    }
}
