//! Every configuration variable as clap reads it: from the environment (or the flag of the same
//! name, which wins), shown with its default in `tokenbot --help` and in every subcommand's help.
//! Values stay raw text here; [`super::Settings::from_environment`] validates them, so that an
//! invalid value stops the program with a message naming the variable, as it always has.
//! Secrets and URLs that may hold a password never show their value in the help.

use clap::Args;

/// Where the ledger lives, unless DATABASE_URL says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tokenbot";

/// Where NATS is, unless NATS_URL says otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The prices of the original, unless PRICE_TABLE says otherwise.
pub const DEFAULT_PRICE_TABLE: &str = "low:272/408/400,medium:1056/1584/1568,high:4160/6240/6208";

/// The models offered, unless IMAGE_MODELS says otherwise.
pub const DEFAULT_IMAGE_MODELS: &str = "gpt-image-1,gpt-image-1.5";

/// Where the variables appear in `--help`.
const HEADING: &str = "Configuration (environment variables; a flag of the same name wins)";

/// The raw value of every variable (`None`: unset, or empty).
#[derive(Args, Clone, Default)]
pub struct Environment {
    /// The ledger's Postgres as the runtime role tokenbot_writer; alone, the owner's URL (processes migrate with it, then run as tokenbot_writer). postgresql+asyncpg:// URLs of the original are accepted.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true, help_heading = HEADING, value_name = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The owner's URL, for migrations and `projections rebuild` [default: DATABASE_URL, unless that names a runtime role].
    #[arg(long, env = "MIGRATION_DATABASE_URL", global = true, hide_env_values = true, help_heading = HEADING, value_name = "MIGRATION_DATABASE_URL")]
    pub migration_database_url: Option<String>,
    /// A read replica of DATABASE_URL's database (e.g. a hot standby, as tokenbot_reader): the admin API's read endpoints and `projections status` read the read models there, each answer saying which event it is as of [default: unset: DATABASE_URL].
    #[arg(long, env = "READ_DATABASE_URL", global = true, hide_env_values = true, help_heading = HEADING, value_name = "READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
    /// Password `migrate` gives tokenbot_writer, and used to connect as it when DATABASE_URL is the owner's [default: unset].
    #[arg(long, env = "DATABASE_WRITER_PASSWORD", global = true, hide_env_values = true, help_heading = HEADING, value_name = "DATABASE_WRITER_PASSWORD")]
    pub database_writer_password: Option<String>,
    /// Password `migrate` gives tokenbot_reader, and used to connect as it when DATABASE_URL is the owner's [default: unset].
    #[arg(long, env = "DATABASE_READER_PASSWORD", global = true, hide_env_values = true, help_heading = HEADING, value_name = "DATABASE_READER_PASSWORD")]
    pub database_reader_password: Option<String>,
    /// Pooled Postgres connections per process, 1..=256.
    #[arg(long, env = "DB_POOL_SIZE", default_value = "16", global = true, help_heading = HEADING, value_name = "DB_POOL_SIZE")]
    pub db_pool_size: Option<String>,
    /// Ed25519 key (64 hex characters) the relay signs checkpoints with; make one with `tokenbot ledger keygen` [default: unset: no signed checkpoints].
    #[arg(long, env = "LEDGER_SIGNING_KEY", global = true, hide_env_values = true, help_heading = HEADING, value_name = "LEDGER_SIGNING_KEY")]
    pub ledger_signing_key: Option<String>,
    /// A file holding LEDGER_SIGNING_KEY instead (e.g. a mounted secret) [default: unset].
    #[arg(long, env = "LEDGER_SIGNING_KEY_FILE", global = true, help_heading = HEADING, value_name = "LEDGER_SIGNING_KEY_FILE")]
    pub ledger_signing_key_file: Option<String>,
    /// Sign a checkpoint once the chain grew by this many events, 1..=10000000.
    #[arg(long, env = "LEDGER_CHECKPOINT_EVERY_EVENTS", default_value = "10000", global = true, help_heading = HEADING, value_name = "LEDGER_CHECKPOINT_EVERY_EVENTS")]
    pub ledger_checkpoint_every_events: Option<String>,
    /// ... or once this many seconds passed and the chain grew at all, 0.1..=86400.
    #[arg(long, env = "LEDGER_CHECKPOINT_EVERY_S", default_value = "60", global = true, help_heading = HEADING, value_name = "LEDGER_CHECKPOINT_EVERY_S")]
    pub ledger_checkpoint_every_s: Option<String>,
    /// How long the checkpoint stream keeps a checkpoint, 1..=36500 days [default: unset: for ever].
    #[arg(long, env = "LEDGER_CHECKPOINT_RETENTION_DAYS", global = true, help_heading = HEADING, value_name = "LEDGER_CHECKPOINT_RETENTION_DAYS")]
    pub ledger_checkpoint_retention_days: Option<String>,
    /// The key auditors check checkpoints with [default: the signing key's public half].
    #[arg(long, env = "LEDGER_PUBLIC_KEY", global = true, help_heading = HEADING, value_name = "LEDGER_PUBLIC_KEY")]
    pub ledger_public_key: Option<String>,
    /// Welcome grant in medium-square images (the grant is this x 1056 tokens).
    #[arg(long, env = "INITIAL_TOKENS", default_value = "10", global = true, help_heading = HEADING, value_name = "INITIAL_TOKENS")]
    pub initial_tokens: Option<String>,
    /// Cost in tokens at or above which the bot asks twice.
    #[arg(long, env = "HIGH_COST_THRESHOLD", default_value = "4000", global = true, help_heading = HEADING, value_name = "HIGH_COST_THRESHOLD")]
    pub high_cost_threshold: Option<String>,
    /// Rolling-hour task limit per user, enforced in the ledger (0 = none; at most 1000).
    #[arg(long, env = "MAX_TASKS_PER_USER_PER_HOUR", default_value = "20", global = true, help_heading = HEADING, value_name = "MAX_TASKS_PER_USER_PER_HOUR")]
    pub max_tasks_per_user_per_hour: Option<String>,
    /// Largest single admin grant, in tokens.
    #[arg(long, env = "MAX_ADMIN_GRANT", default_value = "100000000", global = true, help_heading = HEADING, value_name = "MAX_ADMIN_GRANT")]
    pub max_admin_grant: Option<String>,
    /// Attempts before a task fails and is refunded, 1..=10.
    #[arg(long, env = "TASK_MAX_ATTEMPTS", default_value = "3", global = true, help_heading = HEADING, value_name = "TASK_MAX_ATTEMPTS")]
    pub task_max_attempts: Option<String>,
    /// Tokens per quality for 1024x1024/1024x1536/1536x1024.
    #[arg(long, env = "PRICE_TABLE", default_value = DEFAULT_PRICE_TABLE, global = true, help_heading = HEADING, value_name = "PRICE_TABLE")]
    pub price_table: Option<String>,
    /// Offered image models, comma-separated; the first is the default.
    #[arg(long, env = "IMAGE_MODELS", default_value = DEFAULT_IMAGE_MODELS, global = true, help_heading = HEADING, value_name = "IMAGE_MODELS")]
    pub image_models: Option<String>,
    /// NATS with JetStream (the relay and projector retry while it is down).
    #[arg(long, env = "NATS_URL", default_value = DEFAULT_NATS_URL, global = true, hide_env_values = true, help_heading = HEADING, value_name = "NATS_URL")]
    pub nats_url: Option<String>,
    /// JetStream stream name (letters, digits, '_', '-').
    #[arg(long, env = "NATS_STREAM", default_value = "LEDGER", global = true, help_heading = HEADING, value_name = "NATS_STREAM")]
    pub nats_stream: Option<String>,
    /// Copies of the LEDGER stream and its checkpoint stream in a NATS cluster, 1..=5 (durable consumers inherit it; 3 on a three-node cluster).
    #[arg(long, env = "NATS_STREAM_REPLICAS", default_value = "1", global = true, help_heading = HEADING, value_name = "NATS_STREAM_REPLICAS")]
    pub nats_stream_replicas: Option<String>,
    /// Subject prefix: <prefix>.<category>.<EventType>.
    #[arg(long, env = "NATS_SUBJECT_PREFIX", default_value = "ledger", global = true, help_heading = HEADING, value_name = "NATS_SUBJECT_PREFIX")]
    pub nats_subject_prefix: Option<String>,
    /// Where each process serves /health, /metrics, /openapi.json, the admin API (api) and the webhook (bot).
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8000", global = true, help_heading = HEADING, value_name = "HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Named admin keys as name:sha256-hex pairs, comma separated (`tokenbot admin key new <name>` makes one) [default: unset: the admin routes answer 404 unless ADMIN_API_KEY is set].
    #[arg(long, env = "ADMIN_API_KEYS", global = true, help_heading = HEADING, value_name = "ADMIN_API_KEYS")]
    pub admin_api_keys: Option<String>,
    /// Deprecated: one plaintext X-Admin-API-Key (at least 16 characters), acting as the admin named `default`; prefer ADMIN_API_KEYS [default: unset].
    #[arg(long, env = "ADMIN_API_KEY", global = true, hide_env_values = true, help_heading = HEADING, value_name = "ADMIN_API_KEY")]
    pub admin_api_key: Option<String>,
    /// The Telegram bot token (bot and worker) [default: unset: `up` runs without them; `bot` and `worker` stay off and only serve /health and /metrics].
    #[arg(long, env = "BOT_TOKEN", global = true, hide_env_values = true, help_heading = HEADING, value_name = "BOT_TOKEN")]
    pub bot_token: Option<String>,
    /// A local Bot API server or a test double [default: Telegram's].
    #[arg(long, env = "TELEGRAM_API_URL", global = true, help_heading = HEADING, value_name = "TELEGRAM_API_URL")]
    pub telegram_api_url: Option<String>,
    /// The bot's messages overall, at most N per window: N/<duration> or off (Telegram: about 30 a second).
    #[arg(long, env = "TELEGRAM_LIMIT_OVERALL", default_value = "30/1s", global = true, help_heading = HEADING, value_name = "TELEGRAM_LIMIT_OVERALL")]
    pub telegram_limit_overall: Option<String>,
    /// Messages to one chat: N/<duration> or off (Telegram: about one a second, short bursts allowed).
    #[arg(long, env = "TELEGRAM_LIMIT_CHAT", default_value = "3/3s", global = true, help_heading = HEADING, value_name = "TELEGRAM_LIMIT_CHAT")]
    pub telegram_limit_chat: Option<String>,
    /// Messages to one group or channel, on top of the chat's: N/<duration> or off (Telegram: 20 a minute).
    #[arg(long, env = "TELEGRAM_LIMIT_GROUP", default_value = "20/60s", global = true, help_heading = HEADING, value_name = "TELEGRAM_LIMIT_GROUP")]
    pub telegram_limit_group: Option<String>,
    /// Comma-separated Telegram ids allowed /admin, /stats, /addtokens, /userinfo [default: none].
    #[arg(long, env = "ADMIN_IDS", global = true, help_heading = HEADING, value_name = "ADMIN_IDS")]
    pub admin_ids: Option<String>,
    /// Public base URL; the webhook is {WEBHOOK_URL}/webhook [default: unset: long polling].
    #[arg(long, env = "WEBHOOK_URL", global = true, help_heading = HEADING, value_name = "WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Required with WEBHOOK_URL: 1-256 of A-Z a-z 0-9 _ - [default: unset].
    #[arg(long, env = "WEBHOOK_SECRET_TOKEN", global = true, hide_env_values = true, help_heading = HEADING, value_name = "WEBHOOK_SECRET_TOKEN")]
    pub webhook_secret_token: Option<String>,
    /// setWebhook attempts at start (at least 1).
    #[arg(long, env = "WEBHOOK_MAX_RETRIES", default_value = "5", global = true, help_heading = HEADING, value_name = "WEBHOOK_MAX_RETRIES")]
    pub webhook_max_retries: Option<String>,
    /// First pause between setWebhook attempts, seconds, clamped to 0.1..600.
    #[arg(long, env = "WEBHOOK_RETRY_DELAY_SECONDS", default_value = "2", global = true, help_heading = HEADING, value_name = "WEBHOOK_RETRY_DELAY_SECONDS")]
    pub webhook_retry_delay_seconds: Option<String>,
    /// Factor the setWebhook pause grows by, clamped to 1..10.
    #[arg(long, env = "WEBHOOK_RETRY_BACKOFF", default_value = "2", global = true, help_heading = HEADING, value_name = "WEBHOOK_RETRY_BACKOFF")]
    pub webhook_retry_backoff: Option<String>,
    /// Token packages on sale for Telegram Stars: `id:tokens:stars`, comma-separated.
    #[arg(long, env = "TOKEN_PACKAGES", default_value = "pack_50k:50000:50,pack_150k:150000:125,pack_500k:500000:350", global = true, help_heading = HEADING, value_name = "TOKEN_PACKAGES")]
    pub token_packages: Option<String>,
    /// Shown in the bot's guide.
    #[arg(long, env = "SUPPORT_CONTACT", default_value = "@support_bot", global = true, help_heading = HEADING, value_name = "SUPPORT_CONTACT")]
    pub support_contact: Option<String>,
    /// The worker's OpenAI key [default: unset: `up` runs without the worker; `worker` stays off].
    #[arg(long, env = "OPENAI_API_KEY", global = true, hide_env_values = true, help_heading = HEADING, value_name = "OPENAI_API_KEY")]
    pub openai_api_key: Option<String>,
    /// An OpenAI-compatible endpoint.
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1", global = true, help_heading = HEADING, value_name = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,
    /// One image request's limit in seconds, 1..=600 (a task's lease is this + 60 s).
    #[arg(long, env = "OPENAI_TIMEOUT_S", default_value = "120", global = true, help_heading = HEADING, value_name = "OPENAI_TIMEOUT_S")]
    pub openai_timeout_s: Option<String>,
    /// Tasks one worker process runs at once, 1..=1024.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value = "8", global = true, help_heading = HEADING, value_name = "WORKER_CONCURRENCY")]
    pub worker_concurrency: Option<String>,
    /// Pauses before attempts 2, 3, ... in seconds; the last repeats.
    #[arg(long, env = "TASK_RETRY_DELAYS_S", default_value = "10,30", global = true, help_heading = HEADING, value_name = "TASK_RETRY_DELAYS_S")]
    pub task_retry_delays_s: Option<String>,
    /// How soon JetStream hands a silent worker's task to another, 5..=600 seconds.
    #[arg(long, env = "WORKER_ACK_WAIT_S", default_value = "30", global = true, help_heading = HEADING, value_name = "WORKER_ACK_WAIT_S")]
    pub worker_ack_wait_s: Option<String>,
    /// How long a paid task may sit untouched before the sweeper drives it, 10..=86400 seconds.
    #[arg(long, env = "TASK_STALL_S", default_value = "120", global = true, help_heading = HEADING, value_name = "TASK_STALL_S")]
    pub task_stall_s: Option<String>,
    /// Log filter in tracing syntax (e.g. info,tokenbot_ledger=debug); wins over LOG_LEVEL [default: unset].
    #[arg(long, env = "RUST_LOG", global = true, help_heading = HEADING, value_name = "RUST_LOG")]
    pub rust_log: Option<String>,
    /// Log level when RUST_LOG is unset: error, warn, info, debug, trace or off.
    #[arg(long, env = "LOG_LEVEL", default_value = "warn", global = true, help_heading = HEADING, value_name = "LOG_LEVEL")]
    pub log_level: Option<String>,
    /// text, or json for JSON lines.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true, help_heading = HEADING, value_name = "LOG_FORMAT")]
    pub log_format: Option<String>,
}

