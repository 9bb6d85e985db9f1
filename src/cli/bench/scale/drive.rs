//! The users of the scenario: each registers and makes pictures (/start, the "generate" tap, a
//! prompt, the confirm tap) through the round-robin proxy, as Telegram delivers: an update whose
//! webhook call failed or answered non-2xx is sent again, the same update, after a short pause.
//! Users go on until the faults are over and each made its pictures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokenbot_fake_telegram::{FakeTelegram, TgUser};

use super::super::bot_drive::generate_update;
use super::fleet::WEBHOOK_SECRET;

/// Sends of one update before the simulated Telegram gives up on it (Telegram keeps trying for
/// a day; a give-up is a violation).
const MAX_TRIES: u32 = 40;

/// What the users did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DriveFigures {
    /// Updates handed to the proxy (each counted once, however often it was sent).
    pub updates: u64,
    /// Sends again after a failed or non-2xx answer.
    pub resends: u64,
    /// Updates given up after [`MAX_TRIES`] sends.
    pub given_up: u64,
    /// Confirm taps sent (each is one paid task unless the flow broke before).
    pub confirms: u64,
    /// Flows begun again from /start because the button the next step taps was not on screen
    /// (its update's reply was lost with a killed process).
    pub flows_restarted: u64,
}

impl DriveFigures {
    fn add(&mut self, o: &DriveFigures) {
        self.updates += o.updates;
        self.resends += o.resends;
        self.given_up += o.given_up;
        self.confirms += o.confirms;
        self.flows_restarted += o.flows_restarted;
    }
}

/// Posts updates to the proxy's webhook URL with the secret header.
struct Sender {
    url: String,
    http: reqwest::Client,
}

impl Sender {
    /// Sends until a 2xx, as Telegram does; pauses grow a little between tries (Telegram's
    /// pacing of redeliveries, not a wait for a result).
    async fn until_accepted(&self, f: &mut DriveFigures, update: &serde_json::Value) {
        f.updates += 1;
        for attempt in 1..=MAX_TRIES {
            let sent = self
                .http
                .post(&self.url)
                .header(tokenbot_bot::webhook::SECRET_HEADER, WEBHOOK_SECRET)
                .json(update)
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            f.resends += 1;
            let pause = Duration::from_millis(50 * u64::from(attempt)).min(Duration::from_secs(1));
            tokio::time::sleep(pause).await;
        }
        f.given_up += 1;
    }
}

/// A user reads the screen before the next tap: a seeded pause of this many milliseconds.
const THINK_MS: std::ops::RangeInclusive<u64> = 100..=600;

/// One user's flows: at least `rounds` pictures, and more while `faults_over` is false.
async fn user(
    tg: &FakeTelegram,
    sender: &Sender,
    id: i64,
    run: &Run,
    faults_over: &AtomicBool,
) -> DriveFigures {
    let user = TgUser::new(id);
    let mut rng = StdRng::seed_from_u64(run.seed.wrapping_add(id as u64));
    let mut f = DriveFigures::default();
    // A flow that keeps breaking must not loop for ever.
    let restarts_allowed = 10 * run.rounds as u64;
    let mut round = 0;
    while round < run.rounds || !faults_over.load(Ordering::Relaxed) {
        let mut step = 0;
        while step < 4 {
            let Ok(update) = generate_update(tg, &user, step) else {
                f.flows_restarted += 1;
                if f.flows_restarted > restarts_allowed {
                    return f;
                }
                step = 0;
                continue;
            };
            if step == 3 {
                f.confirms += 1;
            }
            let json = tg.prepare_update(update);
            sender.until_accepted(&mut f, &json).await;
            step += 1;
            tokio::time::sleep(Duration::from_millis(rng.random_range(THINK_MS))).await;
        }
        round += 1;
    }
    f
}

/// What every user of a drive shares.
pub struct Run {
    /// Users at once, with ids from `first_id`.
    pub users: usize,
    /// The first user's Telegram id.
    pub first_id: i64,
    /// Pictures each user makes at least.
    pub rounds: usize,
    /// Seed of the users' pauses.
    pub seed: u64,
}

/// Runs the users at once until each made its pictures and `faults_over` is set.
pub async fn drive(
    tg: &FakeTelegram,
    webhook_url: String,
    run: &Run,
    faults_over: Arc<AtomicBool>,
) -> DriveFigures {
    let sender = Sender {
        url: webhook_url,
        http: reqwest::Client::new(),
    };
    let flows = (0..run.users).map(|u| {
        let (sender, faults_over) = (&sender, &faults_over);
        async move { user(tg, sender, run.first_id + u as i64, run, faults_over).await }
    });
    let mut total = DriveFigures::default();
    for f in futures::future::join_all(flows).await {
        total.add(&f);
    }
    total
}
