//! Validation of each variable's raw text, with the messages operators have always seen: the
//! variable's name, the value, and what it expects. Blank values count as unset.
//! [`Settings::from_environment`] assembles the validated values.

use anyhow::{Context, bail};
use secrecy::SecretString;
use tokenbot_api::auth::{AdminKeys, AdminName, DEFAULT_NAME};
use tokenbot_ledger::{LedgerConfig, ModelId, PriceTable, Tokens};

use super::environment::{DEFAULT_DATABASE_URL, DEFAULT_NATS_URL};
use super::{
    CheckpointEnv, Environment, LogSettings, OpenAiSettings, SecretUrl, Settings, TelegramSettings,
    WebhookSettings, WorkerSettings,
};

impl Settings {
    /// Validates every variable; the first invalid one is named in the error.
    pub fn from_environment(env: &Environment) -> anyhow::Result<Self> {
        Ok(Self {
            database_url: database_url(&env.database_url)
                .unwrap_or_else(|| SecretUrl::new(DEFAULT_DATABASE_URL)),
            migration_database_url: database_url(&env.migration_database_url),
            read_database_url: database_url(&env.read_database_url),
            writer_password: secret(&env.database_writer_password),
            reader_password: secret(&env.database_reader_password),
            db_pool_size: db_pool_size(env)?,
            ledger: ledger_rules(env)?,
            nats_url: SecretUrl::new(text(&env.nats_url, DEFAULT_NATS_URL)),
            bus: bus(env)?,
            http_addr: http_addr(env)?,
            admin_keys: admin_keys(env)?,
            admin_key_plaintext: value(&env.admin_api_key).is_some(),
            telegram: telegram(env)?,
            openai: openai(env)?,
            worker: worker(env)?,
            checkpoints: checkpoints(env)?,
            log: log(env)?,
        })
    }
}

/// The trimmed value; None when unset or blank.
fn value(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The value, or `default` when unset.
pub(super) fn text(raw: &Option<String>, default: &str) -> String {
    value(raw).unwrap_or(default).to_string()
}

pub(super) fn secret(raw: &Option<String>) -> Option<SecretString> {
    value(raw).map(|v| SecretString::from(v.to_string()))
}

/// Parses the value when set; names the variable and what it expects when it does not parse.
fn parse_var<T: std::str::FromStr>(
    name: &str,
    raw: &Option<String>,
    expects: &str,
) -> anyhow::Result<Option<T>> {
    match value(raw) {
        None => Ok(None),
        Some(v) => match v.parse::<T>() {
            Ok(parsed) => Ok(Some(parsed)),
            Err(_) => bail!("{name}={v:?} is invalid: expected {expects}"),
        },
    }
}

/// A whole number within `range`, `default` when unset.
fn bounded<T>(
    name: &str,
    raw: &Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    expects: &str,
) -> anyhow::Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let v = parse_var::<T>(name, raw, expects)?.unwrap_or(default);
    if !range.contains(&v) {
        bail!(
            "{name}={v} is invalid: expected {}..={}",
            range.start(),
            range.end()
        );
    }
    Ok(v)
}

/// The original used SQLAlchemy URLs; accept them so an old .env keeps working.
pub(super) fn database_url(raw: &Option<String>) -> Option<SecretUrl> {
    value(raw).map(|url| {
        SecretUrl::new(
            url.replace("postgresql+asyncpg://", "postgresql://")
                .replace("postgres+asyncpg://", "postgres://"),
        )
    })
}

pub(super) fn db_pool_size(env: &Environment) -> anyhow::Result<usize> {
    bounded(
        "DB_POOL_SIZE",
        &env.db_pool_size,
        16,
        1..=256,
        "a whole number of connections, 1..=256",
    )
}

