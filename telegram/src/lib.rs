//! The Bot API client the bot and the worker share: teloxide's [`Bot`] behind one rate limiter
//! ([`Limiter`]) that keeps the messages within Telegram's limits ([`Limits`]) and honours
//! `429 Too Many Requests` by waiting the `retry_after` Telegram names and sending again.
//!
//! Every call goes through [`Telegram::message`] (a call that sends or changes a message in a
//! chat: it counts against the limits) or [`Telegram::call`] (any other: it only waits out a
//! freeze, which a 429 starts). Clones share one limiter, so the bot and the worker of one process keep to the limits
//! together. Why not teloxide's `Throttle` adaptor: see `docs/architecture.md`, "Telegram's
//! limits".

mod limiter;
mod limits;

use std::sync::Arc;

use teloxide::requests::{Output, Request};
use teloxide::types::ChatId;
use teloxide::{Bot, RequestError};

pub use limiter::Limiter;
pub use limits::{BadRate, Limits, Rate, RateSetting};

/// How many 429s in a row one call is sent again after; then the 429 is returned (the worker
/// retries later, the bot's flow fails). Telegram names when to come back, so this is only a
/// bound for a flood that does not end.
pub const MAX_REFUSALS: u32 = 20;

/// The Bot API client and the limiter every call goes through. Cheap to clone; clones share both.
#[derive(Clone, Debug)]
pub struct Telegram {
    bot: Bot,
    limiter: Arc<Limiter>,
}

impl From<Bot> for Telegram {
    /// No limits of its own; a 429 is still honoured.
    fn from(bot: Bot) -> Self {
        Telegram::new(bot, Limits::NONE)
    }
}

impl Telegram {
    /// `bot` keeping to `limits`.
    pub fn new(bot: Bot, limits: Limits) -> Self {
        Self {
            bot,
            limiter: Arc::new(Limiter::new(limits)),
        }
    }

    /// The teloxide client, to build requests with (send them through [`Telegram::message`] or
    /// [`Telegram::call`]).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// The limits it keeps to.
    pub fn limits(&self) -> Limits {
        self.limiter.limits()
    }

    /// Sends a request that sends or changes a message in `chat`, when the limits allow; after a
    /// 429, holds every call back for the `retry_after` Telegram named and sends it again.
    pub async fn message<R>(&self, chat: ChatId, request: R) -> Result<Output<R>, RequestError>
    where
        R: Request<Err = RequestError>,
    {
        self.send(Some(chat.0), request).await
    }

    /// Sends any other request (it counts against no limit); after a 429, holds every call back
    /// for the `retry_after` Telegram named and sends it again.
    pub async fn call<R>(&self, request: R) -> Result<Output<R>, RequestError>
    where
        R: Request<Err = RequestError>,
    {
        self.send(None, request).await
    }

    async fn send<R>(&self, chat: Option<i64>, request: R) -> Result<Output<R>, RequestError>
    where
        R: Request<Err = RequestError>,
    {
        let mut refusals = 0;
        loop {
            self.limiter.acquire(chat).await;
            match request.send_ref().await {
                Err(RequestError::RetryAfter(after)) if refusals < MAX_REFUSALS => {
                    refusals += 1;
                    metrics::counter!("tokenbot_telegram_retry_after_total").increment(1);
                    tracing::warn!(
                        chat,
                        retry_after = ?after.duration(),
                        "Telegram asked to slow down; sending again after the pause"
                    );
                    self.limiter.freeze(chat, after.duration());
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use teloxide::prelude::Requester;
    use tokenbot_fake_telegram::{Failure, FakeTelegram};

    use super::*;

    #[tokio::test]
    async fn a_429_is_waited_out_and_the_message_sent_again() {
        let fake = FakeTelegram::start().await.unwrap();
        let tg = Telegram::from(Bot::new(FakeTelegram::TOKEN).set_api_url(fake.api_url()));
        fake.fail_next("sendMessage", 1, Failure::retry_after(1));
        let started = tokio::time::Instant::now();
        let chat = ChatId(42);
        tg.message(chat, tg.bot().send_message(chat, "hello"))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(1), "waited");
        let sent = fake.calls_to("sendMessage");
        assert_eq!(sent.len(), 2, "refused once, then sent: {sent:?}");
        assert_eq!(sent[0].params, sent[1].params);
        assert_eq!(fake.chat(42).len(), 1, "one message in the chat");
    }
}
