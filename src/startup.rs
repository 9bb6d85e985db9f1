//! Getting a database ready: reach it, create it if it is missing, migrate it as the owner, and
//! connect as the runtime role.
//!
//! Who connects as whom (docs/operations.md, "Database roles"):
//! - the owner (`MIGRATION_DATABASE_URL`; without it, `DATABASE_URL` unless that names a runtime
//!   role) creates the database, migrates and sets the runtime roles' rights;
//! - everything else runs as `tokenbot_writer` (auditor commands as `tokenbot_reader`):
//!   `DATABASE_URL` when it names one of them or when `MIGRATION_DATABASE_URL` is set, otherwise
//!   `DATABASE_URL` with its user replaced by the role (the README's one-URL setup, where the
//!   server trusts local connections, or `DATABASE_WRITER_PASSWORD` / `DATABASE_READER_PASSWORD`).

use anyhow::Context;
use tokenbot_ledger::migrations::{migrate, schema_versions};
use tokenbot_ledger::roles::{self, Access};
use tokenbot_ledger::{Database, EventStore, Ledger, PgConfig};

use secrecy::ExposeSecret;

use crate::configuration::{SecretUrl, Settings};
use crate::telemetry::LIFECYCLE;

fn parse_url(url: &SecretUrl, name: &str) -> anyhow::Result<PgConfig> {
    PgConfig::parse(url.expose()).with_context(|| format!("{name} is not usable"))
}

/// The owner's connection, when this process has one.
fn owner_config(settings: &Settings) -> anyhow::Result<Option<PgConfig>> {
    if let Some(url) = &settings.migration_database_url {
        return Ok(Some(parse_url(url, "MIGRATION_DATABASE_URL")?));
    }
    let config = parse_url(&settings.database_url, "DATABASE_URL")?;
    let runtime = config.get_user().is_some_and(roles::is_runtime_role);
    Ok((!runtime).then_some(config))
}

/// The runtime role's connection for `access`, and whether it was derived from the owner's URL.
fn runtime_config(settings: &Settings, access: Access) -> anyhow::Result<(PgConfig, bool)> {
    let mut config = parse_url(&settings.database_url, "DATABASE_URL")?;
    let named = config.get_user().is_some_and(roles::is_runtime_role);
    if named || settings.migration_database_url.is_some() {
        return Ok((config, false));
    }
    let password = match access {
        Access::Write => settings.writer_password.as_ref(),
        Access::Read => settings.reader_password.as_ref(),
    };
    config.user(access.role());
    config.password(password.map(|p| p.expose_secret()).unwrap_or_default());
    Ok((config, true))
}

/// Connects as the runtime role, naming what to set when that fails.
async fn connect_runtime(settings: &Settings, access: Access) -> anyhow::Result<Database> {
    let (config, derived) = runtime_config(settings, access)?;
    let db = Database::from_config(config, settings.db_pool_size)?;
    if let Err(e) = db.check().await {
        let role = access.role();
        return Err(if derived {
            anyhow::Error::new(e).context(format!(
                "cannot connect as {role} (DATABASE_URL with its user replaced: the running system \
                 never connects as the owner); set DATABASE_WRITER_PASSWORD / \
                 DATABASE_READER_PASSWORD, or DATABASE_URL to the runtime role's URL and \
                 MIGRATION_DATABASE_URL to the owner's (docs/operations.md, \"Database roles\")"
            ))
        } else {
            e.into()
        });
    }
    if access == Access::Write {
        warn_if_owner(&db).await;
    }
    Ok(db)
}

/// A runtime connection that could rewrite the ledger defeats the roles: say so.
async fn warn_if_owner(db: &Database) {
    let Ok(client) = db.pool().get().await else {
        return;
    };
    let can_rewrite = client
        .query_one(
            "SELECT to_regclass('ledger.events') IS NOT NULL \
                AND (has_table_privilege('ledger.events', 'UPDATE') \
                     OR pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'ledger.events'::regclass), 'MEMBER'))",
            &[],
        )
        .await
        .and_then(|r| r.try_get::<_, bool>(0));
    if let Ok(true) = can_rewrite {
        tracing::warn!(
            target: LIFECYCLE,
            "DATABASE_URL connects as {}, which can change or delete ledger events; run the \
             system as {} (docs/operations.md, \"Database roles\")",
            db.user(),
            roles::WRITER_ROLE
        );
    }
}

