//! Configuration: the variables clap reads ([`Environment`], listed with their defaults in
//! `--help`), validated into [`Settings`]. Names follow the original bot where it had them. Every
//! invalid value fails at start with a message naming the variable and what it expects. Secrets
//! are held as `secrecy` types and URLs as [`SecretUrl`], so neither `Debug` nor a message ever
//! shows one.

mod environment;
mod parse;
mod secret;

use std::time::Duration;

use secrecy::SecretString;
use tokenbot_ledger::LedgerConfig;

pub use environment::{
    DEFAULT_DATABASE_URL, DEFAULT_IMAGE_MODELS, DEFAULT_NATS_URL, DEFAULT_PRICE_TABLE, Environment,
};
pub use secret::{SecretUrl, redact};

/// Everything a tokenbot process is configured with, validated. Its `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DATABASE_URL: the runtime role's (or, alone, the owner's; see `startup`).
    pub database_url: SecretUrl,
    /// MIGRATION_DATABASE_URL: the owner's, for migrations and table swaps.
    pub migration_database_url: Option<SecretUrl>,
    /// READ_DATABASE_URL: a read replica for the read models' reads; None: DATABASE_URL's.
    pub read_database_url: Option<SecretUrl>,
    /// DATABASE_WRITER_PASSWORD: set on the writer role by `migrate`, and used when connecting
    /// as it with a URL derived from the owner's.
    pub writer_password: Option<SecretString>,
    /// DATABASE_READER_PASSWORD: the same for the reader role.
    pub reader_password: Option<SecretString>,
    /// DB_POOL_SIZE: pooled connections per process.
    pub db_pool_size: usize,
    /// The ledger's rules (INITIAL_TOKENS to IMAGE_MODELS).
    pub ledger: LedgerConfig,
    /// NATS_URL.
    pub nats_url: SecretUrl,
    /// JetStream stream name and subject prefix (`LEDGER`, `ledger`).
    pub bus: tokenbot_ledger::bus::BusConfig,
    /// Webhook, admin API, health and metrics.
    pub http_addr: std::net::SocketAddr,
    /// ADMIN_API_KEYS, plus ADMIN_API_KEY as the key named `default`; none: the admin API is
    /// off (its routes answer 404).
    pub admin_keys: tokenbot_api::auth::AdminKeys,
    /// Whether ADMIN_API_KEY (a plaintext key) is set: the start warns about it.
    pub admin_key_plaintext: bool,
    /// The Bot API side (bot and worker).
    pub telegram: TelegramSettings,
    /// The image provider.
    pub openai: OpenAiSettings,
    /// The image worker's pace.
    pub worker: WorkerSettings,
    /// Signed checkpoints.
    pub checkpoints: CheckpointEnv,
    /// Logging.
    pub log: LogSettings,
}

/// LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE, LEDGER_PUBLIC_KEY and the checkpoint pace.
#[derive(Debug, Clone)]
pub struct CheckpointEnv {
    /// None: the relay publishes no checkpoints (a warning says so at start).
    pub signer: Option<tokenbot_ledger::checkpoint::CheckpointSigner>,
    /// The key `ledger verify --checkpoints` trusts; defaults to the signer's public half.
    pub public_key: Option<tokenbot_ledger::checkpoint::PublicKey>,
    /// How often checkpoints are signed and how long they are kept.
    pub policy: tokenbot_ledger::checkpoint::CheckpointPolicy,
}

/// The Bot API side (bot and worker).
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// BOT_TOKEN; None: the bot and the worker cannot run (the demo brings its own fake).
    pub bot_token: Option<SecretString>,
    /// TELEGRAM_API_URL: a local Bot API server or a test double; default Telegram's.
    pub api_url: Option<reqwest::Url>,
    /// ADMIN_IDS.
    pub admin_ids: Vec<tokenbot_ledger::TelegramId>,
    /// WEBHOOK_URL and the rest of the webhook's variables; None: long polling.
    pub webhook: Option<WebhookSettings>,
    /// SUPPORT_CONTACT, shown in the guide.
    pub support_contact: String,
    /// TELEGRAM_LIMIT_OVERALL, TELEGRAM_LIMIT_CHAT, TELEGRAM_LIMIT_GROUP: what the bot and the
    /// worker of one process keep to, together.
    pub limits: tokenbot_telegram::Limits,
    /// TOKEN_PACKAGES: what the buy screen sells for Stars.
    pub packages: Vec<tokenbot_ledger::TokenPackage>,
}

/// WEBHOOK_URL + "/webhook", WEBHOOK_SECRET_TOKEN and the setWebhook retries.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where Telegram delivers updates.
    pub url: reqwest::Url,
    /// WEBHOOK_SECRET_TOKEN.
    pub secret: SecretString,
    /// WEBHOOK_MAX_RETRIES (at least 1).
    pub max_retries: u32,
    /// WEBHOOK_RETRY_DELAY_SECONDS.
    pub retry_delay: Duration,
    /// WEBHOOK_RETRY_BACKOFF.
    pub backoff: f64,
}

