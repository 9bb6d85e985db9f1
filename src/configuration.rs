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
    pub database_url: String,
    pub db_pool_size: usize,
    pub ledger: LedgerConfig,
    pub nats_url: String,
    /// JetStream stream name and subject prefix (`LEDGER`, `ledger`).
    pub bus: tokenbot_ledger::bus::BusConfig,
    /// Webhook, admin API, health and metrics.
    pub http_addr: std::net::SocketAddr,
    /// None: the admin API is off (its routes answer 404).
    pub admin_api_key: Option<String>,
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
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        // The original used SQLAlchemy URLs; accept them so an old .env keeps working.
        let database_url = database_url
            .replace("postgresql+asyncpg://", "postgresql://")
            .replace("postgres+asyncpg://", "postgres://");
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
            db_pool_size,
            ledger,
            nats_url,
            bus,
            http_addr,
            admin_api_key,
        })
    }
}