/// The owner's database, created when the server is reachable but the database is not there
/// yet (a fresh machine), and migrated (which also sets the runtime roles' rights).
pub async fn owner_database(settings: &Settings) -> anyhow::Result<Database> {
    let config = owner_config(settings)?.with_context(|| {
        format!(
            "DATABASE_URL connects as a runtime role ({}), which cannot change the schema: set \
             MIGRATION_DATABASE_URL to the owner's URL",
            parse_url(&settings.database_url, "DATABASE_URL")
                .ok()
                .and_then(|c| c.get_user().map(str::to_string))
                .unwrap_or_default()
        )
    })?;
    // Migrations and table swaps use a few connections at most.
    let db = Database::from_config(config, 4)?;
    if let Err(first) = db.check().await {
        if !missing_database(&first) {
            return Err(first.into());
        }
        create_database(&db).await?;
        db.check().await?;
    }
    let applied = migrate(&db).await?;
    for m in &applied {
        tracing::info!(migration = %m, "applied");
    }
    let mut client = db.dedicated().await?;
    for (role, password) in [
        (roles::WRITER_ROLE, &settings.writer_password),
        (roles::READER_ROLE, &settings.reader_password),
    ] {
        if let Some(password) = password {
            roles::set_password(&mut client, role, password.expose_secret())
                .await
                .with_context(|| format!("cannot set the password of {role}"))?;
        }
    }
    Ok(db)
}

/// Refuses to run against a schema older than this build when there is no owner to migrate it.
async fn require_current_schema(db: &Database) -> anyhow::Result<()> {
    let (needed, found) = schema_versions(db).await?;
    if found < needed {
        anyhow::bail!(
            "the database schema is at version {found} but this tokenbot needs {needed}, and \
             {} cannot migrate: run `tokenbot migrate` with MIGRATION_DATABASE_URL set to the \
             owner's URL",
            db.user()
        );
    }
    Ok(())
}

/// The ledger for the running system: migrated by the owner when this process has the owner's
/// URL (otherwise the schema must already be current), used as the writer role.
pub async fn ledger(settings: &Settings) -> anyhow::Result<Ledger> {
    let migrated = match owner_config(settings)? {
        Some(_) => Some(owner_database(settings).await?),
        None => None,
    };
    let db = connect_runtime(settings, Access::Write).await?;
    if migrated.is_none() {
        require_current_schema(&db).await?;
    }
    Ok(Ledger::new(EventStore::new(db), settings.ledger.clone()))
}

/// The ledger for the auditor's commands: the reader role, never migrating.
pub async fn ledger_readonly(settings: &Settings) -> anyhow::Result<Ledger> {
    ledger_as(settings, Access::Read).await
}

/// The ledger as a runtime role, without migrating (the `ledger` commands never change the
/// schema).
pub async fn ledger_as(settings: &Settings, access: Access) -> anyhow::Result<Ledger> {
    let db = connect_runtime(settings, access).await?;
    Ok(Ledger::new(EventStore::new(db), settings.ledger.clone()))
}

/// The read replica of `READ_DATABASE_URL`, used with the URL as given (name a read-only role in
/// it; a hot standby refuses writes whatever the role), not yet connected; `None` when unset.
pub fn read_database(settings: &Settings) -> anyhow::Result<Option<Database>> {
    let Some(url) = &settings.read_database_url else {
        return Ok(None);
    };
    let config = parse_url(url, "READ_DATABASE_URL")?;
    Ok(Some(Database::from_config(config, settings.db_pool_size)?))
}