impl WebhookSettings {
    /// What the bot crate registers and checks the webhook with.
    pub fn config(&self) -> tokenbot_bot::webhook::WebhookConfig {
        use secrecy::ExposeSecret;
        tokenbot_bot::webhook::WebhookConfig {
            url: self.url.clone(),
            secret: self.secret.expose_secret().to_string(),
            max_retries: self.max_retries,
            retry_delay: self.retry_delay,
            backoff: self.backoff,
        }
    }
}

/// OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_TIMEOUT_S.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// None: the worker cannot run.
    pub api_key: Option<SecretString>,
    /// An OpenAI-compatible endpoint.
    pub base_url: String,
    /// One image request's limit.
    pub timeout: Duration,
}

/// WORKER_CONCURRENCY, TASK_RETRY_DELAYS_S, WORKER_ACK_WAIT_S, TASK_STALL_S.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Tasks one worker process runs at once.
    pub concurrency: usize,
    /// Pauses before attempts 2, 3, ...; the last repeats.
    pub retry_delays: Vec<Duration>,
    /// How soon JetStream hands a silent worker's task to another.
    pub ack_wait: Duration,
    /// How long a paid task may sit untouched before the sweeper takes it up.
    pub task_stall: Duration,
}

/// RUST_LOG / LOG_LEVEL and LOG_FORMAT, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter that parses.
    pub filter: String,
    /// JSON lines instead of text.
    pub json: bool,
}

impl Default for Settings {
    /// The documented defaults, whatever the environment holds (for tests and tools that build
    /// settings by hand).
    fn default() -> Self {
        Self::from_environment(&Environment::default())
            .unwrap_or_else(|e| unreachable!("the built-in defaults are valid: {e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::default();
        assert_eq!(s.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(s.nats_url.expose(), DEFAULT_NATS_URL);
        assert_eq!(s.db_pool_size, 16);
        assert!(s.read_database_url.is_none(), "reads go to DATABASE_URL");
        assert_eq!(s.bus.stream, "LEDGER");
        assert_eq!(s.http_addr.to_string(), "0.0.0.0:8000");
        assert_eq!(s.worker.concurrency, 8);
        assert_eq!(s.worker.task_stall, Duration::from_secs(120));
        assert_eq!(s.openai.timeout, Duration::from_secs(120));
        assert_eq!(s.telegram.support_contact, "@support_bot");
        assert_eq!(s.telegram.limits, tokenbot_telegram::Limits::TELEGRAM);
        let seed = LedgerConfig::seed_default();
        assert_eq!(s.ledger.initial_grant, seed.initial_grant);
        assert_eq!(s.ledger.max_grant, seed.max_grant);
        assert_eq!(s.ledger.models, seed.models);
        assert_eq!(s.log.filter, "warn");
        assert!(!s.log.json);
    }

    #[test]
    fn debug_shows_no_secret() {
        let secret = |s: &str| Some(s.to_string());
        let env = Environment {
            database_url: secret("postgres://owner:pg-pass-1@db/t"),
            migration_database_url: secret("postgres://owner:pg-pass-2@db/t"),
            read_database_url: secret("postgres://reader:pg-pass-10@replica/t"),
            database_writer_password: secret("writer-pass-3"),
            database_reader_password: secret("reader-pass-4"),
            nats_url: secret("nats://n:nats-pass-5@nats:4222"),
            admin_api_key: secret("admin-key-6-xxxxxxxx"),
            admin_api_keys: secret(&format!("alice:{}", "cd".repeat(32))),
            bot_token: secret("123:bot-token-7"),
            openai_api_key: secret("sk-openai-8"),
            webhook_url: secret("https://bot.example.com"),
            webhook_secret_token: secret("webhook-secret-9"),
            ledger_signing_key: secret(&"ab".repeat(32)),
            ..Environment::default()
        };
        let s = Settings::from_environment(&env).expect("valid");
        let shown = format!("{s:?}");
        for needle in [
            "pg-pass-1",
            "pg-pass-2",
            "writer-pass-3",
            "reader-pass-4",
            "nats-pass-5",
            "admin-key-6",
            "bot-token-7",
            "sk-openai-8",
            "webhook-secret-9",
            "pg-pass-10",
            &"ab".repeat(32),
        ] {
            assert!(!shown.contains(needle), "Debug shows {needle}: {shown}");
        }
        assert_eq!(s.database_url.expose(), "postgres://owner:pg-pass-1@db/t");
        let webhook = s.telegram.webhook.expect("webhook");
        assert_eq!(webhook.secret.expose_secret(), "webhook-secret-9");
    }
}
