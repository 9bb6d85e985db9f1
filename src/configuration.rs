//! Configuration from the environment. Names follow the original bot where it had them.
//! Every invalid value fails at start with a message naming the variable and what it expects.

use std::env;

use anyhow::{Context, bail};
use tokenbot_ledger::{LedgerConfig, ModelId, PriceTable, Tokens};

/// Where the ledger lives, unless DATABASE_URL says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tokenbot";

/// Where NATS is, unless NATS_URL says otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

#[derive(Debug, Clone)]
pub struct Settings {
    /// DATABASE_URL: the runtime role's (or, alone, the owner's; see `startup`).
    pub database_url: String,
    /// MIGRATION_DATABASE_URL: the owner's, for migrations and table swaps.
    pub migration_database_url: Option<String>,
    /// DATABASE_WRITER_PASSWORD / DATABASE_READER_PASSWORD: set on the runtime roles by
    /// `migrate`, and used when connecting as them with a URL derived from the owner's.
    pub writer_password: Option<String>,
    pub reader_password: Option<String>,
    pub db_pool_size: usize,
    pub ledger: LedgerConfig,
    pub nats_url: String,
    /// JetStream stream name and subject prefix (`LEDGER`, `ledger`).
    pub bus: tokenbot_ledger::bus::BusConfig,
    /// Webhook, admin API, health and metrics.
    pub http_addr: std::net::SocketAddr,
    /// None: the admin API is off (its routes answer 404).
    pub admin_api_key: Option<String>,
    pub telegram: TelegramSettings,
    pub openai: OpenAiSettings,
    pub worker: WorkerSettings,
    pub checkpoints: CheckpointEnv,
}

/// LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE, LEDGER_PUBLIC_KEY and the checkpoint pace.
#[derive(Debug, Clone)]
pub struct CheckpointEnv {
    /// None: the relay publishes no checkpoints (a warning says so at start).
    pub signer: Option<tokenbot_ledger::checkpoint::CheckpointSigner>,
    /// The key `ledger verify --checkpoints` trusts; defaults to the signer's public half.
    pub public_key: Option<tokenbot_ledger::checkpoint::PublicKey>,
    pub policy: tokenbot_ledger::checkpoint::CheckpointPolicy,
}

fn checkpoint_env() -> anyhow::Result<CheckpointEnv> {
    use tokenbot_ledger::checkpoint::{CheckpointPolicy, CheckpointSigner, PublicKey};
    let signer = match (var("LEDGER_SIGNING_KEY"), var("LEDGER_SIGNING_KEY_FILE")) {
        (Some(_), Some(_)) => {
            bail!("LEDGER_SIGNING_KEY and LEDGER_SIGNING_KEY_FILE are both set: use one")
        }
        (Some(hex), None) => Some(
            CheckpointSigner::from_hex(&hex)
                .map_err(|e| anyhow::anyhow!("LEDGER_SIGNING_KEY: {e}"))?,
        ),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("LEDGER_SIGNING_KEY_FILE={path:?} cannot be read"))?;
            Some(
                CheckpointSigner::from_hex(&text)
                    .map_err(|e| anyhow::anyhow!("LEDGER_SIGNING_KEY_FILE={path:?}: {e}"))?,
            )
        }
        (None, None) => None,
    };
    let public_key = match var("LEDGER_PUBLIC_KEY") {
        Some(hex) => {
            Some(PublicKey::from_hex(&hex).map_err(|e| anyhow::anyhow!("LEDGER_PUBLIC_KEY: {e}"))?)
        }
        None => signer.as_ref().map(|s| s.public_key()),
    };
    let mut policy = CheckpointPolicy::default();
    if let Some(n) = parse_var::<u64>(
        "LEDGER_CHECKPOINT_EVERY_EVENTS",
        "a whole number of events, 1..=10000000",
    )? {
        if !(1..=10_000_000).contains(&n) {
            bail!("LEDGER_CHECKPOINT_EVERY_EVENTS={n} is invalid: expected 1..=10000000");
        }
        policy.every_events = n;
    }
    if let Some(s) = parse_var::<f64>("LEDGER_CHECKPOINT_EVERY_S", "seconds, 0.1..=86400")? {
        if !(0.1..=86_400.0).contains(&s) {
            bail!("LEDGER_CHECKPOINT_EVERY_S={s} is invalid: expected 0.1..=86400");
        }
        policy.every = std::time::Duration::from_secs_f64(s);
    }
    if let Some(days) = parse_var::<u64>(
        "LEDGER_CHECKPOINT_RETENTION_DAYS",
        "whole days, 1..=36500 (unset: for ever)",
    )? {
        if !(1..=36_500).contains(&days) {
            bail!(
                "LEDGER_CHECKPOINT_RETENTION_DAYS={days} is invalid: expected 1..=36500 (unset: for ever)"
            );
        }
        policy.max_age = Some(std::time::Duration::from_secs(days * 86_400));
    }
    Ok(CheckpointEnv {
        signer,
        public_key,
        policy,
    })
}

