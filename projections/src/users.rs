//! Read model "users": one row per Telegram user, from the account streams only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokenbot_ledger::{Event, RecordedEvent};

use crate::error::ProjectionError;

/// A `projections.users` row: what the projector writes, and the base of the read queries' user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The Telegram user id.
    pub telegram_id: i64,
    /// Telegram `@username`, if any.
    pub username: Option<String>,
    /// Telegram first name, if any.
    pub first_name: Option<String>,
    /// Telegram client language, if known.
    pub language_code: Option<String>,
    /// The balance in tokens.
    pub balance: i64,
    /// The model chosen; `None`: the configured default.
    pub model: Option<String>,
    /// Image quality setting.
    pub quality: String,
    /// Image size setting.
    pub size: String,
    /// Tasks ever requested.
    pub tasks_total: i64,
    /// Tokens spent: debits minus refunds.
    pub tokens_spent: i64,
    /// Tokens granted (welcome, admin and imported grants).
    pub tokens_granted: i64,
    /// When the account was opened.
    pub created_at: DateTime<Utc>,
    /// Last registration, task or settings change.
    pub last_seen_at: DateTime<Utc>,
}

/// The columns of [`UserRow::from_row`], in its order (unqualified, for any alias of the table).
pub(crate) const COLUMNS: &str = "telegram_id, username, first_name, language_code, balance, model, quality, size, \
     tasks_total, tokens_spent, tokens_granted, created_at, last_seen_at";

impl UserRow {
    /// A row selected as [`COLUMNS`], in that order.
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Result<UserRow, tokio_postgres::Error> {
        Ok(UserRow {
            telegram_id: r.try_get(0)?,
            username: r.try_get(1)?,
            first_name: r.try_get(2)?,
            language_code: r.try_get(3)?,
            balance: r.try_get(4)?,
            model: r.try_get(5)?,
            quality: r.try_get(6)?,
            size: r.try_get(7)?,
            tasks_total: r.try_get(8)?,
            tokens_spent: r.try_get(9)?,
            tokens_granted: r.try_get(10)?,
            created_at: r.try_get(11)?,
            last_seen_at: r.try_get(12)?,
        })
    }
}

pub(crate) fn key(e: &RecordedEvent) -> Option<i64> {
    e.stream_id.account_owner().map(i64::from)
}

pub(crate) async fn load(
    client: &impl GenericClient,
    schema: &str,
    ids: &[i64],
) -> Result<HashMap<i64, UserRow>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM {schema}.users WHERE telegram_id = ANY($1)"),
            &[&ids],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let row = UserRow::from_row(&r)?;
        out.insert(row.telegram_id, row);
    }
    Ok(out)
}

fn amount(t: tokenbot_ledger::Tokens) -> i64 {
    i64::from(t)
}

/// Applies one account event to the loaded rows.
pub(crate) fn apply(
    rows: &mut HashMap<i64, UserRow>,
    e: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let Some(id) = key(e) else { return Ok(()) };
    let missing = || ProjectionError::Inconsistent {
        position: e.position.0,
        detail: format!("{} for user {id} who has no row", e.event.event_type()),
    };
    let at = e.recorded_at;
    match &e.event {
        Event::AccountOpened(o) => {
            rows.insert(
                id,
                UserRow {
                    telegram_id: id,
                    username: o.username.clone(),
                    first_name: o.first_name.clone(),
                    language_code: o.language_code.clone(),
                    balance: 0,
                    model: None,
                    quality: tokenbot_ledger::Quality::Medium.as_str().into(),
                    size: tokenbot_ledger::ImageSize::Square.as_str().into(),
                    tasks_total: 0,
                    tokens_spent: 0,
                    tokens_granted: 0,
                    created_at: at,
                    last_seen_at: at,
                },
            );
        }
        Event::TokensGranted(g) => {
            let row = rows.get_mut(&id).ok_or_else(missing)?;
            row.balance = amount(g.balance_after);
            row.tokens_granted += amount(g.amount);
        }
        Event::TokensDebited(d) => {
            let row = rows.get_mut(&id).ok_or_else(missing)?;
            row.balance = amount(d.balance_after);
            row.tokens_spent += amount(d.amount);
            row.tasks_total += 1;
            row.last_seen_at = at;
        }
        Event::TokensRefunded(r) => {
            let row = rows.get_mut(&id).ok_or_else(missing)?;
            row.balance = amount(r.balance_after);
            row.tokens_spent -= amount(r.amount);
        }
        Event::TokensReclaimed(r) => {
            // A refunded purchase: its grant no longer counts.
            let row = rows.get_mut(&id).ok_or_else(missing)?;
            row.balance = amount(r.balance_after);
            row.tokens_granted -= amount(r.amount);
        }
        Event::SettingsChanged(s) => {
            let row = rows.get_mut(&id).ok_or_else(missing)?;
            if let Some(m) = &s.model {
                row.model = Some(m.as_str().to_string());
            }
            if let Some(q) = s.quality {
                row.quality = q.as_str().into();
            }
            if let Some(z) = s.size {
                row.size = z.as_str().into();
            }
            row.last_seen_at = at;
        }
        _ => {}
    }
    Ok(())
}

pub(crate) async fn store(
    client: &impl GenericClient,
    schema: &str,
    rows: &[&UserRow],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {schema}.users ({COLUMNS}) \
         SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], \
                              $8::text[], $9::int8[], $10::int8[], $11::int8[], $12::timestamptz[], $13::timestamptz[]) \
         ON CONFLICT (telegram_id) DO UPDATE SET username = EXCLUDED.username, first_name = EXCLUDED.first_name, \
           language_code = EXCLUDED.language_code, balance = EXCLUDED.balance, model = EXCLUDED.model, \
           quality = EXCLUDED.quality, size = EXCLUDED.size, tasks_total = EXCLUDED.tasks_total, \
           tokens_spent = EXCLUDED.tokens_spent, tokens_granted = EXCLUDED.tokens_granted, \
           created_at = EXCLUDED.created_at, last_seen_at = EXCLUDED.last_seen_at"
    );
    client
        .execute(
            &sql,
            &[
                &column!(rows, telegram_id),
                &column!(rows, username),
                &column!(rows, first_name),
                &column!(rows, language_code),
                &column!(rows, balance),
                &column!(rows, model),
                &column!(rows, quality),
                &column!(rows, size),
                &column!(rows, tasks_total),
                &column!(rows, tokens_spent),
                &column!(rows, tokens_granted),
                &column!(rows, created_at),
                &column!(rows, last_seen_at),
            ],
        )
        .await?;
    Ok(())
}
