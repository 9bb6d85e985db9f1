//! The whole back end of a task in one test, started by the library's [`System`] like every
//! other composition: a ledger on its own database, the relay publishing to its own JetStream
//! stream, the projector, and the two fakes for what lives outside (OpenAI and the Telegram Bot
//! API). What tests add on top: short retry pauses and leases, and workers and sweepers they
//! start, kill and restart themselves.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokenbot::configuration::{OpenAiSettings, SecretUrl, Settings, TelegramSettings};
use tokenbot::system::{System, parts};
use tokenbot_fake_openai::FakeOpenAi;
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::relay::RelayConfig;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{
    Event, Ledger, LogCursor, StreamId, StreamVersion, Task, TaskId, TelegramId,
};
use tokenbot_projections::live::LiveConfig;
use tokenbot_testkit::TestNats;
use tokenbot_worker::sweeper::{Sweeper, SweeperStatus};
use tokenbot_worker::{Runner, WorkerConfig};

use super::TestLedger;

/// How long the workers the tests start wait for one OpenAI call.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Pipeline {
    pub t: TestLedger,
    /// Names on NATS (stream, subjects, consumers) are this test's alone.
    pub prefix: String,
    pub js: async_nats::jetstream::Context,
    pub bus: BusConfig,
    pub openai: FakeOpenAi,
    pub telegram: FakeTelegram,
    /// The system's shutdown signal (cancelled when the pipeline is dropped).
    pub shutdown: Shutdown,
    pub projected: tokio::sync::watch::Receiver<LogCursor>,
    /// The relay's checkpoint: the last event JetStream acknowledged.
    pub relayed: tokio::sync::watch::Receiver<LogCursor>,
    /// This test's stream, NATS server and fakes, as a deployment would configure them.
    pub settings: Settings,
}

pub async fn jetstream(url: &str) -> async_nats::jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .expect("connect to NATS");
    async_nats::jetstream::new(client)
}

/// Settings for a test: its own stream and subjects, and the fakes as Telegram and OpenAI.
pub fn test_settings(
    nats_url: &str,
    prefix: &str,
    openai: &FakeOpenAi,
    telegram: &FakeTelegram,
) -> Settings {
    let defaults = Settings::default();
    Settings {
        nats_url: SecretUrl::new(nats_url),
        bus: BusConfig::prefixed(prefix),
        telegram: TelegramSettings {
            bot_token: Some(SecretString::from(FakeTelegram::TOKEN)),
            api_url: Some(telegram.api_url()),
            // The fake enforces none unless a test asks it to.
            limits: tokenbot_telegram::Limits::NONE,
            ..defaults.telegram
        },
        openai: OpenAiSettings {
            api_key: Some(SecretString::from(openai.api_key())),
            base_url: openai.url().to_string(),
            ..defaults.openai
        },
        ..defaults
    }
}

impl Pipeline {
    /// Ledger, relay, projector and the fakes; workers are started by the test.
    pub async fn start(t: TestLedger) -> Pipeline {
        let nats = TestNats::start().await;
        Self::start_on(t, nats.url(), nats.prefix()).await
    }

    /// The same on a given NATS server (a private one a test may stop and start).
    pub async fn start_on(t: TestLedger, nats_url: &str, prefix: &str) -> Pipeline {
        let js = jetstream(nats_url).await;
        let openai = FakeOpenAi::start().await.expect("fake OpenAI");
        let telegram = FakeTelegram::start().await.expect("fake Telegram");
        let settings = test_settings(nats_url, prefix, &openai, &telegram);
        let system = System::builder(settings.clone())
            .ledger(t.ledger.clone())
            .jetstream(js.clone())
            .relay_with(RelayConfig {
                retry_min: Duration::from_millis(20),
                retry_max: Duration::from_millis(200),
                ..Default::default()
            })
            .projector_with(LiveConfig {
                consumer: format!("{prefix}_projector"),
                ..parts::live_config(&settings)
            })
            .start()
            .await
            .expect("start the system");
        let (shutdown, projected, relayed) = (
            system.shutdown_signal(),
            system.projected(),
            system.relayed(),
        );
        tokio::spawn(async move {
            // A test waiting on the projector then fails with this reason in its output.
            if let Err(e) = system.join().await {
                eprintln!("the system stopped with an error: {e:?}");
            }
        });
        Pipeline {
            t,
            prefix: prefix.to_string(),
            bus: settings.bus.clone(),
            js,
            openai,
            telegram,
            shutdown,
            projected,
            relayed,
            settings,
        }
    }