/// The Bot API side (bot and worker).
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// BOT_TOKEN; None: the bot and the worker cannot run (the demo brings its own fake).
    pub bot_token: Option<String>,
    /// TELEGRAM_API_URL: a local Bot API server or a test double; default Telegram's.
    pub api_url: Option<reqwest::Url>,
    /// ADMIN_IDS.
    pub admin_ids: Vec<tokenbot_ledger::TelegramId>,
    /// WEBHOOK_URL + "/webhook" and WEBHOOK_SECRET_TOKEN; None: long polling.
    pub webhook: Option<tokenbot_bot::webhook::WebhookConfig>,
    /// SUPPORT_CONTACT, shown in the guide.
    pub support_contact: String,
}

/// OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_TIMEOUT_S.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Option<String>,
    pub base_url: String,
    pub timeout: std::time::Duration,
}

/// WORKER_CONCURRENCY, TASK_RETRY_DELAYS_S, WORKER_ACK_WAIT_S, TASK_STALL_S.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub retry_delays: Vec<std::time::Duration>,
    pub ack_wait: std::time::Duration,
    /// How long a paid task may sit untouched before the sweeper takes it up.
    pub task_stall: std::time::Duration,
}

fn parse_admin_ids(raw: &str) -> anyhow::Result<Vec<tokenbot_ledger::TelegramId>> {
    // The original silently emptied the whole list when one entry was bad (locking every admin
    // out); here the bad entry is named.
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<i64>()
                .ok()
                .and_then(|id| tokenbot_ledger::TelegramId::new(id).ok())
                .with_context(|| {
                    format!("ADMIN_IDS entry {p:?} is not a Telegram user id (expected comma-separated positive integers)")
                })
        })
        .collect()
}

fn telegram_settings() -> anyhow::Result<TelegramSettings> {
    let bot_token = var("BOT_TOKEN");
    let api_url = match var("TELEGRAM_API_URL") {
        None => None,
        Some(raw) => {
            let with_slash = if raw.ends_with('/') {
                raw.clone()
            } else {
                format!("{raw}/")
            };
            Some(reqwest::Url::parse(&with_slash).with_context(|| {
                format!("TELEGRAM_API_URL={raw:?} is not a URL (e.g. http://127.0.0.1:8081)")
            })?)
        }
    };
    let admin_ids = match var("ADMIN_IDS") {
        None => Vec::new(),
        Some(raw) => parse_admin_ids(&raw)?,
    };
    let webhook = match var("WEBHOOK_URL") {
        None => None,
        Some(base) => {
            let secret = var("WEBHOOK_SECRET_TOKEN").context(
                "WEBHOOK_URL is set but WEBHOOK_SECRET_TOKEN is not: a webhook without a secret accepts forged updates; set 1-256 characters of A-Z a-z 0-9 _ -",
            )?;
            if !tokenbot_bot::webhook::valid_secret(&secret) {
                bail!("WEBHOOK_SECRET_TOKEN is invalid: use 1-256 characters of A-Z a-z 0-9 _ -");
            }
            let url = reqwest::Url::parse(&format!("{}/webhook", base.trim_end_matches('/')))
                .with_context(|| {
                    format!("WEBHOOK_URL={base:?} is not a URL (e.g. https://bot.example.com)")
                })?;
            if url.scheme() != "https" && url.scheme() != "http" {
                bail!(
                    "WEBHOOK_URL={base:?} must be an http(s) URL (Telegram itself only calls https)"
                );
            }
            let max_retries =
                parse_var::<u32>("WEBHOOK_MAX_RETRIES", "a whole number of attempts")?
                    .unwrap_or(5)
                    .max(1);
            let delay = parse_var::<f64>("WEBHOOK_RETRY_DELAY_SECONDS", "seconds, e.g. 2")?
                .unwrap_or(2.0)
                .clamp(0.1, 600.0);
            let backoff = parse_var::<f64>("WEBHOOK_RETRY_BACKOFF", "a factor, e.g. 2")?
                .unwrap_or(2.0)
                .clamp(1.0, 10.0);
            Some(tokenbot_bot::webhook::WebhookConfig {
                url,
                secret,
                max_retries,
                retry_delay: std::time::Duration::from_secs_f64(delay),
                backoff,
            })
        }
    };
    Ok(TelegramSettings {
        bot_token,
        api_url,
        admin_ids,
        webhook,
        support_contact: var("SUPPORT_CONTACT").unwrap_or_else(|| "@support_bot".into()),
    })
}

