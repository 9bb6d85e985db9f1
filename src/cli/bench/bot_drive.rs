//! The simulated users of `bench bot`: each sends its updates one after another, all users at
//! once, through the fake Bot API, in long polling or webhook mode. The same driver and the same
//! fake serve the real bot and the echo baseline.
//!
//! An update counts as handled at its last Bot API call, as the fake timestamped it when the
//! request arrived. Webhook: the driver learns that no further call follows from the answer to
//! its POST (the bot answers once it handled the update). Long polling: a lone user goes through
//! the flow first, each step confirmed by the bot asking for updates past it (it confirms an
//! update only once handled), which tells how many calls each step makes; the timed users then
//! go on as people do, as soon as their step's calls arrived, not when the bot's offset passed
//! their update (it waits for every older update of every chat: users waiting on it would march
//! in step with the slowest chat, which no user of a real bot does). The latency is from handing
//! the update over (queueing it for getUpdates, or starting the POST) to that call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokenbot_fake_telegram::{Conversation, FakeTelegram, TgUser, Update};

use super::cpu::{CpuSample, CpuUse};
use super::support::quantile;

/// How updates reach the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The bot calls getUpdates.
    Polling,
    /// The fake POSTs each update to the bot's webhook.
    Webhook,
}

/// What each simulated user does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// /start, the "generate" button, a prompt, "confirm": the bot registers the user, keeps the
    /// dialogue and debits the ledger.
    Generate,
    /// Four text messages, each answered with one message by the echo bot.
    Echo,
}

/// The prefix of the driver runtime's thread names, whose CPU is the driver's.
pub(crate) const DRIVER_THREADS: &str = "bench-driver";
/// How long one update may take before the run fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// One side of a comparison (the bot or the echo baseline) at one size.
#[derive(Serialize, Clone, Copy)]
pub(crate) struct Side {
    pub updates: u64,
    pub updates_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu: CpuUse,
    /// Long polling: what getUpdates cost during the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polls: Option<Polls>,
}

/// The getUpdates of a long-polling run. An update in hand stays above the offset, so every
/// answer until the offset passes it carries it again: `downloads_per_update` is how many times
/// the bot received (and parsed) each update on average, 1 at best.
#[derive(Serialize, Clone, Copy)]
pub(crate) struct Polls {
    pub answered: u64,
    pub updates_per_answer: f64,
    pub downloads_per_update: f64,
}

/// How the driver learns that an update is handled (see the module's doc).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handled {
    /// Long polling: the bot asked for updates past it.
    PolledPast,
    /// Long polling: the chat received this many calls since the update was handed over.
    Calls(usize),
    /// Webhook: the POST was answered.
    Answered,
}

/// Hands one update over and waits until it is handled; milliseconds to its last Bot API call,
/// and how many calls of the chat it made.
pub(crate) async fn step_ms(
    tg: &FakeTelegram,
    handled: Handled,
    chat: i64,
    update: Update,
) -> anyhow::Result<(f64, usize)> {
    let since = tg.chat_call_count(chat);
    let handed = Instant::now();
    match handled {
        Handled::PolledPast => {
            let id = tg.push_update(update);
            tg.wait_polled_past(id, STEP_TIMEOUT).await?;
        }
        Handled::Calls(n) => {
            tg.push_update(update);
            let nth = since + n.max(1) - 1;
            tg.wait_for_chat_call(chat, nth, STEP_TIMEOUT, |_| true)
                .await?;
        }
        Handled::Answered => {
            let status = tokio::time::timeout(STEP_TIMEOUT, tg.post_webhook(update))
                .await
                .context("the webhook did not answer in time")??;
            anyhow::ensure!(status == 200, "the webhook answered {status}");
        }
    }
    let calls = tg.chat_calls_since(chat, since);
    let last = calls
        .last()
        .with_context(|| format!("the bot made no Bot API call for an update of chat {chat}"))?;
    let ms = last.at.saturating_duration_since(handed).as_secs_f64() * 1000.0;
    Ok((ms, calls.len()))
}

/// The update tapping the newest button whose callback data starts with `prefix`.
pub(crate) fn tap(tg: &FakeTelegram, user: &TgUser, prefix: &str) -> anyhow::Result<Update> {
    let (message, data) = Conversation::new(tg, user.clone())
        .button_data(prefix)
        .with_context(|| format!("no {prefix} button for user {}", user.id))?;
    Ok(Update::callback(user, message, &data))
}

/// The updates of the generate flow: what each is, and whether it runs a ledger command
/// ("command"), only reads the ledger ("read"), or neither ("none").
pub(crate) const GENERATE_FLOW: [(&str, &str); 4] = [
    ("/start", "command"),
    ("generate tap", "none"),
    ("prompt", "read"),
    ("confirm tap", "command"),
];