    /// Short delays so that retries and lease take-overs happen within a test.
    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            bus: self.bus.clone(),
            consumer: format!("{}_worker", self.prefix),
            concurrency: 8,
            retry_delays: vec![Duration::from_millis(50), Duration::from_millis(100)],
            lease: Duration::from_secs(3),
            ack_wait: Duration::from_secs(1),
            max_source_bytes: 1024 * 1024,
            max_delivery_attempts: 3,
            worker_id: "test-worker".into(),
            task_stall: Duration::from_secs(1),
        }
    }

    pub fn bot(&self) -> teloxide::Bot {
        parts::telegram_bot(&self.settings, "test").expect("the fake's token")
    }

    /// A worker's runner on this test's ledger and fakes, each OpenAI call limited to
    /// `provider_timeout`.
    pub fn runner(&self, config: &Arc<WorkerConfig>, provider_timeout: Duration) -> Arc<Runner> {
        let mut settings = self.settings.clone();
        settings.openai.timeout = provider_timeout;
        parts::worker_runner(&settings, &self.t.ledger, config.clone()).expect("runner")
    }

    /// Starts a worker; abort the handle to kill it (in-flight work dies with it).
    pub fn spawn_worker(
        &self,
        config: WorkerConfig,
        shutdown: Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let config = Arc::new(config);
        let runner = self.runner(&config, PROVIDER_TIMEOUT);
        let js = self.js.clone();
        tokio::spawn(async move {
            tokenbot_worker::consumer::run(runner, js, config, shutdown)
                .await
                .expect("worker");
        })
    }

    /// Opens an account for `owner` with 1000 tokens and requests a low-quality task for it.
    pub async fn request(&self, owner: i64, prompt: &str) -> TaskId {
        let u = super::user(owner);
        super::open_with(&self.t.ledger, u, 1000).await;
        self.t
            .ledger
            .request_task(&super::ctx(u), super::low_task(u, prompt))
            .await
            .expect("request")
            .value
            .task_id
    }

    /// Starts a sweeper (the worker's backstop) on this ledger; abort the handle to kill it (its
    /// lock connection closes with it).
    pub fn spawn_sweeper(
        &self,
        config: WorkerConfig,
        shutdown: Shutdown,
    ) -> (
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Receiver<SweeperStatus>,
    ) {
        let config = Arc::new(config);
        let runner = self.runner(&config, PROVIDER_TIMEOUT);
        let sweeper = Sweeper::new(runner, self.t.ledger.clone(), config);
        let status = sweeper.status();
        (tokio::spawn(sweeper.run(shutdown)), status)
    }

    /// Waits for the task to reach a final state, following the ledger (no polling loop).
    pub async fn final_state(&self, task: TaskId) -> Task {
        final_task(&self.t.ledger, task).await
    }

    /// The event types of a task's stream, in order.
    pub async fn task_events(&self, task: TaskId) -> Vec<String> {
        self.t
            .ledger
            .store()
            .read_stream(&StreamId::task(task), StreamVersion(1), 1000)
            .await
            .expect("read stream")
            .into_iter()
            .map(|e| e.event.event_type().to_string())
            .collect()
    }

    /// Texts the bot sent or edited into a chat, oldest first.
    pub fn bot_texts(&self, chat: i64) -> Vec<String> {
        self.telegram
            .chat(chat)
            .into_iter()
            .filter(|m| m.from_bot)
            .filter_map(|m| m.text)
            .collect()
    }

    /// Refund events of a task on its owner's account.
    pub async fn refunds_of(&self, task: TaskId, owner: TelegramId) -> usize {
        self.t
            .ledger
            .store()
            .read_stream(&StreamId::account(owner), StreamVersion(1), 100_000)
            .await
            .expect("read account")
            .into_iter()
            .filter(|e| matches!(&e.event, Event::TokensRefunded(r) if r.task_id == task))
            .count()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits for the task to reach a final state, following the log of `ledger` (no polling loop).
pub async fn final_task(ledger: &Ledger, task: TaskId) -> Task {
    let stream = StreamId::task(task);
    let mut sub = Subscription::new(
        ledger.store().clone(),
        LogCursor::START,
        SubscriptionOptions::default(),
    )
    .await;
    let wait = async {
        loop {
            let batch = sub.next_batch().await.expect("read the log");
            let done = batch.iter().any(|e| {
                e.stream_id == stream
                    && matches!(e.event_type.as_str(), "TaskDelivered" | "TaskFailed")
            });
            if done {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("task {task} did not finish within 60 s"));
    let t = ledger
        .task(task)
        .await
        .expect("read task")
        .expect("task exists");
    assert!(t.status.is_final());
    t
}
