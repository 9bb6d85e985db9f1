//! The deployment under test: a NATS cluster on loopback, every role as OS processes of the
//! real `tokenbot` binary (several of each), the webhook bots behind a round-robin proxy, and
//! in-process fakes of Telegram and OpenAI. The scenario and the throughput phases start what
//! they need of it and kill and restart its parts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokenbot_fake_openai::FakeOpenAi;
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::{Database, EventStore, Ledger, LedgerConfig};
use tokenbot_testkit::{NatsCluster, RoleProcess, RoundRobin, free_port};

/// The secret token the bots register their webhook with (what Telegram sends back).
pub const WEBHOOK_SECRET: &str = "scale-webhook-secret";

/// The timers the role processes run with, short so that the bounds derived from them stay
/// small; each becomes the environment variable of the same meaning.
#[derive(Debug, Clone)]
pub struct Timers {
    /// OPENAI_TIMEOUT_S (a task's lease is this + 60 s).
    pub openai_timeout_s: u64,
    /// TASK_RETRY_DELAYS_S.
    pub retry_delays_s: Vec<f64>,
    /// WORKER_ACK_WAIT_S.
    pub worker_ack_wait_s: u64,
    /// TASK_STALL_S.
    pub task_stall_s: u64,
    /// TASK_MAX_ATTEMPTS.
    pub task_max_attempts: u32,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            openai_timeout_s: 5,
            retry_delays_s: vec![0.5],
            worker_ack_wait_s: 5,
            task_stall_s: 10,
            task_max_attempts: 3,
        }
    }
}

impl Timers {
    /// The worker's configuration as the processes derive it from these settings (the same
    /// function `tokenbot worker` uses), for the bounds.
    pub fn worker_config(&self) -> tokenbot_worker::WorkerConfig {
        tokenbot_worker::WorkerConfig {
            retry_delays: self
                .retry_delays_s
                .iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect(),
            lease: Duration::from_secs(self.openai_timeout_s) + Duration::from_secs(60),
            ack_wait: Duration::from_secs(self.worker_ack_wait_s),
            task_stall: Duration::from_secs(self.task_stall_s),
            ..Default::default()
        }
    }
}

/// What the fleet is started from.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The `tokenbot` binary the role processes run.
    pub binary: PathBuf,
    /// The owner's URL of a database of its own (migrated here).
    pub database_url: String,
    /// NATS nodes.
    pub nodes: usize,
    /// WORKER_CONCURRENCY of each worker process.
    pub worker_concurrency: usize,
    /// How long the fake OpenAI takes per image.
    pub provider_latency: Duration,
    /// The role processes' timers.
    pub timers: Timers,
    /// DB_POOL_SIZE of each process: many processes share one Postgres (100 connections by
    /// default).
    pub db_pool_size: usize,
}

/// The running deployment. Dropping it kills every process and node.
pub struct Fleet {
    /// The NATS nodes.
    pub cluster: NatsCluster,
    /// Relay processes (one leads).
    pub relays: Vec<RoleProcess>,
    /// Worker processes.
    pub workers: Vec<RoleProcess>,
    /// Projector processes.
    pub projectors: Vec<RoleProcess>,
    /// Webhook bot processes, behind [`Fleet::proxy`].
    pub bots: Vec<RoleProcess>,
    /// The round-robin proxy Telegram posts updates to (None until bots are started).
    pub proxy: Option<RoundRobin>,
    /// The fake Bot API the bots and the workers talk to.
    pub telegram: Arc<FakeTelegram>,
    /// The fake OpenAI the workers talk to.
    pub openai: FakeOpenAi,
    /// The ledger on the same database, for requests and checks from this process.
    pub ledger: Ledger,
    /// JetStream on the cluster.
    pub js: async_nats::jetstream::Context,
    /// The stream and subjects the processes use.
    pub bus: BusConfig,
    options: FleetOptions,
}

impl Fleet {
    /// Starts the cluster, migrates the database and starts the fakes; no role yet.
    pub async fn start(options: FleetOptions) -> anyhow::Result<Fleet> {
        let cluster = NatsCluster::start(options.nodes).await;
        let db = Database::connect(&options.database_url, 8).await?;
        tokenbot_ledger::migrations::migrate(&db).await?;
        let mut config = LedgerConfig::seed_default();
        config.max_tasks_per_hour = 0;
        let ledger = Ledger::new(EventStore::new(db), config);
        let telegram = FakeTelegram::start()
            .await
            .context("cannot start the fake Telegram Bot API")?;
        let openai = FakeOpenAi::start()
            .await
            .context("cannot start the fake OpenAI API")?;
        openai.set_latency(options.provider_latency);
        let client = async_nats::ConnectOptions::new()
            .name("tokenbot-scale")
            .connect(crate::startup::nats_servers(&cluster.url())?)
            .await?;
        let bus = BusConfig {
            stream: "SCALE_LEDGER".into(),
            subject_prefix: "scale.ledger".into(),
            replicas: options.nodes.min(5),
            ..Default::default()
        };
        Ok(Fleet {
            cluster,
            relays: Vec::new(),
            workers: Vec::new(),
            projectors: Vec::new(),
            bots: Vec::new(),
            proxy: None,
            telegram: Arc::new(telegram),
            openai,
            ledger,
            js: async_nats::jetstream::new(client),
            bus,
            options,
        })
    }

