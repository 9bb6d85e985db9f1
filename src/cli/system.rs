//! The whole system in one process against in-process fakes of Telegram and OpenAI: the ledger,
//! relay, projector, worker and bot, for `tokenbot demo` and the end-to-end benchmarks. Only the
//! two outside services are fakes; Postgres and NATS are the real ones.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;
use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_openai::FakeOpenAi;
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::relay::{self, RelayConfig};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{Ledger, LogCursor, TelegramId};
use tokenbot_projections::live::{self, LiveConfig};
use tokenbot_projections::{LIVE_SCHEMA, Projection};
use tokenbot_worker::provider::openai::{OpenAiConfig, OpenAiImages};
use tokenbot_worker::results::ResultStore;
use tokenbot_worker::sweeper::Sweeper;
use tokenbot_worker::telegram::Courier;
use tokenbot_worker::{Runner, WorkerConfig};
use tokio::task::JoinSet;

pub struct SimOptions {
    pub worker_concurrency: usize,
    pub retry_delays: Vec<Duration>,
    pub admin_ids: Vec<TelegramId>,
    /// Durable consumer names get this prefix, so a run never shares consumers with a real
    /// deployment on the same NATS.
    pub consumer_prefix: String,
    /// Signed checkpoints published by the relay's sealer (None: none).
    pub checkpoints: Option<tokenbot_ledger::checkpoint::CheckpointSettings>,
}

pub struct SimSystem {
    pub ledger: Ledger,
    pub telegram: FakeTelegram,
    pub openai: FakeOpenAi,
    pub shutdown: Shutdown,
    pub projected: tokio::sync::watch::Receiver<LogCursor>,
    roles: JoinSet<anyhow::Result<()>>,
}

impl SimSystem {
    pub async fn start(
        ledger: Ledger,
        js: async_nats::jetstream::Context,
        bus: BusConfig,
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
        let shutdown = Shutdown::new();
        let mut roles = JoinSet::new();
        let bot = || teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(telegram.api_url());

        let relay = relay::run(
            ledger.store().clone(),
            js.clone(),
            bus.clone(),
            RelayConfig {
                checkpoints: options.checkpoints,
                ..Default::default()
            },
            shutdown.clone(),
            None,
        );
        roles.spawn(async move { Ok(relay.await?) });

        let (tx, projected) = tokio::sync::watch::channel(LogCursor::START);
        let observer: live::Observer = Arc::new(move |c, _| {
            let _ = tx.send(c);
        });
        let projector = live::run(
            ledger.store().database().pool().clone(),
            LIVE_SCHEMA.to_string(),
            Projection::ALL.to_vec(),
            js.clone(),
            LiveConfig {
                bus: bus.clone(),
                consumer: format!("{}projector", options.consumer_prefix),
                ..Default::default()
            },
            shutdown.clone(),
            Some(observer),
        );
        roles.spawn(async move { Ok(projector.await?) });

        let config = Arc::new(WorkerConfig {
            bus: bus.clone(),
            consumer: format!("{}worker", options.consumer_prefix),
            concurrency: options.worker_concurrency,
            retry_delays: options.retry_delays,
            lease: Duration::from_secs(60),
            ack_wait: Duration::from_secs(10),
            worker_id: "sim-worker".into(),
            ..Default::default()
        });
        let provider = OpenAiImages::new(OpenAiConfig {
            base_url: openai.url().to_string(),
            api_key: openai.api_key().to_string(),
            timeout: Duration::from_secs(30),
        })?;
        let runner = Arc::new(Runner::new(
            ledger.clone(),
            Arc::new(provider),
            Courier::new(bot(), config.max_source_bytes),
            ResultStore::new(ledger.store().database().pool().clone()),
            config.clone(),
        ));
        let sweeper = Sweeper::new(runner.clone(), ledger.clone(), config.clone());
        roles.spawn(sweeper.run(shutdown.clone()).map(Ok));
        let worker = tokenbot_worker::consumer::run(runner, js.clone(), config, shutdown.clone());
        roles.spawn(async move { Ok(worker.await?) });

        let app = App::new(
            bot(),
            ledger.clone(),
            BotConfig {
                admin_ids: options.admin_ids,
                ..Default::default()
            },
        );
        let polling = tokenbot_bot::polling::run(app, shutdown.clone());
        roles.spawn(async move { Ok(polling.await?) });

        Ok(SimSystem {
            ledger,
            telegram,
            openai,
            shutdown,
            projected,
            roles,
        })
    }

    /// Waits until every task requested since `since` is delivered or failed, woken by the
    /// ledger's notifications; returns (requested, finished).
    pub async fn wait_tasks_final(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        timeout: Duration,
    ) -> anyhow::Result<(i64, i64)> {
        let mut sub = Subscription::new(
            self.ledger.store().clone(),
            LogCursor::START,
            SubscriptionOptions::default(),
        )
        .await;
        let pool = self.ledger.store().database().pool().clone();
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

    /// Waits until the projector has applied everything committed so far.
    pub async fn wait_projected(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = self.ledger.store().database().pool().get().await?;
        let row = client
            .query_opt(
                "SELECT tx_id::text, position FROM ledger.events ORDER BY tx_id DESC, position DESC LIMIT 1",
                &[],
            )
            .await?;
        let Some(row) = row else { return Ok(()) };
        let target = LogCursor {
            tx_id: row.try_get::<_, String>(0)?.parse()?,
            position: row.try_get(1)?,
        };
        tokio::time::timeout(timeout, self.projected.wait_for(|c| *c >= target))
            .await
            .context("the projector did not catch up in time")?
            .context("the projector stopped")?;
        Ok(())
    }

    /// Stops every role and waits for them; returns the first error any of them had.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut outcome = Ok(());
        while let Some(done) = self.roles.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) if outcome.is_ok() => outcome = Err(e),
                Err(e) if outcome.is_ok() => outcome = Err(anyhow::anyhow!("a role panicked: {e}")),
                _ => {}
            }
        }
        outcome
    }
}