pub(super) fn ledger_rules(env: &Environment) -> anyhow::Result<LedgerConfig> {
    let mut ledger = LedgerConfig::seed_default();
    // Priced at the built-in medium-square price, before PRICE_TABLE: the grant is a number of
    // the original's images.
    if let Some(images) = parse_var::<u32>(
        "INITIAL_TOKENS",
        &env.initial_tokens,
        "a whole number of medium-square images (the grant is that x 1056)",
    )? {
        ledger.initial_grant = ledger
            .initial_grant_for_images(images)
            .context("INITIAL_TOKENS is too large")?;
    }
    if let Some(t) = parse_var::<Tokens>(
        "HIGH_COST_THRESHOLD",
        &env.high_cost_threshold,
        "a whole number of tokens",
    )? {
        ledger.high_cost_threshold = t;
    }
    if let Some(n) = parse_var::<u32>(
        "MAX_TASKS_PER_USER_PER_HOUR",
        &env.max_tasks_per_user_per_hour,
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
    if let Some(t) = parse_var::<Tokens>(
        "MAX_ADMIN_GRANT",
        &env.max_admin_grant,
        "a whole number of tokens",
    )? {
        ledger.max_grant = t;
    }
    if let Some(n) = parse_var::<u32>(
        "TASK_MAX_ATTEMPTS",
        &env.task_max_attempts,
        "a whole number from 1 to 10",
    )? {
        if !(1..=10).contains(&n) {
            bail!("TASK_MAX_ATTEMPTS={n} is invalid: expected 1..=10");
        }
        ledger.max_attempts = n;
    }
    if let Some(raw) = value(&env.price_table) {
        ledger.prices = PriceTable::parse(raw).with_context(|| format!("PRICE_TABLE={raw:?}"))?;
    }
    if let Some(raw) = value(&env.image_models) {
        ledger.models = image_models(raw)?;
    }
    Ok(ledger)
}

fn image_models(raw: &str) -> anyhow::Result<Vec<ModelId>> {
    let models: Vec<ModelId> = raw
        .split(',')
        .map(|m| ModelId::parse(m.trim()))
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "IMAGE_MODELS={raw:?} is invalid: expected comma-separated model ids, the default first"
            )
        })?;
    if models.is_empty() {
        bail!("IMAGE_MODELS is empty: name at least one model");
    }
    Ok(models)
}

pub(super) fn bus(env: &Environment) -> anyhow::Result<tokenbot_ledger::bus::BusConfig> {
    let mut bus = tokenbot_ledger::bus::BusConfig::default();
    if let Some(name) = value(&env.nats_stream) {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("NATS_STREAM={name:?} is invalid: expected letters, digits, '_' or '-'");
        }
        bus.stream = name.to_string();
    }
    if let Some(prefix) = value(&env.nats_subject_prefix) {
        bus.subject_prefix = prefix.to_string();
    }
    // JetStream's own limit: a stream has at most 5 replicas.
    bus.replicas = bounded(
        "NATS_STREAM_REPLICAS",
        &env.nats_stream_replicas,
        1usize,
        1..=5,
        "a number of copies",
    )?;
    Ok(bus)
}

pub(super) fn http_addr(env: &Environment) -> anyhow::Result<std::net::SocketAddr> {
    Ok(parse_var::<std::net::SocketAddr>(
        "HTTP_ADDR",
        &env.http_addr,
        "host:port, e.g. 0.0.0.0:8000",
    )?
    .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 8000))))
}