fn openai_settings() -> anyhow::Result<OpenAiSettings> {
    let timeout = parse_var::<u64>("OPENAI_TIMEOUT_S", "whole seconds, 1..=600")?.unwrap_or(120);
    if !(1..=600).contains(&timeout) {
        bail!("OPENAI_TIMEOUT_S={timeout} is invalid: expected 1..=600");
    }
    Ok(OpenAiSettings {
        api_key: var("OPENAI_API_KEY"),
        base_url: var("OPENAI_BASE_URL").unwrap_or_else(|| "https://api.openai.com/v1".into()),
        timeout: std::time::Duration::from_secs(timeout),
    })
}

fn worker_settings() -> anyhow::Result<WorkerSettings> {
    let concurrency =
        parse_var::<usize>("WORKER_CONCURRENCY", "a whole number of tasks, 1..=1024")?.unwrap_or(8);
    if !(1..=1024).contains(&concurrency) {
        bail!("WORKER_CONCURRENCY={concurrency} is invalid: expected 1..=1024");
    }
    let retry_delays = match var("TASK_RETRY_DELAYS_S") {
        None => vec![
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(30),
        ],
        Some(raw) => tokenbot_worker::config::parse_retry_delays(&raw).map_err(|e| {
            anyhow::anyhow!("TASK_RETRY_DELAYS_S={raw:?} is invalid: {e} (expected e.g. 10,30)")
        })?,
    };
    let ack_wait = parse_var::<u64>("WORKER_ACK_WAIT_S", "whole seconds, 5..=600")?.unwrap_or(30);
    if !(5..=600).contains(&ack_wait) {
        bail!("WORKER_ACK_WAIT_S={ack_wait} is invalid: expected 5..=600");
    }
    let task_stall = parse_var::<u64>("TASK_STALL_S", "whole seconds, 10..=86400")?.unwrap_or(120);
    if !(10..=86_400).contains(&task_stall) {
        bail!("TASK_STALL_S={task_stall} is invalid: expected 10..=86400");
    }
    let task_stall = std::time::Duration::from_secs(task_stall);
    tokenbot_worker::config::validate_task_stall(task_stall, &retry_delays).map_err(|e| {
        anyhow::anyhow!(
            "TASK_STALL_S={} is invalid with TASK_RETRY_DELAYS_S: {e}",
            task_stall.as_secs()
        )
    })?;
    Ok(WorkerSettings {
        concurrency,
        retry_delays,
        ack_wait: std::time::Duration::from_secs(ack_wait),
        task_stall,
    })
}

