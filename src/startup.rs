//! Getting a database ready: reach it, create it if it is missing, migrate it.

use anyhow::Context;
use tokenbot_ledger::migrations::migrate;
use tokenbot_ledger::{Database, EventStore, Ledger};

use crate::configuration::Settings;

/// Connects, creating the database when the server is reachable but the database is not there
/// yet (a fresh machine), then applies migrations.
pub async fn ledger(settings: &Settings) -> anyhow::Result<Ledger> {
    let db = Database::connect_lazy(&settings.database_url, settings.db_pool_size)?;
    if let Err(first) = db.check().await {
        if !missing_database(&first) {
            return Err(first.into());
        }
        create_database(&db).await?;
        db.check().await?;
    }
    let applied = migrate(&db).await?;
    for m in &applied {
        tracing::info!(migration = %m, "applied");
    }
    Ok(Ledger::new(EventStore::new(db), settings.ledger.clone()))
}

/// Connects without migrating (auditor commands must not change the schema).
pub async fn ledger_readonly(settings: &Settings) -> anyhow::Result<Ledger> {
    let db = Database::connect(&settings.database_url, settings.db_pool_size).await?;
    Ok(Ledger::new(EventStore::new(db), settings.ledger.clone()))
}

fn missing_database(e: &tokenbot_ledger::DbError) -> bool {
    use std::error::Error;
    let mut source: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(pg) = s.downcast_ref::<tokio_postgres::Error>() {
            return pg.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME);
        }
        source = s.source();
    }
    false
}

async fn create_database(db: &Database) -> anyhow::Result<()> {
    let name = db
        .config()
        .get_dbname()
        .context("DATABASE_URL names no database")?
        .to_string();
    let mut admin = db.config().clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to the 'postgres' database to create {name:?}"))?;
    tokio::spawn(connection);
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match client
        .batch_execute(&format!("CREATE DATABASE {quoted}"))
        .await
    {
        Ok(()) => {
            eprintln!("created database {name}");
            Ok(())
        }
        // Someone else created it in the meantime.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create database {name:?}")),
    }
}

/// Connects to NATS; keeps retrying in the background when it is down at start (appends do not
/// need it, and the relay catches up once it is back).
pub async fn jetstream(settings: &Settings) -> anyhow::Result<async_nats::jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .name("tokenbot")
        .retry_on_initial_connect()
        .connect(&settings.nats_url)
        .await
        .with_context(|| {
            format!(
                "NATS_URL={:?} is not a usable NATS address",
                settings.nats_url
            )
        })?;
    Ok(async_nats::jetstream::new(client))
}

/// Resolves on Ctrl-C or SIGTERM, then cancels `shutdown`.
pub fn cancel_on_signal(shutdown: tokenbot_ledger::shutdown::Shutdown) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "no SIGTERM handler; Ctrl-C only");
                        let _ = ctrl_c.await;
                        shutdown.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        eprintln!("shutting down: finishing work in hand");
        shutdown.cancel();
    });
}

/// The Bot API client: BOT_TOKEN against TELEGRAM_API_URL (Telegram's by default).
pub fn telegram_bot(settings: &Settings, role: &str) -> anyhow::Result<teloxide::Bot> {
    let token = settings.telegram.bot_token.as_deref().with_context(|| {
        format!("BOT_TOKEN is not set: the {role} talks to Telegram through it (get one from @BotFather; `tokenbot demo` runs without one)")
    })?;
    let bot = teloxide::Bot::new(token);
    Ok(match &settings.telegram.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    })
}

/// How the worker behaves, from the settings (also what `/health` of `up` judges open tasks by,
/// whether or not the worker runs).
pub fn worker_config(settings: &Settings) -> tokenbot_worker::WorkerConfig {
    tokenbot_worker::WorkerConfig {
        bus: settings.bus.clone(),
        concurrency: settings.worker.concurrency,
        retry_delays: settings.worker.retry_delays.clone(),
        // Longer than one OpenAI call and a delivery, so a live worker never loses its task.
        lease: settings.openai.timeout + std::time::Duration::from_secs(60),
        ack_wait: settings.worker.ack_wait,
        task_stall: settings.worker.task_stall,
        ..Default::default()
    }
}

/// The image worker's runner: ledger, OpenAI, Telegram, result store.
pub fn worker_runner(
    settings: &Settings,
    ledger: &Ledger,
) -> anyhow::Result<(
    std::sync::Arc<tokenbot_worker::Runner>,
    std::sync::Arc<tokenbot_worker::WorkerConfig>,
)> {
    use std::sync::Arc;
    use tokenbot_worker::provider::openai::{OpenAiConfig, OpenAiImages};
    let api_key = settings.openai.api_key.clone().context(
        "OPENAI_API_KEY is not set: the worker needs it to make images (`tokenbot demo` runs without one)",
    )?;
    let bot = telegram_bot(settings, "worker")?;
    let config = Arc::new(worker_config(settings));
    let provider = OpenAiImages::new(OpenAiConfig {
        base_url: settings.openai.base_url.clone(),
        api_key,
        timeout: settings.openai.timeout,
    })
    .context("cannot build the OpenAI client")?;
    let runner = tokenbot_worker::Runner::new(
        ledger.clone(),
        Arc::new(provider),
        tokenbot_worker::telegram::Courier::new(bot, config.max_source_bytes),
        tokenbot_worker::results::ResultStore::new(ledger.store().database().pool().clone()),
        config.clone(),
    );
    Ok((Arc::new(runner), config))
}

/// The Telegram bot.
pub fn bot_app(settings: &Settings, ledger: &Ledger) -> anyhow::Result<tokenbot_bot::App> {
    let bot = telegram_bot(settings, "bot")?;
    Ok(tokenbot_bot::App::new(
        bot,
        ledger.clone(),
        tokenbot_bot::BotConfig {
            admin_ids: settings.telegram.admin_ids.clone(),
            support_contact: settings.telegram.support_contact.clone(),
        },
    ))
}
