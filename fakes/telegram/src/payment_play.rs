//! The test's side of a Stars payment: the invoices the bot sent, a payment played as the user
//! (its `pre_checkout_query`), the bot's answer, the payments made, a redelivery.

use serde_json::json;

use crate::fake::FakeTelegram;
use crate::payment_records::{Invoice, Payment, PreCheckoutAnswer, Query};
use crate::tg_user::TgUser;
use crate::updates::Update;
use crate::wire;

impl FakeTelegram {
    /// The invoices the bot sent to `chat_id`, oldest first.
    pub fn invoices(&self, chat_id: i64) -> Vec<Invoice> {
        let inner = self.state().lock();
        inner
            .payments
            .invoices
            .iter()
            .filter(|i| i.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// The user starts paying `invoice`: queues the `pre_checkout_query` Telegram sends and
    /// returns its id. An `ok=true` answer queues the `successful_payment` message.
    pub fn pay(&self, user: &TgUser, invoice: &Invoice) -> String {
        self.pre_checkout(
            user,
            &invoice.payload,
            &invoice.currency,
            invoice.total_amount,
        )
    }

    /// A pre-checkout query with any payload, currency and amount (a forged or stale invoice).
    pub fn pre_checkout(
        &self,
        user: &TgUser,
        payload: &str,
        currency: &str,
        total_amount: u32,
    ) -> String {
        let id = {
            let mut inner = self.state().lock();
            inner.payments.seq += 1;
            let id = format!("{}{:06}", user.id, inner.payments.seq);
            inner.payments.queries.insert(
                id.clone(),
                Query {
                    user: user.clone(),
                    payload: payload.to_owned(),
                    currency: currency.to_owned(),
                    total_amount,
                    answer: None,
                },
            );
            let body = inner.deliver(&Update::raw(json!({
                "pre_checkout_query": {
                    "id": id,
                    "from": wire::user(user),
                    "currency": currency,
                    "total_amount": total_amount,
                    "invoice_payload": payload,
                }
            })));
            inner.queue.push_back(body);
            id
        };
        self.state().updates_changed();
        id
    }

    /// The bot's answer to a pre-checkout query, once it has answered.
    pub fn pre_checkout_answer(&self, query_id: &str) -> Option<PreCheckoutAnswer> {
        let inner = self.state().lock();
        inner.payments.queries.get(query_id)?.answer.clone()
    }

    /// Every payment made, oldest first.
    pub fn payments(&self) -> Vec<Payment> {
        self.state().lock().payments.payments.clone()
    }

    /// Delivers a payment's `successful_payment` message again (a redelivery, as after a
    /// webhook retry or a second process), under a new update id.
    pub fn redeliver_payment(&self, payment: &Payment) -> i64 {
        let id = {
            let mut inner = self.state().lock();
            let body = inner.deliver(&Update::raw(json!({ "message": payment.message })));
            let id = inner.next_update_id;
            inner.queue.push_back(body);
            id
        };
        self.state().updates_changed();
        id
    }
}