/// [`read_database`] for the admin API: not reachable at start is a warning, not a failure
/// (writes do not need it, and `/health` reports it as `postgres_read`).
pub async fn read_pool(settings: &Settings) -> anyhow::Result<Option<deadpool_postgres::Pool>> {
    let Some(db) = read_database(settings)? else {
        return Ok(None);
    };
    if let Err(e) = db.check().await {
        tracing::warn!(
            target: LIFECYCLE,
            error = %tokenbot_ledger::error::chain(&e),
            "READ_DATABASE_URL is not reachable yet: the admin API's read endpoints answer 503 until it is"
        );
    }
    Ok(Some(db.pool().clone()))
}

fn missing_database(e: &tokenbot_ledger::DbError) -> bool {
    use std::error::Error;
    let mut source: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(pg) = s.downcast_ref::<tokio_postgres::Error>() {
            return pg.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME);
        }
        source = s.source();
    }
    false
}

async fn create_database(db: &Database) -> anyhow::Result<()> {
    let name = db
        .config()
        .get_dbname()
        .context("DATABASE_URL names no database")?
        .to_string();
    let mut admin = db.config().clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect()
        .await
        .with_context(|| format!("cannot connect to the 'postgres' database to create {name:?}"))?;
    tokio::spawn(connection);
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match client
        .batch_execute(&format!("CREATE DATABASE {quoted}"))
        .await
    {
        Ok(()) => {
            tracing::info!(target: LIFECYCLE, "created database {name}");
            Ok(())
        }
        // Someone else created it in the meantime.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create database {name:?}")),
    }
}

/// Connects to NATS; keeps retrying in the background when it is down at start (appends do not
/// need it, and the relay catches up once it is back).
pub async fn jetstream(settings: &Settings) -> anyhow::Result<async_nats::jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .name("tokenbot")
        .retry_on_initial_connect()
        .connect(nats_servers(settings.nats_url.expose())?)
        .await
        .with_context(|| {
            format!(
                "NATS_URL={:?} is not a usable NATS address",
                settings.nats_url
            )
        })?;
    Ok(async_nats::jetstream::new(client))
}

/// The servers of NATS_URL, which may list several separated by commas (the nodes of a
/// cluster), so that a process reconnects to another node when its own is lost.
///
/// async-nats parses a `&str` as one address (`ToServerAddrs for str` in async-nats' lib.rs),
/// so a comma-separated list must be split here. The error names the entry's place, not its
/// text, which may hold a password.
pub fn nats_servers(url: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    url.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(i, entry)| {
            entry.parse::<async_nats::ServerAddr>().map_err(|e| {
                anyhow::anyhow!(
                    "NATS_URL: server {} of the list is not a NATS URL: {e}",
                    i + 1
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .and_then(|servers| {
            anyhow::ensure!(!servers.is_empty(), "NATS_URL names no server");
            Ok(servers)
        })
}

/// Resolves on Ctrl-C or SIGTERM, then cancels `shutdown`.
pub fn cancel_on_signal(shutdown: tokenbot_ledger::shutdown::Shutdown) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "no SIGTERM handler; Ctrl-C only");
                        let _ = ctrl_c.await;
                        shutdown.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!(target: LIFECYCLE, "shutting down: finishing work in hand");
        shutdown.cancel();
    });
}

#[cfg(test)]
mod tests {
    use super::nats_servers;

    #[test]
    fn nats_url_may_list_a_cluster() {
        let servers = nats_servers("nats://a:4222, nats://u:p@b:4223 ,nats://c:4224").unwrap();
        let hosts: Vec<_> = servers
            .iter()
            .map(|s| (s.host().to_string(), s.port()))
            .collect();
        assert_eq!(
            hosts,
            [("a".into(), 4222), ("b".into(), 4223), ("c".into(), 4224)]
        );
        assert_eq!(nats_servers("nats://127.0.0.1:4222").unwrap().len(), 1);
        assert!(nats_servers(" , ").is_err());
        let err = nats_servers("nats://a:1,nats://u:secret@b:notaport")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server 2") && !err.contains("secret"), "{err}");
    }
}
