//! What the fake records about Stars payments (answered in `payments.rs`).

use std::collections::HashMap;

use serde_json::Value;

use crate::tg_user::TgUser;

/// An invoice the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The chat (the user's id).
    pub chat_id: i64,
    /// Its message in the chat.
    pub message_id: i64,
    /// As the bot set them.
    pub title: String,
    /// As the bot set it.
    pub description: String,
    /// The bot's payload (Telegram hands it back, it is not shown).
    pub payload: String,
    /// `XTR` for Stars.
    pub currency: String,
    /// The one price's amount.
    pub total_amount: u32,
}

/// The bot's answer to a pre-checkout query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutAnswer {
    /// Whether the bot accepted the payment.
    pub ok: bool,
    /// The reason shown to the user, for `ok=false`.
    pub error_message: Option<String>,
}

/// A payment the fake made after an `ok=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Who paid.
    pub user_id: i64,
    /// `telegram_payment_charge_id`.
    pub charge_id: String,
    /// The payload paid.
    pub payload: String,
    /// Stars paid.
    pub total_amount: u32,
    /// Whether `refundStarPayment` returned it.
    pub refunded: bool,
    /// The `successful_payment` message as delivered (for a test to deliver it again).
    pub message: Value,
}

pub(crate) struct Query {
    pub user: TgUser,
    pub payload: String,
    pub currency: String,
    pub total_amount: u32,
    pub answer: Option<PreCheckoutAnswer>,
}

/// What the fake remembers about payments.
#[derive(Default)]
pub(crate) struct Desk {
    pub invoices: Vec<Invoice>,
    pub queries: HashMap<String, Query>,
    pub payments: Vec<Payment>,
    pub seq: u64,
}
