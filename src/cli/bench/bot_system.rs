//! The bot under test in `bench bot`: the bot role alone (no relay, projector or worker, whose
//! work would share the two cores with it), started through [`System`] as `tokenbot bot` runs
//! it, against a fake Bot API, in long polling or webhook mode.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::SecretString;
use tokenbot_fake_telegram::FakeTelegram;
use tokenbot_ledger::Ledger;

use super::bot_drive::Mode;
use crate::configuration::{Settings, WebhookSettings};
use crate::system::{System, SystemHandle};

/// What every run of the benchmark shares.
pub(crate) struct BotBench<'a> {
    pub settings: &'a Settings,
    pub js: async_nats::jetstream::Context,
    /// The runtime of the simulated users and the fake.
    pub driver: &'a tokio::runtime::Handle,
}

impl BotBench<'_> {
    /// Starts the bot on `ledger` against `tg`.
    pub(crate) async fn start_bot(
        &self,
        ledger: Ledger,
        tg: &FakeTelegram,
        mode: Mode,
    ) -> anyhow::Result<SystemHandle> {
        let mut settings = self.settings.clone();
        settings.telegram.bot_token = Some(SecretString::from(FakeTelegram::TOKEN));
        settings.telegram.api_url = Some(tg.api_url());
        settings.telegram.admin_ids = vec![];
        // The bot's own capacity is measured here, so nothing holds its calls back: with
        // Telegram's limits kept (30 messages a second), every run would measure the limiter.
        // What those limits do to a crowd is the drain figure (bot_limits.rs).
        settings.telegram.limits = tokenbot_telegram::Limits::NONE;
        settings.telegram.webhook = None;
        if mode == Mode::Webhook {
            let port = tokenbot_testkit::free_port();
            settings.http_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            settings.telegram.webhook = Some(WebhookSettings {
                url: format!("http://127.0.0.1:{port}/webhook").parse()?,
                secret: SecretString::from("bench-bot-secret"),
                max_retries: 1,
                retry_delay: Duration::from_secs(1),
                backoff: 2.0,
            });
        }
        System::builder(settings)
            .ledger(ledger)
            .jetstream(self.js.clone())
            .bot()
            .start()
            .await
    }
}
