//! Postgres and NATS for a newcomer's first run: the configured ones when they answer, else
//! private ones started from the installed server binaries, with their data under `.tokenbot/`
//! in the current directory (removed when the demo exits).

use std::time::Duration;

use anyhow::Context;

use crate::configuration::{SecretUrl, Settings};

/// Whether a Postgres server answers at `url` (any answer, even "no such database").
async fn postgres_answers(url: &str) -> bool {
    let Ok(config) = url.parse::<tokenbot_ledger::PgConfig>() else {
        return false;
    };
    match tokio::time::timeout(Duration::from_secs(3), config.connect()).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.as_db_error().is_some(),
        Err(_) => false,
    }
}

async fn nats_answers(url: &str) -> bool {
    let Ok(servers) = crate::startup::nats_servers(url) else {
        return false;
    };
    let connect = async_nats::ConnectOptions::new().connect(servers);
    matches!(
        tokio::time::timeout(Duration::from_secs(3), connect).await,
        Ok(Ok(_))
    )
}

/// Points `settings` at servers that answer, starting private ones if needed.
pub async fn ensure(settings: &mut Settings) -> anyhow::Result<()> {
    let dir = std::env::current_dir()?.join(".tokenbot");
    let use_dir = || -> anyhow::Result<()> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        tokenbot_testkit::set_servers_dir(dir.clone());
        Ok(())
    };
    if !postgres_answers(settings.database_url.expose()).await {
        use_dir()?;
        eprintln!(
            "no Postgres answers at {}; starting a private one (data under {})",
            settings.database_url,
            dir.display()
        );
        let admin = tokenbot_testkit::start_private_postgres()
            .await
            .map_err(|e| anyhow::anyhow!("cannot start Postgres: {e}"))?;
        settings.database_url = SecretUrl::new(admin.replace("/postgres", "/tokenbot"));
    }
    if !nats_answers(settings.nats_url.expose()).await {
        use_dir()?;
        eprintln!(
            "no NATS answers at {}; starting a private nats-server with JetStream (data under {})",
            settings.nats_url,
            dir.display()
        );
        settings.nats_url = SecretUrl::new(
            tokenbot_testkit::start_private_nats()
                .await
                .map_err(|e| anyhow::anyhow!("cannot start nats-server: {e}"))?,
        );
    }
    Ok(())
}