/// The `i`-th update of `user`'s generate flow (a tap finds its button in the chat).
pub(crate) fn generate_update(
    tg: &FakeTelegram,
    user: &TgUser,
    i: usize,
) -> anyhow::Result<Update> {
    Ok(match i {
        0 => Update::text(user, "/start"),
        1 => tap(tg, user, "menu:generate")?,
        2 => Update::text(user, "a benchmark picture"),
        _ => tap(tg, user, "confirm:yes")?,
    })
}

/// Times each user goes through its flow: long enough that the echo's shortest run spans many
/// of `/proc`'s 10 ms CPU ticks (a registered user's `/start` says "welcome back"; the welcome
/// grant pays for every round's picture).
pub(crate) const ROUNDS: usize = 3;

/// One user's updates, each handed over once the previous one is handled (`calls`: the
/// number of calls each step makes, known from a lone user; None: learn it); the latency of
/// each, and the calls each made.
async fn user(
    tg: &FakeTelegram,
    mode: Mode,
    flow: Flow,
    id: i64,
    calls: Option<&[usize]>,
) -> anyhow::Result<(Vec<f64>, Vec<usize>)> {
    let user = TgUser::new(id);
    let mut times = Vec::with_capacity(4 * ROUNDS);
    let mut made = Vec::with_capacity(4 * ROUNDS);
    for (step, i) in (0..4).cycle().take(4 * ROUNDS).enumerate() {
        let update = match flow {
            Flow::Echo => Update::text(&user, ["/start", "one", "two", "three"][i]),
            Flow::Generate => generate_update(tg, &user, i)?,
        };
        let handled = match (mode, calls) {
            (Mode::Webhook, _) => Handled::Answered,
            (Mode::Polling, None) => Handled::PolledPast,
            (Mode::Polling, Some(c)) => Handled::Calls(c.get(step).copied().unwrap_or(1)),
        };
        let (ms, n) = step_ms(tg, handled, id, update).await?;
        times.push(ms);
        made.push(n);
    }
    Ok((times, made))
}

/// Runs `users` users (ids from `first_id`) at once on the driver runtime; `database` is the one
/// whose Postgres backends' CPU the phase reports.
pub(crate) async fn drive(
    driver: &tokio::runtime::Handle,
    tg: Arc<FakeTelegram>,
    mode: Mode,
    flow: Flow,
    users: u64,
    first_id: i64,
    database: Option<&str>,
) -> anyhow::Result<Side> {
    // The lone user who learns each step's calls, outside the timed run (its id follows them).
    let calls = match mode {
        Mode::Polling => {
            let tg = tg.clone();
            let lone = first_id + users as i64;
            let (_, calls) = driver
                .spawn(async move { user(&tg, mode, flow, lone, None).await })
                .await??;
            Some(Arc::new(calls))
        }
        Mode::Webhook => None,
    };
    let fake = tg.clone();
    let polls_before = fake.polls_answered();
    let before = CpuSample::take(DRIVER_THREADS, database);
    let started = Instant::now();
    let run = driver.spawn(async move {
        let flows = (0..users).map(|u| {
            let (tg, calls) = (tg.clone(), calls.clone());
            async move {
                user(
                    &tg,
                    mode,
                    flow,
                    first_id + u as i64,
                    calls.as_deref().map(Vec::as_slice),
                )
                .await
            }
        });
        futures::future::join_all(flows).await
    });
    let mut times = Vec::new();
    for done in run.await? {
        times.extend(done?.0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = before.until(&CpuSample::take(DRIVER_THREADS, database));
    let polls = (mode == Mode::Polling).then(|| {
        let (answers, handed) = fake.polls_answered();
        let (answers, handed) = (answers - polls_before.0, handed - polls_before.1);
        Polls {
            answered: answers,
            updates_per_answer: handed as f64 / answers.max(1) as f64,
            downloads_per_update: handed as f64 / times.len().max(1) as f64,
        }
    });
    times.sort_by(f64::total_cmp);
    Ok(Side {
        updates: times.len() as u64,
        updates_per_s: times.len() as f64 / elapsed,
        p50_ms: quantile(&times, 0.5),
        p99_ms: quantile(&times, 0.99),
        max_ms: times.last().copied().unwrap_or_default(),
        cpu,
        polls,
    })
}

/// A runtime of its own for the driver and the fake (one thread, named for [`DRIVER_THREADS`]),
/// so that their CPU can be told from the bot's.
pub(crate) fn driver_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(DRIVER_THREADS)
        .enable_all()
        .build()
}

/// Starts a fake Bot API on the driver runtime, numbering updates from `first_update`.
pub(crate) async fn start_fake(
    driver: &tokio::runtime::Handle,
    first_update: i64,
) -> anyhow::Result<Arc<FakeTelegram>> {
    let tg = driver
        .spawn(FakeTelegram::start())
        .await?
        .context("cannot start the fake Telegram Bot API")?;
    tg.start_update_ids_at(first_update);
    Ok(Arc::new(tg))
}
