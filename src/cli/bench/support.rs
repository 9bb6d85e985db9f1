//! What every benchmark needs: a scratch database, a loop that counts operations per second,
//! accounts rich enough for any phase, quantiles, and the section of docs/benchmarks.md it
//! rewrites.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokenbot_ledger::Database;
use tokenbot_ledger::migrations::migrate;

use crate::configuration::Settings;

/// A scratch database next to the configured one, dropped afterwards.
pub(crate) struct ScratchDb {
    admin: tokenbot_ledger::PgConfig,
    name: String,
}

impl ScratchDb {
    pub(crate) async fn create(
        settings: &Settings,
        what: &str,
    ) -> anyhow::Result<(Self, Database)> {
        let base = Database::connect_lazy(settings.database_url.expose(), 1)?;
        let mut admin = base.config().clone();
        admin.dbname("postgres");
        let name = format!("tokenbot_bench_{what}_{}", std::process::id());
        let (client, conn) = admin
            .connect()
            .await
            .context("cannot reach Postgres for the benchmark")?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut cfg = admin.clone();
        cfg.dbname(&name);
        let url = config_url(&cfg);
        let db = Database::connect(&url, 64).await?;
        migrate(&db).await?;
        Ok((Self { admin, name }, db))
    }

    pub(crate) async fn drop_db(self) -> anyhow::Result<()> {
        let (client, conn) = self.admin.connect().await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

pub(crate) fn config_url(cfg: &tokenbot_ledger::PgConfig) -> String {
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let user = cfg.get_user().unwrap_or("postgres");
    let password = cfg
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let db = cfg.get_dbname().unwrap_or("postgres");
    let tls = cfg.tls_query();
    format!("postgres://{user}{password}@{host}:{port}/{db}?{tls}")
}

/// Runs `writers` loops of `op` for `duration`; returns completed operations per second.
pub(crate) async fn measure<F, Fut>(
    writers: usize,
    duration: Duration,
    op: F,
) -> anyhow::Result<f64>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(writers);
    for w in 0..writers {
        let op = op.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                op(w, i).await?;
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Opens `n` accounts numbered from `first`, each holding a billion tokens (so that no benchmark
/// phase runs out).
pub(crate) async fn open_rich_accounts(
    ledger: &tokenbot_ledger::Ledger,
    first: i64,
    n: usize,
) -> anyhow::Result<Vec<tokenbot_ledger::TelegramId>> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = tokenbot_ledger::TelegramId::new(first + i as i64)?;
        let ctx = tokenbot_ledger::CommandContext::new(tokenbot_ledger::Actor::system("bench"));
        ledger
            .open_account(
                &ctx,
                tokenbot_ledger::events::AccountOpened {
                    telegram_id: user,
                    username: None,
                    first_name: None,
                    language_code: None,
                },
            )
            .await?;
        ledger
            .grant(
                &ctx,
                user,
                tokenbot_ledger::Tokens::from_const(1_000_000_000),
                tokenbot_ledger::GrantKind::Import,
                None,
            )
            .await?;
        users.push(user);
    }
    Ok(users)
}

/// Replaces the `<!-- bench:{key}:start/end -->` section of docs/benchmarks.md (adding it under
/// `## {title}` when missing).
pub(crate) fn replace_section(key: &str, title: &str, body: &str) -> anyhow::Result<()> {
    let path = Path::new("docs/benchmarks.md");
    let start = format!("<!-- bench:{key}:start -->");
    let end = format!("<!-- bench:{key}:end -->");
    let section = format!("{start}\n{body}\n{end}");
    let current = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let updated = match (current.find(&start), current.find(&end)) {
        (Some(s), Some(e)) if e > s => {
            format!("{}{}{}", &current[..s], section, &current[e + end.len()..])
        }
        _ => format!("{}\n## {title}\n\n{section}\n", current.trim_end()),
    };
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("updated {} ({key})", path.display());
    Ok(())
}

/// The value at quantile `q` (0..=1) of `sorted`.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