    /// The environment every role process gets.
    fn env(&self) -> Vec<(String, String)> {
        let t = &self.options.timers;
        let delays: Vec<String> = t.retry_delays_s.iter().map(f64::to_string).collect();
        [
            ("DATABASE_URL", self.options.database_url.clone()),
            ("DB_POOL_SIZE", self.options.db_pool_size.to_string()),
            ("NATS_URL", self.cluster.url()),
            ("NATS_STREAM", self.bus.stream.clone()),
            ("NATS_SUBJECT_PREFIX", self.bus.subject_prefix.clone()),
            ("NATS_STREAM_REPLICAS", self.bus.replicas.to_string()),
            ("MAX_TASKS_PER_USER_PER_HOUR", "0".into()),
            ("BOT_TOKEN", FakeTelegram::TOKEN.into()),
            ("TELEGRAM_API_URL", self.telegram.api_url().to_string()),
            ("TELEGRAM_LIMIT_OVERALL", "off".into()),
            ("TELEGRAM_LIMIT_CHAT", "off".into()),
            ("TELEGRAM_LIMIT_GROUP", "off".into()),
            ("OPENAI_API_KEY", self.openai.api_key().into()),
            ("OPENAI_BASE_URL", self.openai.url().into()),
            ("OPENAI_TIMEOUT_S", t.openai_timeout_s.to_string()),
            (
                "WORKER_CONCURRENCY",
                self.options.worker_concurrency.to_string(),
            ),
            ("TASK_RETRY_DELAYS_S", delays.join(",")),
            ("WORKER_ACK_WAIT_S", t.worker_ack_wait_s.to_string()),
            ("TASK_STALL_S", t.task_stall_s.to_string()),
            ("TASK_MAX_ATTEMPTS", t.task_max_attempts.to_string()),
            ("LOG_LEVEL", "info".into()),
            ("LOG_FORMAT", "text".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    async fn spawn(&self, role: &str, n: usize) -> RoleProcess {
        let name = format!("{role}{n}");
        RoleProcess::start(&name, &self.options.binary, role, self.env()).await
    }

    /// Starts `n` relays one after another, the first as the leader (the next ones wait on its
    /// lock), and waits until the leader created the stream.
    pub async fn start_relays(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            let p = self.spawn("relay", self.relays.len() + 1).await;
            self.relays.push(p);
        }
        let deadline = Duration::from_secs(60);
        tokio::time::timeout(deadline, async {
            // The leader creates the stream when it takes the lead; there is no event to await
            // from another process, so poll.
            while self.js.get_stream(&self.bus.stream).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .context("no relay created the stream within 60 s")
    }

    /// Starts `n` more worker processes.
    pub async fn start_workers(&mut self, n: usize) {
        for _ in 0..n {
            let p = self.spawn("worker", self.workers.len() + 1).await;
            self.workers.push(p);
        }
    }

    /// Starts `n` more projector processes.
    pub async fn start_projectors(&mut self, n: usize) {
        for _ in 0..n {
            let p = self.spawn("projector", self.projectors.len() + 1).await;
            self.projectors.push(p);
        }
    }

    /// Starts `n` webhook bots behind a new round-robin proxy (replacing the bots before).
    pub async fn start_bots(&mut self, n: usize) {
        self.bots.clear();
        let addrs: Vec<_> = (0..n)
            .map(|_| std::net::SocketAddr::from(([127, 0, 0, 1], free_port())))
            .collect();
        let proxy = RoundRobin::start(addrs.clone()).await;
        let mut env = self.env();
        env.push(("WEBHOOK_URL".into(), proxy.url()));
        env.push(("WEBHOOK_SECRET_TOKEN".into(), WEBHOOK_SECRET.into()));
        for (i, addr) in addrs.into_iter().enumerate() {
            let name = format!("bot{}", i + 1);
            let p =
                RoleProcess::start_at(&name, &self.options.binary, "bot", addr, env.clone()).await;
            self.bots.push(p);
        }
        self.proxy = Some(proxy);
    }

    /// The proxy's webhook URL (`…/webhook`).
    pub fn webhook_url(&self) -> Option<String> {
        self.proxy.as_ref().map(|p| format!("{}/webhook", p.url()))
    }

    /// The parts the faults act on, and the fake Telegram the users go on talking to meanwhile.
    pub fn split(&mut self) -> (super::faults::Targets<'_>, &FakeTelegram) {
        let targets = super::faults::Targets {
            cluster: &mut self.cluster,
            relays: &mut self.relays,
            workers: &mut self.workers,
            projectors: &mut self.projectors,
            bots: &mut self.bots,
            ledger: &self.ledger,
        };
        (targets, &*self.telegram)
    }

    /// Where each role process logs, for a failure message.
    pub fn logs(&self) -> Vec<String> {
        [&self.relays, &self.workers, &self.projectors, &self.bots]
            .into_iter()
            .flatten()
            .map(|p| format!("{}: {}", p.name(), p.log().display()))
            .collect()
    }
}
