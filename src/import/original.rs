//! Reading the original bot's database: users in id order (keyset pagination), each with their
//! tasks in id order. Everything is read in one `REPEATABLE READ, READ ONLY` transaction, so a
//! user's balance and their tasks come from the same moment even if the original is still
//! running, and nothing is ever written there.
//!
//! The original has no index on `generation_tasks.user_id`, so tasks are not looked up per user
//! (a full scan per batch): one cursor walks all tasks ordered by (user_id, id), merged with the
//! users as they are read.

use std::collections::VecDeque;
use std::time::Duration;

use tokio_postgres::{Client, IsolationLevel, Portal, Row, Statement, Transaction};

use super::error::{ImportError, describe};
use super::mapping::{OriginalTask, OriginalUser};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns read, per table; a database without them is not the original's.
const USER_COLUMNS: [&str; 8] = [
    "id",
    "telegram_id",
    "username",
    "first_name",
    "tokens",
    "selected_model",
    "image_quality",
    "image_size",
];
const TASK_COLUMNS: [&str; 14] = [
    "id",
    "user_id",
    "task_type",
    "model",
    "image_quality",
    "image_size",
    "prompt",
    "source_image_url",
    "result_image_url",
    "result_file_id",
    "status",
    "tokens_spent",
    "retry_count",
    "error_message",
];

/// Casts make the reader independent of the exact integer and text types of the original's
/// columns (Alembic and `create_all` did not always agree). `id > $1::bigint` still uses the
/// primary key index (integer and bigint share an operator family).
const USERS_SQL: &str = "SELECT id::bigint, telegram_id::bigint, username::text, first_name::text, \
     tokens::bigint, selected_model::text, image_quality::text, image_size::text \
     FROM users WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint";
const TASKS_SQL: &str = "SELECT id::bigint, user_id::bigint, task_type::text, model::text, \
     image_quality::text, image_size::text, prompt::text, source_image_url::text, \
     result_image_url::text, result_file_id::text, status::text, tokens_spent::bigint, \
     retry_count::bigint, error_message::text \
     FROM generation_tasks ORDER BY user_id, id";

/// host:port/database, without the password.
fn target_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// A connection to the original bot's database, checked to have its tables.
pub struct Source {
    client: Client,
    target: String,
}

impl Source {
    /// Connects to `url` (SQLAlchemy's `postgresql+asyncpg://` form, as in the original's
    /// `.env`, is accepted) and checks that the original's tables and columns are there.
    pub async fn connect(url: &str) -> Result<Source, ImportError> {
        let url = url
            .trim()
            .replace("postgresql+asyncpg://", "postgresql://")
            .replace("postgres+asyncpg://", "postgres://");
        let mut config =
            tokenbot_ledger::PgConfig::parse(&url).map_err(|e| ImportError::InvalidUrl {
                reason: describe(&e),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let target = target_of(&config);
        let (client, connection) =
            config
                .connect()
                .await
                .map_err(|e| ImportError::Unreachable {
                    target: target.clone(),
                    reason: describe(&e),
                })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection to the original database ended");
            }
        });
        let source = Source { client, target };
        source.check_schema().await?;
        Ok(source)
    }

    /// Where it is connected, for messages (no password).
    pub(super) fn target(&self) -> &str {
        &self.target
    }

    fn read_error(&self, e: &tokio_postgres::Error) -> ImportError {
        ImportError::Read {
            target: self.target.clone(),
            reason: describe(e),
        }
    }

    async fn check_schema(&self) -> Result<(), ImportError> {
        let rows = self
            .client
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() \
                   AND table_name IN ('users', 'generation_tasks')",
                &[],
            )
            .await
            .map_err(|e| self.read_error(&e))?;
        let mut present: Vec<(String, String)> = Vec::with_capacity(rows.len());
        for row in &rows {
            let table: String = row.try_get(0).map_err(|e| self.read_error(&e))?;
            let column: String = row.try_get(1).map_err(|e| self.read_error(&e))?;
            present.push((table, column));
        }
        for (table, wanted) in [
            ("users", &USER_COLUMNS[..]),
            ("generation_tasks", &TASK_COLUMNS[..]),
        ] {
            let has = |column: &str| present.iter().any(|(t, c)| t == table && c == column);
            if !present.iter().any(|(t, _)| t == table) {
                return Err(ImportError::MissingTable {
                    target: self.target.clone(),
                    table,
                });
            }
            let missing: Vec<&'static str> = wanted.iter().copied().filter(|c| !has(c)).collect();
            if !missing.is_empty() {
                return Err(ImportError::MissingColumns {
                    target: self.target.clone(),
                    table,
                    columns: missing,
                });
            }
        }
        Ok(())
    }

    /// Starts the read: one snapshot for the whole import.
    pub(super) async fn read(&mut self, batch: i64) -> Result<Reader<'_>, ImportError> {
        let target = self.target.clone();
        let fail = |e: tokio_postgres::Error| ImportError::Read {
            target: target.clone(),
            reason: describe(&e),
        };
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fail)?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(fail)?;
        let users = tx.prepare(USERS_SQL).await.map_err(fail)?;
        let tasks_stmt = tx.prepare(TASKS_SQL).await.map_err(fail)?;
        let tasks = tx.bind(&tasks_stmt, &[]).await.map_err(fail)?;
        Ok(Reader {
            tx,
            target,
            users,
            tasks,
            buffered: VecDeque::new(),
            tasks_exhausted: false,
            after: i64::MIN,
            batch,
            total_users: u64::try_from(total).unwrap_or(0),
        })
    }
}

