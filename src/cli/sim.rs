//! The whole system in one process against in-process fakes of Telegram and OpenAI, for
//! `tokenbot demo` and the end-to-end benchmarks: the settings point the worker and the bot at
//! the fakes, and [`System`] runs the real relay, projector, worker and bot. Only the two
//! outside services are fakes; Postgres and NATS are the real ones.

use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use tokenbot_fake_openai::FakeOpenAi;
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{Ledger, LogCursor, TelegramId};
use tokenbot_projections::live::LiveConfig;
use tokenbot_worker::WorkerConfig;

use crate::configuration::Settings;
use crate::system::{System, SystemHandle, parts};

/// How a simulated run differs from a deployment.
pub struct SimOptions {
    /// Tasks the worker runs at once.
    pub worker_concurrency: usize,
    /// Pauses before attempts 2, 3, ...
    pub retry_delays: Vec<Duration>,
    /// Who may use the admin commands.
    pub admin_ids: Vec<TelegramId>,
    /// Durable consumer names get this prefix, so a run never shares consumers with a real
    /// deployment on the same NATS.
    pub consumer_prefix: String,
    /// Signed checkpoints published by the relay's sealer (None: none).
    pub checkpoints: Option<tokenbot_ledger::checkpoint::CheckpointSettings>,
}

/// The running system and the fakes it talks to.
pub struct SimSystem {
    /// The system's handle.
    pub system: SystemHandle,
    /// The fake Telegram Bot API the bot and the worker use.
    pub telegram: FakeTelegram,
    /// The fake OpenAI Images API the worker uses.
    pub openai: FakeOpenAi,
}

impl SimSystem {
    /// Starts the fakes, then the system on `ledger` and `js` with `settings` pointed at them.
    pub async fn start(
        mut settings: Settings,
        ledger: Ledger,
        js: async_nats::jetstream::Context,
        options: SimOptions,
    ) -> anyhow::Result<SimSystem> {
        let telegram = FakeTelegram::start()
            .await
            .context("cannot start the fake Telegram Bot API")?;
        // Update ids of one bot never repeat; a run against the same database as an earlier one
        // continues from a number that run did not reach (below 2^31, which teloxide's offset
        // can hold).
        let first_update = (chrono::Utc::now().timestamp() % 200_000) * 10_000 + 1;
        telegram.start_update_ids_at(first_update);
        let openai = FakeOpenAi::start()
            .await
            .context("cannot start the fake OpenAI API")?;
        settings.telegram.bot_token = Some(SecretString::from(FakeTelegram::TOKEN));
        settings.telegram.api_url = Some(telegram.api_url());
        settings.telegram.webhook = None;
        // The fake enforces no limits unless asked to: the simulated users get their answers as
        // fast as the system gives them.
        settings.telegram.limits = tokenbot_telegram::Limits::NONE;
        settings.telegram.admin_ids = options.admin_ids;
        settings.openai.api_key = Some(SecretString::from(openai.api_key()));
        settings.openai.base_url = openai.url().to_string();
        settings.openai.timeout = Duration::from_secs(30);
        let worker = WorkerConfig {
            consumer: format!("{}worker", options.consumer_prefix),
            concurrency: options.worker_concurrency,
            retry_delays: options.retry_delays,
            lease: Duration::from_secs(60),
            ack_wait: Duration::from_secs(10),
            worker_id: "sim-worker".into(),
            ..parts::worker_config(&settings)
        };
        let projector = LiveConfig {
            consumer: format!("{}projector", options.consumer_prefix),
            ..parts::live_config(&settings)
        };
        let relay = tokenbot_ledger::relay::RelayConfig {
            checkpoints: options.checkpoints,
            ..Default::default()
        };
        let system = System::builder(settings)
            .ledger(ledger)
            .jetstream(js)
            .relay_with(relay)
            .projector_with(projector)
            .worker_with(worker)
            .bot()
            .start()
            .await?;
        Ok(SimSystem {
            system,
            telegram,
            openai,
        })
    }

    /// The ledger the system runs on.
    pub fn ledger(&self) -> &Ledger {
        self.system.ledger()
    }

    /// Waits until every task requested since `since` is delivered or failed, woken by the
    /// ledger's notifications; returns (requested, finished).
    pub async fn wait_tasks_final(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        timeout: Duration,
    ) -> anyhow::Result<(i64, i64)> {
        wait_tasks_final(self.ledger(), since, timeout).await
    }

    /// Stops every role and waits for them; returns the first error any of them had.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.system.stop().await
    }
}

/// Waits until every task requested since `since` is delivered or failed, whoever works on
/// them (this process or others on the same database), woken by the ledger's notifications;
/// returns (requested, finished).
pub async fn wait_tasks_final(
    ledger: &Ledger,
    since: chrono::DateTime<chrono::Utc>,
    timeout: Duration,
) -> anyhow::Result<(i64, i64)> {
    let mut sub = Subscription::new(
        ledger.store().clone(),
        LogCursor::START,
        SubscriptionOptions::default(),
    )
    .await;
    let pool = ledger.store().database().pool().clone();
    let wait = async {
        loop {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "SELECT count(*) FILTER (WHERE event_type = 'TaskRequested'),
                            count(*) FILTER (WHERE event_type IN ('TaskDelivered', 'TaskFailed'))
                     FROM ledger.events WHERE recorded_at >= $1",
                    &[&since],
                )
                .await?;
            drop(client);
            let (requested, finished): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            if finished >= requested {
                return anyhow::Ok((requested, finished));
            }
            // Returns when new events are committed (or after the idle poll).
            sub.next_batch().await?;
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .context("tasks did not finish in time")?
}
