//! Simulated users: each follows a seeded random script through the bot's real flows (generate,
//! templates, edits, quality changes, the high-cost double confirmation, cancels, double taps,
//! buying a token package with Telegram Stars), by sending updates to the fake Telegram exactly as a Telegram client would.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokenbot_fake_openai::{Behavior, FakeOpenAi};
use tokenbot_fake_telegram::{Conversation, FakeTelegram, TgUser, Update};

/// What one user did.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    pub updates: u64,
    pub confirms: u64,
    pub cancels: u64,
    pub double_taps: u64,
    /// Prompts the fake OpenAI was told to fail (the task must end refunded).
    pub doomed: u64,
    /// Packages paid for (each must be granted once).
    pub purchases: u64,
    pub errors: Vec<String>,
}

impl Activity {
    pub fn add(&mut self, other: Activity) {
        self.updates += other.updates;
        self.confirms += other.confirms;
        self.cancels += other.cancels;
        self.double_taps += other.double_taps;
        self.doomed += other.doomed;
        self.purchases += other.purchases;
        self.errors.extend(other.errors);
    }
}

const NAMES: [&str; 6] = ["Алиса", "Bob", "Carol", "Дмитрий", "Eve", "Фёдор"];
const PROMPTS: [&str; 5] = [
    "кот в космосе",
    "a lighthouse at dusk, <oil> & watercolour",
    "город будущего под дождём",
    "a bowl of ramen, studio light",
    "горы на рассвете",
];

struct Player<'a> {
    telegram: &'a FakeTelegram,
    chat: Conversation<'a>,
    openai: &'a FakeOpenAi,
    rng: StdRng,
    done: Activity,
}

impl Player<'_> {
    async fn say(&mut self, text: &str) {
        self.done.updates += 1;
        if let Err(e) = self.chat.say(text).await {
            self.done.errors.push(e.to_string());
        }
    }

    /// Taps a button by its callback data prefix; false if the screen has none.
    async fn tap(&mut self, prefix: &str) -> bool {
        match self.chat.tap_data(prefix).await {
            None => false,
            Some(Ok(_)) => {
                self.done.updates += 1;
                true
            }
            Some(Err(e)) => {
                self.done.errors.push(e.to_string());
                false
            }
        }
    }

    fn prompt(&mut self, n: u32) -> String {
        let base = PROMPTS[self.rng.random_range(0..PROMPTS.len())];
        if self.rng.random_bool(0.1) {
            // This one fails three times at OpenAI: the user must get a refund.
            let marker = format!("[flaky {} {n}]", self.chat.id());
            self.openai
                .script_prompt(&marker, [const { Behavior::ServerError }; 3]);
            self.done.doomed += 1;
            return format!("{base} {marker}");
        }
        base.to_string()
    }

    /// From a confirmation screen: maybe change quality, then cancel or confirm (maybe twice
    /// at once, and twice in a row when the price needs it).
    async fn finish_draft(&mut self) {
        if self.rng.random_bool(0.3) {
            let q = ["low", "medium", "high"][self.rng.random_range(0..3)];
            self.tap(&format!("img:quality:{q}")).await;
        }
        if self.rng.random_bool(0.1) {
            self.tap("confirm:no").await;
            self.done.cancels += 1;
            return;
        }
        if self.rng.random_bool(0.1)
            && let Some((message, data)) = self.chat.button_data("confirm:yes")
        {
            // Two taps before the bot answers the first.
            self.chat
                .telegram
                .push_update(Update::callback(&self.chat.user, message, &data));
            self.done.double_taps += 1;
        }
        self.tap("confirm:yes").await;
        self.done.confirms += 1;
        // An expensive task asks again.
        self.tap("confirm:expensive").await;
    }

    /// "Купить токены", a package, and paying its invoice in Stars: the bot answers the
    /// pre-checkout query, the fake then delivers the payment, the bot sends the receipt.
    async fn buy(&mut self) {
        self.tap("menu:tokens").await;
        let package = ["pack_50k", "pack_150k", "pack_500k"][self.rng.random_range(0..3)];
        if !self.tap(&format!("tokens:buy:{package}")).await {
            return;
        }
        let id = self.chat.id();
        let Some(invoice) = self.telegram.invoices(id).pop() else {
            self.done
                .errors
                .push(format!("user {id}: no invoice was sent"));
            return;
        };
        let since = self.telegram.call_count();
        self.telegram.pay(&self.chat.user, &invoice);
        let receipt = self
            .telegram
            .wait_for_call(since, std::time::Duration::from_secs(30), |c| {
                c.method == "sendMessage"
                    && c.params["chat_id"].as_i64() == Some(id)
                    && c.params["text"].as_str().is_some_and(|t| t.contains("⭐"))
            })
            .await;
        match receipt {
            Ok(_) => self.done.purchases += 1,
            Err(e) => self.done.errors.push(format!("user {id}: no receipt: {e}")),
        }
    }

    async fn generate(&mut self, n: u32) {
        self.tap("menu:generate").await;
        let prompt = self.prompt(n);
        self.say(&prompt).await;
        self.finish_draft().await;
    }

    async fn template(&mut self) {
        self.tap("menu:trends").await;
        let id =
            ["cyberpunk_portrait", "anime_character", "oil_painting"][self.rng.random_range(0..3)];
        self.tap(&format!("template:{id}")).await;
        self.finish_draft().await;
    }

    async fn edit(&mut self, n: u32) {
        self.tap("menu:edit").await;
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[n as u8; 512][..]].concat();
        let photo = self
            .chat
            .telegram
            .add_file(jpeg, Some("photo.jpg"), Some("image/jpeg"));
        self.done.updates += 1;
        if let Err(e) = self
            .chat
            .deliver(Update::photo(&self.chat.user, &photo, None))
            .await
        {
            self.done.errors.push(e.to_string());
        }
        let prompt = self.prompt(n);
        self.say(&prompt).await;
        self.finish_draft().await;
    }
}

/// Plays one user's script; `seed` makes it repeatable.
pub async fn play(telegram: &FakeTelegram, openai: &FakeOpenAi, id: i64, seed: u64) -> Activity {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut user = TgUser::new(id).first_name(NAMES[rng.random_range(0..NAMES.len())]);
    if rng.random_bool(0.2) {
        user = user.lang("en");
    }
    let mut p = Player {
        telegram,
        chat: Conversation::new(telegram, user),
        openai,
        rng,
        done: Activity::default(),
    };
    p.say("/start").await;
    let tasks = p.rng.random_range(1..=3);
    for n in 0..tasks {
        match p.rng.random_range(0..10) {
            0..=5 => p.generate(n).await,
            6..=7 => p.template().await,
            _ => p.edit(n).await,
        }
    }
    if p.rng.random_bool(0.25) {
        p.buy().await;
    }
    if p.rng.random_bool(0.3) {
        p.say("/balance").await;
    }
    p.done
}
