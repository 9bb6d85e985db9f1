//! The one composition of the system: [`System::builder`] takes the [`Settings`], is told which
//! roles to run (relay, projector, worker with its sweeper, bot, HTTP API, the open-task
//! monitor), and [`SystemBuilder::start`] connects (migrating as the owner, running as
//! `tokenbot_writer`; see [`crate::startup`]) and spawns them, returning a [`SystemHandle`] with
//! `shutdown()` and `join()`. `tokenbot up`, each single role, the demo, the benchmarks and the
//! end-to-end tests all start the system here; what differs between them is options, not wiring.
//!
//! ```no_run
//! # async fn up(settings: tokenbot::configuration::Settings) -> anyhow::Result<()> {
//! use tokenbot::system::System;
//! let system = System::builder(settings)
//!     .relay()
//!     .projector()
//!     .worker()
//!     .bot()
//!     .api()
//!     .stop_on_signal()
//!     .start()
//!     .await?;
//! system.join().await
//! # }
//! ```

mod handle;
pub mod parts;
mod roles;

use tokenbot_bot::BotConfig;
use tokenbot_ledger::Ledger;
use tokenbot_ledger::relay::RelayConfig;
use tokenbot_projections::live::{LiveConfig, Observer};
use tokenbot_worker::WorkerConfig;

use crate::configuration::Settings;
use crate::startup;

pub use handle::{SystemHandle, last_committed};
use roles::{Http, Selection};

/// The entry point: `System::builder(settings)`.
pub struct System;

impl System {
    /// A builder running nothing yet, configured by `settings`.
    pub fn builder(settings: Settings) -> SystemBuilder {
        SystemBuilder {
            settings,
            ledger: None,
            jetstream: None,
            read_pool: None,
            roles: Selection::default(),
            stop_on_signal: false,
        }
    }
}

/// What to run, and on what. Every role's configuration defaults to what the settings say
/// (`relay()`, `projector()`, ...); the `_with` variants take an explicit one (a demo's
/// consumer names, a test's short leases). The stream and subjects are always the settings'
/// (`NATS_STREAM`, `NATS_SUBJECT_PREFIX`).
#[must_use = "a builder does nothing until `start`"]
pub struct SystemBuilder {
    settings: Settings,
    ledger: Option<Ledger>,
    jetstream: Option<async_nats::jetstream::Context>,
    read_pool: Option<deadpool_postgres::Pool>,
    roles: Selection,
    stop_on_signal: bool,
}

impl SystemBuilder {
    /// Runs on this ledger (already migrated) instead of connecting with the settings' URLs.
    pub fn ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Uses this JetStream connection instead of connecting to `NATS_URL`.
    pub fn jetstream(mut self, js: async_nats::jetstream::Context) -> Self {
        self.jetstream = Some(js);
        self
    }

    /// The admin API reads the read models from `pool` instead of `READ_DATABASE_URL`'s (or,
    /// without it, the ledger's).
    pub fn read_pool(mut self, pool: deadpool_postgres::Pool) -> Self {
        self.read_pool = Some(pool);
        self
    }

    /// The relay, signing checkpoints when `LEDGER_SIGNING_KEY` is set.
    pub fn relay(self) -> Self {
        let config = parts::relay_config(&self.settings);
        self.relay_with(config)
    }

    /// The relay, configured by `config`.
    pub fn relay_with(mut self, config: RelayConfig) -> Self {
        self.roles.relay = Some(config);
        self
    }

    /// The live projector on the durable consumer `projector`.
    pub fn projector(self) -> Self {
        let config = parts::live_config(&self.settings);
        self.projector_with(config)
    }

    /// The live projector, configured by `config`.
    pub fn projector_with(mut self, config: LiveConfig) -> Self {
        self.roles.projector = Some(config);
        self
    }

    /// Also tells `observer` about every batch the projector applies (the handle's
    /// `projected()` is told anyway).
    pub fn observe_projector(mut self, observer: Observer) -> Self {
        self.roles.projector_observer = Some(observer);
        self
    }

    /// The image worker and its sweeper, paced by the settings; OpenAI and Telegram from the
    /// settings (`OPENAI_*`, `BOT_TOKEN`, `TELEGRAM_API_URL`). Also measures open tasks.
    pub fn worker(self) -> Self {
        let config = parts::worker_config(&self.settings);
        self.worker_with(config)
    }

    /// The image worker and its sweeper, configured by `config`.
    pub fn worker_with(mut self, config: WorkerConfig) -> Self {
        self.roles.worker = Some(config);
        self.roles.open_task_age = true;
        self
    }

    /// The Telegram bot (`ADMIN_IDS`, `SUPPORT_CONTACT`): a webhook on the HTTP server when
    /// `WEBHOOK_URL` is set (which then also serves HTTP), else long polling.
    pub fn bot(self) -> Self {
        let config = parts::bot_config(&self.settings);
        self.bot_with(config)
    }

    /// The Telegram bot, configured by `config`.
    pub fn bot_with(mut self, config: BotConfig) -> Self {
        if self.settings.telegram.webhook.is_some() {
            self.roles.http.get_or_insert(Http { admin: false });
        }
        self.roles.bot = Some(config);
        self
    }

    /// The HTTP server on `HTTP_ADDR` with the admin API (`ADMIN_API_KEY`); its read endpoints
    /// read the read models from `READ_DATABASE_URL` when that is set.
    pub fn api(mut self) -> Self {
        self.roles.http = Some(Http { admin: true });
        self
    }

    /// The HTTP server on `HTTP_ADDR` with `/health`, `/metrics` and `/openapi.json` only
    /// (what every role of a deployment serves).
    pub fn http(mut self) -> Self {
        self.roles.http.get_or_insert(Http { admin: false });
        self
    }

    /// Measures the oldest open task's age (a gauge, and `/health` reports `degraded` past the
    /// bound), with or without a worker in this process.
    pub fn open_task_age(mut self) -> Self {
        self.roles.open_task_age = true;
        self
    }

    /// Ctrl-C or SIGTERM shuts the system down (work in hand finishes).
    pub fn stop_on_signal(mut self) -> Self {
        self.stop_on_signal = true;
        self
    }

    /// The settings the roles will run with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Connects (unless given a ledger and a JetStream connection), prepares every role
    /// (building clients, registering the webhook, binding the HTTP address) and only then
    /// starts them all, so a role that cannot start leaves nothing running.
    pub async fn start(self) -> anyhow::Result<SystemHandle> {
        let ledger = match self.ledger.clone() {
            Some(ledger) => ledger,
            None => startup::ledger(&self.settings).await?,
        };
        let js = match self.jetstream.clone() {
            Some(js) => js,
            None => startup::jetstream(&self.settings).await?,
        };
        // Only the admin API reads from the replica; other roles never connect to it.
        let read_pool = match self.read_pool.clone() {
            Some(pool) => Some(pool),
            None if self.roles.serves_admin() => startup::read_pool(&self.settings).await?,
            None => None,
        };
        let prepared = roles::prepare(&self.settings, &self.roles, ledger, js, read_pool).await?;
        if self.stop_on_signal {
            startup::cancel_on_signal(prepared.shutdown.clone());
        }
        Ok(SystemHandle::spawn(prepared))
    }
}