pub(super) fn admin_keys(env: &Environment) -> anyhow::Result<AdminKeys> {
    let named = match value(&env.admin_api_keys) {
        Some(list) => AdminKeys::parse(list).context("ADMIN_API_KEYS is invalid")?,
        None => AdminKeys::none(),
    };
    let Some(key) = value(&env.admin_api_key) else {
        return Ok(named);
    };
    if key.len() < 16 {
        bail!(
            "ADMIN_API_KEY is too short: use at least 16 characters (or leave it unset to turn the admin API off)"
        );
    }
    let name = AdminName::parse(DEFAULT_NAME).context("the name of ADMIN_API_KEY")?;
    named
        .merge(AdminKeys::plaintext(name, key))
        .context("ADMIN_API_KEYS names `default`, which is ADMIN_API_KEY's: rename one")
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

pub(super) fn telegram(env: &Environment) -> anyhow::Result<TelegramSettings> {
    let api_url = match value(&env.telegram_api_url) {
        None => None,
        Some(raw) => {
            let with_slash = if raw.ends_with('/') {
                raw.to_string()
            } else {
                format!("{raw}/")
            };
            Some(reqwest::Url::parse(&with_slash).with_context(|| {
                format!("TELEGRAM_API_URL={raw:?} is not a URL (e.g. http://127.0.0.1:8081)")
            })?)
        }
    };
    let admin_ids = match value(&env.admin_ids) {
        None => Vec::new(),
        Some(raw) => parse_admin_ids(raw)?,
    };
    Ok(TelegramSettings {
        bot_token: secret(&env.bot_token),
        api_url,
        admin_ids,
        webhook: webhook(env)?,
        support_contact: text(&env.support_contact, "@support_bot"),
        packages: match value(&env.token_packages) {
            None => tokenbot_ledger::TokenPackage::defaults(),
            Some(raw) => tokenbot_ledger::TokenPackage::parse_list(raw).map_err(|e| {
                anyhow::anyhow!(
                    "TOKEN_PACKAGES={raw:?} is invalid: {e} (expected id:tokens:stars, comma-separated, e.g. pack_50k:50000:50)"
                )
            })?,
        },
        limits: telegram_limits(env)?,
    })
}

fn telegram_limits(env: &Environment) -> anyhow::Result<tokenbot_telegram::Limits> {
    use tokenbot_telegram::{Limits, Rate, RateSetting};
    let rate = |name: &str, raw: &Option<String>, default: Option<Rate>| {
        match value(raw) {
        None => Ok(default),
        Some(v) => v.parse::<RateSetting>().map(|s| s.0).map_err(|_| {
            anyhow::anyhow!(
                "{name}={v:?} is invalid: expected N/<duration> such as 30/1s, 20/60s or 5/500ms, or off"
            )
        }),
    }
    };
    let d = Limits::TELEGRAM;
    Ok(Limits {
        overall: rate(
            "TELEGRAM_LIMIT_OVERALL",
            &env.telegram_limit_overall,
            d.overall,
        )?,
        chat: rate("TELEGRAM_LIMIT_CHAT", &env.telegram_limit_chat, d.chat)?,
        group: rate("TELEGRAM_LIMIT_GROUP", &env.telegram_limit_group, d.group)?,
    })
}

fn webhook(env: &Environment) -> anyhow::Result<Option<WebhookSettings>> {
    let Some(base) = value(&env.webhook_url) else {
        return Ok(None);
    };
    let secret = value(&env.webhook_secret_token).context(
        "WEBHOOK_URL is set but WEBHOOK_SECRET_TOKEN is not: a webhook without a secret accepts forged updates; set 1-256 characters of A-Z a-z 0-9 _ -",
    )?;
    if !tokenbot_bot::webhook::valid_secret(secret) {
        bail!("WEBHOOK_SECRET_TOKEN is invalid: use 1-256 characters of A-Z a-z 0-9 _ -");
    }
    let url = reqwest::Url::parse(&format!("{}/webhook", base.trim_end_matches('/')))
        .with_context(|| {
            format!("WEBHOOK_URL={base:?} is not a URL (e.g. https://bot.example.com)")
        })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        bail!("WEBHOOK_URL={base:?} must be an http(s) URL (Telegram itself only calls https)");
    }
    let max_retries = parse_var::<u32>(
        "WEBHOOK_MAX_RETRIES",
        &env.webhook_max_retries,
        "a whole number of attempts",
    )?
    .unwrap_or(5)
    .max(1);
    let delay = parse_var::<f64>(
        "WEBHOOK_RETRY_DELAY_SECONDS",
        &env.webhook_retry_delay_seconds,
        "seconds, e.g. 2",
    )?
    .unwrap_or(2.0)
    .clamp(0.1, 600.0);
    let backoff = parse_var::<f64>(
        "WEBHOOK_RETRY_BACKOFF",
        &env.webhook_retry_backoff,
        "a factor, e.g. 2",
    )?
    .unwrap_or(2.0)
    .clamp(1.0, 10.0);
    Ok(Some(WebhookSettings {
        url,
        secret: SecretString::from(secret.to_string()),
        max_retries,
        retry_delay: std::time::Duration::from_secs_f64(delay),
        backoff,
    }))
}

pub(super) fn openai(env: &Environment) -> anyhow::Result<OpenAiSettings> {
    let timeout = bounded(
        "OPENAI_TIMEOUT_S",
        &env.openai_timeout_s,
        120u64,
        1..=600,
        "whole seconds, 1..=600",
    )?;
    Ok(OpenAiSettings {
        api_key: secret(&env.openai_api_key),
        base_url: text(&env.openai_base_url, "https://api.openai.com/v1"),
        timeout: std::time::Duration::from_secs(timeout),
    })
}

