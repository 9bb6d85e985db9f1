//! The users' side of the chaos: Telegram posting updates to the bot's webhook (again when the
//! answer was not 200, as Telegram does, and sometimes again although it was), and users who
//! register and then make pictures, tapping twice at times.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use tokenbot_fake_telegram::{TgUser, Update};

use crate::common::pipeline::Pipeline;

pub const SECRET: &str = "chaos-secret";

/// Tries of one update before the simulated Telegram gives up on it (Telegram itself keeps
/// trying for a day); a give-up is reported as a violation.
const MAX_TRIES: u32 = 30;

/// What the users did and what the webhook answered.
#[derive(Default, Debug)]
pub struct UserFigures {
    pub updates: u64,
    pub redeliveries: u64,
    pub double_taps: u64,
    pub confirms: u64,
    pub non_200: u64,
    pub given_up: u64,
}

impl UserFigures {
    pub fn add(&mut self, o: &UserFigures) {
        self.updates += o.updates;
        self.redeliveries += o.redeliveries;
        self.double_taps += o.double_taps;
        self.confirms += o.confirms;
        self.non_200 += o.non_200;
        self.given_up += o.given_up;
    }
}

/// Posts Telegram updates to the bot's webhook.
pub struct Webhook {
    url: String,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(addr: std::net::SocketAddr) -> Webhook {
        Webhook {
            url: format!("http://{addr}/webhook"),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, update: &serde_json::Value) -> u16 {
        match self
            .http
            .post(&self.url)
            .header(tokenbot_bot::webhook::SECRET_HEADER, SECRET)
            .json(update)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// Posts until the bot answers 200, as Telegram redelivers an update whose webhook call
    /// failed (bounded by [`MAX_TRIES`]).
    async fn until_accepted(&self, f: &mut UserFigures, update: &serde_json::Value) {
        for attempt in 1..=MAX_TRIES {
            if self.post(update).await == 200 {
                return;
            }
            f.non_200 += 1;
            // Telegram's pacing between redeliveries, not a wait for a result.
            let pause = Duration::from_millis(50 * u64::from(attempt)).min(Duration::from_secs(1));
            tokio::time::sleep(pause).await;
        }
        f.given_up += 1;
    }
}

/// One simulated user and the randomness of their taps.
pub struct User<'a> {
    pub p: &'a Pipeline,
    pub hook: &'a Webhook,
    pub tg: TgUser,
    pub rng: StdRng,
    pub f: UserFigures,
}

impl User<'_> {
    async fn deliver(&mut self, update: Update) {
        let json = self.p.telegram.prepare_update(update);
        self.f.updates += 1;
        self.hook.until_accepted(&mut self.f, &json).await;
        if self.rng.random_bool(0.15) {
            // Telegram did not see our answer and sends the same update again.
            self.f.redeliveries += 1;
            self.hook.until_accepted(&mut self.f, &json).await;
        }
    }

    /// `/start`.
    pub async fn register(&mut self) {
        self.deliver(Update::text(&self.tg, "/start")).await;
    }

    /// Generate, a prompt, sometimes another quality, and confirm (sometimes twice at once).
    pub async fn one_picture(&mut self, n: u32) {
        let id = self.tg.id;
        let chat = self.p.chat(self.tg.clone());
        let Some((message, data)) = chat.0.button_data("menu:generate") else {
            return;
        };
        self.deliver(Update::callback(&self.tg, message, &data))
            .await;
        self.deliver(Update::text(&self.tg, &format!("chaos picture {id} {n}")))
            .await;
        if self.rng.random_bool(0.3) {
            let q = ["low", "medium"][self.rng.random_range(0..2)];
            if let Some((message, data)) = chat.0.button_data(&format!("img:quality:{q}")) {
                self.deliver(Update::callback(&self.tg, message, &data))
                    .await;
            }
        }
        let Some((message, data)) = chat.0.button_data("confirm:yes") else {
            return;
        };
        self.f.confirms += 1;
        if self.rng.random_bool(0.3) {
            // Two taps at once: two different updates carrying the same button.
            self.f.double_taps += 1;
            self.f.updates += 2;
            let a = self
                .p
                .telegram
                .prepare_update(Update::callback(&self.tg, message, &data));
            let b = self
                .p
                .telegram
                .prepare_update(Update::callback(&self.tg, message, &data));
            let mut fa = UserFigures::default();
            let mut fb = UserFigures::default();
            tokio::join!(
                self.hook.until_accepted(&mut fa, &a),
                self.hook.until_accepted(&mut fb, &b)
            );
            self.f.add(&fa);
            self.f.add(&fb);
        } else {
            self.deliver(Update::callback(&self.tg, message, &data))
                .await;
        }
    }
}