impl Environment {
    /// The name of every variable, in the order of `--help`.
    pub const NAMES: [&'static str; 49] = [
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "READ_DATABASE_URL",
        "DATABASE_WRITER_PASSWORD",
        "DATABASE_READER_PASSWORD",
        "DB_POOL_SIZE",
        "LEDGER_SIGNING_KEY",
        "LEDGER_SIGNING_KEY_FILE",
        "LEDGER_CHECKPOINT_EVERY_EVENTS",
        "LEDGER_CHECKPOINT_EVERY_S",
        "LEDGER_CHECKPOINT_RETENTION_DAYS",
        "LEDGER_PUBLIC_KEY",
        "INITIAL_TOKENS",
        "HIGH_COST_THRESHOLD",
        "MAX_TASKS_PER_USER_PER_HOUR",
        "MAX_ADMIN_GRANT",
        "TASK_MAX_ATTEMPTS",
        "PRICE_TABLE",
        "IMAGE_MODELS",
        "NATS_URL",
        "NATS_STREAM",
        "NATS_STREAM_REPLICAS",
        "NATS_SUBJECT_PREFIX",
        "HTTP_ADDR",
        "ADMIN_API_KEYS",
        "ADMIN_API_KEY",
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "TELEGRAM_LIMIT_OVERALL",
        "TELEGRAM_LIMIT_CHAT",
        "TELEGRAM_LIMIT_GROUP",
        "ADMIN_IDS",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET_TOKEN",
        "WEBHOOK_MAX_RETRIES",
        "WEBHOOK_RETRY_DELAY_SECONDS",
        "WEBHOOK_RETRY_BACKOFF",
        "SUPPORT_CONTACT",
        "TOKEN_PACKAGES",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_TIMEOUT_S",
        "WORKER_CONCURRENCY",
        "TASK_RETRY_DELAYS_S",
        "WORKER_ACK_WAIT_S",
        "TASK_STALL_S",
        "RUST_LOG",
        "LOG_LEVEL",
        "LOG_FORMAT",
    ];
}