pub(super) fn worker(env: &Environment) -> anyhow::Result<WorkerSettings> {
    let concurrency = bounded(
        "WORKER_CONCURRENCY",
        &env.worker_concurrency,
        8usize,
        1..=1024,
        "a whole number of tasks, 1..=1024",
    )?;
    let retry_delays = match value(&env.task_retry_delays_s) {
        None => vec![
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(30),
        ],
        Some(raw) => tokenbot_worker::config::parse_retry_delays(raw).map_err(|e| {
            anyhow::anyhow!("TASK_RETRY_DELAYS_S={raw:?} is invalid: {e} (expected e.g. 10,30)")
        })?,
    };
    let ack_wait = bounded(
        "WORKER_ACK_WAIT_S",
        &env.worker_ack_wait_s,
        30u64,
        5..=600,
        "whole seconds, 5..=600",
    )?;
    let task_stall = bounded(
        "TASK_STALL_S",
        &env.task_stall_s,
        120u64,
        10..=86_400,
        "whole seconds, 10..=86400",
    )?;
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

fn signer(
    env: &Environment,
) -> anyhow::Result<Option<tokenbot_ledger::checkpoint::CheckpointSigner>> {
    use tokenbot_ledger::checkpoint::CheckpointSigner;
    match (
        value(&env.ledger_signing_key),
        value(&env.ledger_signing_key_file),
    ) {
        (Some(_), Some(_)) => {
            bail!("LEDGER_SIGNING_KEY and LEDGER_SIGNING_KEY_FILE are both set: use one")
        }
        (Some(hex), None) => Ok(Some(
            CheckpointSigner::from_hex(hex)
                .map_err(|e| anyhow::anyhow!("LEDGER_SIGNING_KEY: {e}"))?,
        )),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("LEDGER_SIGNING_KEY_FILE={path:?} cannot be read"))?;
            Ok(Some(CheckpointSigner::from_hex(&text).map_err(|e| {
                anyhow::anyhow!("LEDGER_SIGNING_KEY_FILE={path:?}: {e}")
            })?))
        }
        (None, None) => Ok(None),
    }
}

pub(super) fn checkpoints(env: &Environment) -> anyhow::Result<CheckpointEnv> {
    use tokenbot_ledger::checkpoint::{CheckpointPolicy, PublicKey};
    let signer = signer(env)?;
    let public_key = match value(&env.ledger_public_key) {
        Some(hex) => {
            Some(PublicKey::from_hex(hex).map_err(|e| anyhow::anyhow!("LEDGER_PUBLIC_KEY: {e}"))?)
        }
        None => signer.as_ref().map(|s| s.public_key()),
    };
    let mut policy = CheckpointPolicy::default();
    if let Some(n) = parse_var::<u64>(
        "LEDGER_CHECKPOINT_EVERY_EVENTS",
        &env.ledger_checkpoint_every_events,
        "a whole number of events, 1..=10000000",
    )? {
        if !(1..=10_000_000).contains(&n) {
            bail!("LEDGER_CHECKPOINT_EVERY_EVENTS={n} is invalid: expected 1..=10000000");
        }
        policy.every_events = n;
    }
    if let Some(s) = parse_var::<f64>(
        "LEDGER_CHECKPOINT_EVERY_S",
        &env.ledger_checkpoint_every_s,
        "seconds, 0.1..=86400",
    )? {
        if !(0.1..=86_400.0).contains(&s) {
            bail!("LEDGER_CHECKPOINT_EVERY_S={s} is invalid: expected 0.1..=86400");
        }
        policy.every = std::time::Duration::from_secs_f64(s);
    }
    if let Some(days) = parse_var::<u64>(
        "LEDGER_CHECKPOINT_RETENTION_DAYS",
        &env.ledger_checkpoint_retention_days,
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

/// The log filter: RUST_LOG when set (any `tracing` filter), else LOG_LEVEL (a level, the
/// original's name). Both are checked, so a typo fails at start instead of logging nothing.
pub(super) fn log(env: &Environment) -> anyhow::Result<LogSettings> {
    let level = text(&env.log_level, "warn").to_lowercase();
    if !["error", "warn", "info", "debug", "trace", "off"].contains(&level.as_str()) {
        bail!(
            "LOG_LEVEL={:?} is invalid: expected error, warn, info, debug, trace or off",
            value(&env.log_level).unwrap_or_default()
        );
    }
    let filter = match value(&env.rust_log) {
        Some(directives) => {
            tracing_subscriber::EnvFilter::builder()
                .parse(directives)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "RUST_LOG={directives:?} is invalid: {e} (expected a tracing filter, e.g. info,tokenbot_ledger=debug)"
                    )
                })?;
            directives.to_string()
        }
        None => level,
    };
    let json = match text(&env.log_format, "text").to_lowercase().as_str() {
        "json" => true,
        "text" => false,
        _ => bail!(
            "LOG_FORMAT={:?} is invalid: expected text or json",
            value(&env.log_format).unwrap_or_default()
        ),
    };
    Ok(LogSettings { filter, json })
}