fn var(name: &str) -> Option<String> {
    env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, expects: &str) -> anyhow::Result<Option<T>> {
    match var(name) {
        None => Ok(None),
        Some(raw) => match raw.parse::<T>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => bail!("{name}={raw:?} is invalid: expected {expects}"),
        },
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        // The original used SQLAlchemy URLs; accept them so an old .env keeps working.
        let plain = |url: String| {
            url.replace("postgresql+asyncpg://", "postgresql://")
                .replace("postgres+asyncpg://", "postgres://")
        };
        let database_url =
            plain(var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()));
        let migration_database_url = var("MIGRATION_DATABASE_URL").map(plain);
        let db_pool_size =
            parse_var::<usize>("DB_POOL_SIZE", "a whole number of connections, 1..=256")?
                .unwrap_or(16);
        if !(1..=256).contains(&db_pool_size) {
            bail!("DB_POOL_SIZE={db_pool_size} is invalid: expected 1..=256");
        }

        let mut ledger = LedgerConfig::seed_default();
        if let Some(images) = parse_var::<u32>(
            "INITIAL_TOKENS",
            "a whole number of medium-square images (the grant is that x 1056)",
        )? {
            ledger.initial_grant = ledger
                .initial_grant_for_images(images)
                .context("INITIAL_TOKENS is too large")?;
        }
        if let Some(t) = parse_var::<Tokens>("HIGH_COST_THRESHOLD", "a whole number of tokens")? {
            ledger.high_cost_threshold = t;
        }
        if let Some(n) = parse_var::<u32>(
            "MAX_TASKS_PER_USER_PER_HOUR",
            "a whole number (0 = no limit)",
        )? {
            if n > tokenbot_ledger::pricing::RATE_WINDOW_CAPACITY {
                bail!(
                    "MAX_TASKS_PER_USER_PER_HOUR={n} is invalid: at most {} (0 = no limit)",
                    tokenbot_ledger::pricing::RATE_WINDOW_CAPACITY
                );
            }
            ledger.max_tasks_per_hour = n;
        }
        if let Some(t) = parse_var::<Tokens>("MAX_ADMIN_GRANT", "a whole number of tokens")? {
            ledger.max_grant = t;
        }
        if let Some(n) = parse_var::<u32>("TASK_MAX_ATTEMPTS", "a whole number from 1 to 10")? {
            if !(1..=10).contains(&n) {
                bail!("TASK_MAX_ATTEMPTS={n} is invalid: expected 1..=10");
            }
            ledger.max_attempts = n;
        }
        if let Some(raw) = var("PRICE_TABLE") {
            ledger.prices =
                PriceTable::parse(&raw).with_context(|| format!("PRICE_TABLE={raw:?}"))?;
        }
        if let Some(raw) = var("IMAGE_MODELS") {
            let models: Vec<ModelId> = raw
                .split(',')
                .map(|m| ModelId::parse(m.trim()))
                .collect::<Result<_, _>>()
                .with_context(|| format!("IMAGE_MODELS={raw:?} is invalid: expected comma-separated model ids, the default first"))?;
            if models.is_empty() {
                bail!("IMAGE_MODELS is empty: name at least one model");
            }
            ledger.models = models;
        }
        let nats_url = var("NATS_URL").unwrap_or_else(|| DEFAULT_NATS_URL.to_string());
        let mut bus = tokenbot_ledger::bus::BusConfig::default();
        if let Some(name) = var("NATS_STREAM") {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                bail!("NATS_STREAM={name:?} is invalid: expected letters, digits, '_' or '-'");
            }
            bus.stream = name;
        }
        if let Some(prefix) = var("NATS_SUBJECT_PREFIX") {
            bus.subject_prefix = prefix;
        }
        let http_addr =
            parse_var::<std::net::SocketAddr>("HTTP_ADDR", "host:port, e.g. 0.0.0.0:8000")?
                .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 8000)));
        let admin_api_key = var("ADMIN_API_KEY");
        if let Some(k) = &admin_api_key
            && k.len() < 16
        {
            bail!(
                "ADMIN_API_KEY is too short: use at least 16 characters (or leave it unset to turn the admin API off)"
            );
        }
        Ok(Self {
            database_url,
            migration_database_url,
            writer_password: var("DATABASE_WRITER_PASSWORD"),
            reader_password: var("DATABASE_READER_PASSWORD"),
            db_pool_size,
            ledger,
            nats_url,
            bus,
            http_addr,
            admin_api_key,
            telegram: telegram_settings()?,
            openai: openai_settings()?,
            worker: worker_settings()?,
            checkpoints: checkpoint_env()?,
        })
    }
}