/// One batch of users with their tasks, and tasks whose user is not in `users` (the original
/// declared a foreign key, but a `create_all` schema may not have).
pub(super) struct Batch {
    pub users: Vec<(OriginalUser, Vec<OriginalTask>)>,
    pub orphans: Vec<OriginalTask>,
}

pub(super) struct Reader<'a> {
    tx: Transaction<'a>,
    target: String,
    users: Statement,
    tasks: Portal,
    buffered: VecDeque<OriginalTask>,
    tasks_exhausted: bool,
    /// The last `users.id` read (keyset pagination).
    after: i64,
    batch: i64,
    pub total_users: u64,
}

fn user_from(row: &Row) -> Result<OriginalUser, tokio_postgres::Error> {
    Ok(OriginalUser {
        id: row.try_get(0)?,
        telegram_id: row.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
        username: row.try_get(2)?,
        first_name: row.try_get(3)?,
        tokens: row.try_get(4)?,
        selected_model: row.try_get(5)?,
        image_quality: row.try_get(6)?,
        image_size: row.try_get(7)?,
    })
}

fn task_from(row: &Row) -> Result<OriginalTask, tokio_postgres::Error> {
    Ok(OriginalTask {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        task_type: row.try_get(2)?,
        model: row.try_get(3)?,
        image_quality: row.try_get(4)?,
        image_size: row.try_get(5)?,
        prompt: row.try_get(6)?,
        source_image_url: row.try_get(7)?,
        result_image_url: row.try_get(8)?,
        result_file_id: row.try_get(9)?,
        status: row.try_get(10)?,
        tokens_spent: row.try_get(11)?,
        retry_count: row.try_get(12)?,
        error_message: row.try_get(13)?,
    })
}

impl Reader<'_> {
    fn fail(&self, e: &tokio_postgres::Error) -> ImportError {
        ImportError::Read {
            target: self.target.clone(),
            reason: describe(e),
        }
    }

    /// The next task in (user_id, id) order without taking it; reads ahead `batch` rows at a time.
    async fn peek_task(&mut self) -> Result<Option<&OriginalTask>, ImportError> {
        if self.buffered.is_empty() && !self.tasks_exhausted {
            let max_rows = i32::try_from(self.batch).unwrap_or(i32::MAX);
            let rows = self
                .tx
                .query_portal(&self.tasks, max_rows)
                .await
                .map_err(|e| self.fail(&e))?;
            self.tasks_exhausted = rows.len() < max_rows as usize;
            for row in &rows {
                let task = task_from(row).map_err(|e| self.fail(&e))?;
                self.buffered.push_back(task);
            }
        }
        Ok(self.buffered.front())
    }

    /// The next `batch` users with their tasks; `None` when every user has been read (the
    /// tasks left then come back as orphans in a last, userless batch).
    pub(super) async fn next_batch(&mut self) -> Result<Option<Batch>, ImportError> {
        let rows = self
            .tx
            .query(&self.users, &[&self.after, &self.batch])
            .await
            .map_err(|e| self.fail(&e))?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let user = user_from(row).map_err(|e| self.fail(&e))?;
            users.push((user, Vec::new()));
        }
        let last = users.last().map(|(u, _)| u.id);
        let mut orphans = Vec::new();
        let mut i = 0;
        loop {
            let Some(next) = self.peek_task().await? else {
                break;
            };
            // NULL user ids sort last; they are orphans of the final batch.
            let belongs_here = match (next.user_id, last) {
                (Some(owner), Some(last)) => owner <= last,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if !belongs_here {
                break;
            }
            let Some(task) = self.buffered.pop_front() else {
                break;
            };
            let owner = task.user_id;
            while users.get(i).is_some_and(|(u, _)| Some(u.id) < owner) {
                i += 1;
            }
            match users.get_mut(i) {
                Some((u, tasks)) if Some(u.id) == owner => tasks.push(task),
                _ => orphans.push(task),
            }
        }
        match last {
            Some(last) => {
                self.after = last;
                Ok(Some(Batch { users, orphans }))
            }
            None if orphans.is_empty() => Ok(None),
            None => Ok(Some(Batch { users, orphans })),
        }
    }

    /// Ends the read-only transaction.
    pub(super) async fn finish(self) -> Result<(), ImportError> {
        let target = self.target;
        self.tx.commit().await.map_err(|e| ImportError::Read {
            target,
            reason: describe(&e),
        })
    }
}
