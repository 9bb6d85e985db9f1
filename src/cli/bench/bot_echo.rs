//! The echo baseline of `bench bot`: the least a bot can do, one sendMessage per update and no
//! database, through the same transport as the real bot (teloxide's client against the fake;
//! long polling shaped as the bot's, or an axum webhook) and in this process, as the bot runs.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use teloxide::Bot;
use teloxide::payloads::{GetUpdatesSetters, SetWebhookSetters};
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, Update};
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::shutdown::Shutdown;

use super::bot_drive::Mode;

/// A running echo bot.
pub(crate) struct Echo {
    stop: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Echo {
    /// Starts an echo bot against `tg` in `mode`.
    pub(crate) async fn start(tg: &FakeTelegram, mode: Mode) -> anyhow::Result<Echo> {
        let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(tg.api_url());
        let stop = Shutdown::new();
        let task = match mode {
            Mode::Polling => tokio::spawn(poll(bot, stop.clone())),
            Mode::Webhook => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let url = format!("http://{}/webhook", listener.local_addr()?);
                bot.set_webhook(url.parse()?)
                    .secret_token(SECRET.to_string())
                    .await?;
                let app = Router::new()
                    .route("/webhook", post(receive))
                    .with_state(bot);
                let stopped = stop.clone();
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stopped.cancelled().await })
                        .await?;
                    Ok(())
                })
            }
        };
        Ok(Echo { stop, task })
    }

    /// Stops it; its error, if it had one.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await?
    }
}

const SECRET: &str = "bench-echo-secret";

async fn receive(State(bot): State<Bot>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if headers
        .get(tokenbot_bot::webhook::SECRET_HEADER)
        .is_none_or(|s| s.as_bytes() != SECRET.as_bytes())
    {
        return StatusCode::FORBIDDEN;
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    match answer(&bot, &update).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn answer(bot: &Bot, update: &Update) -> Result<(), teloxide::RequestError> {
    if let Some(chat) = update.chat() {
        bot.send_message(chat.id, "ok").await?;
    }
    Ok(())
}

/// Long polling shaped as the bot's (bot/src/polling.rs): a batch of up to 100 updates, its
/// chats handled concurrently and each chat's updates in order, the next getUpdates (which
/// confirms the batch) once the whole batch is answered.
async fn poll(bot: Bot, shutdown: Shutdown) -> anyhow::Result<()> {
    bot.delete_webhook().await?;
    let mut offset = 0;
    loop {
        let request = bot.get_updates().offset(offset).timeout(10).limit(100);
        let updates = tokio::select! {
            u = request => u?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let mut by_chat: BTreeMap<ChatId, Vec<Update>> = BTreeMap::new();
        for u in updates {
            offset = offset.max(i32::try_from(u.id.0)?.saturating_add(1));
            if let Some(chat) = u.chat() {
                by_chat.entry(chat.id).or_default().push(u);
            }
        }
        let mut chats = tokio::task::JoinSet::new();
        for (_, updates) in by_chat {
            let bot = bot.clone();
            chats.spawn(async move {
                for u in &updates {
                    answer(&bot, u).await?;
                }
                Ok::<_, teloxide::RequestError>(())
            });
        }
        while let Some(done) = chats.join_next().await {
            done??;
        }
    }
}
