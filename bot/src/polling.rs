//! Long-polling mode (no WEBHOOK_URL): getUpdates in a loop. Updates of a batch are handled
//! concurrently across chats and in order within a chat; the offset moves past a batch only once
//! it is handled, so a crash redelivers it (and the handled-updates table skips what was done).

use std::collections::BTreeMap;
use std::time::Duration;

use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{Update, UpdateKind};
use tokenbot_ledger::shutdown::Shutdown;

use crate::app::App;

/// Runs until `shutdown`.
pub async fn run(app: App, shutdown: Shutdown) -> Result<(), teloxide::RequestError> {
    app.bot().delete_webhook().await?;
    let mut offset: i32 = 0;
    let mut backoff = Duration::from_millis(200);
    loop {
        let request = app
            .bot()
            .get_updates()
            .offset(offset)
            // Under teloxide's default client timeout (17 s), or every idle poll would fail.
            .timeout(10)
            .limit(100);
        let updates = tokio::select! {
            r = request => r,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let updates = match updates {
            Ok(u) => {
                backoff = Duration::from_millis(200);
                u
            }
            Err(e) => {
                tracing::warn!(error = %e, ?backoff, "getUpdates failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let Some(last) = updates.last() else { continue };
        let next = i32::try_from(last.id.0)
            .unwrap_or(i32::MAX)
            .saturating_add(1);
        handle_batch(&app, updates).await;
        offset = next;
    }
}

fn chat_of(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::Message(m) => m.chat.id.0,
        UpdateKind::CallbackQuery(q) => q.message.as_ref().map_or(0, |m| m.chat().id.0),
        _ => 0,
    }
}

/// Handles a batch; false if any update failed for a reason a retry can fix (the database was
/// unreachable).
async fn handle_batch(app: &App, updates: Vec<Update>) -> bool {
    let mut by_chat: BTreeMap<i64, Vec<Update>> = BTreeMap::new();
    for u in updates {
        by_chat.entry(chat_of(&u)).or_default().push(u);
    }
    let mut set = tokio::task::JoinSet::new();
    for (_, chat_updates) in by_chat {
        let app = app.clone();
        set.spawn(async move {
            for u in chat_updates {
                // Other errors were answered and logged inside; retrying would repeat them.
                if let Err(e) = app.handle_update(u).await
                    && e.is_transient()
                {
                    // Later updates of this chat wait for the retry, to keep their order.
                    return false;
                }
            }
            true
        });
    }
    let mut all = true;
    while let Some(done) = set.join_next().await {
        all &= done.unwrap_or(false);
    }
    all
}
