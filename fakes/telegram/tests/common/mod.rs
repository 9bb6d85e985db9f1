//! What every test of the fake starts with: the fake, and the real teloxide client pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use teloxide::Bot;
use tokenbot_fake_telegram::FakeTelegram;

/// How long a test waits for a call it expects.
pub const WAIT: Duration = Duration::from_secs(5);

/// A fresh fake and a client of it.
pub async fn setup() -> (FakeTelegram, Bot) {
    let fake = FakeTelegram::start().await.expect("fake starts");
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(fake.api_url());
    (fake, bot)
}
