//! A fake Telegram Bot API for tests: a real HTTP server on loopback that speaks the Bot API's
//! wire format closely enough for teloxide 0.17, keeps every chat as the user would see it,
//! and records every call.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tokenbot_fake_telegram::{FakeTelegram, TgUser, Update};
//! let tg = FakeTelegram::start().await?;
//! // teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(tg.api_url())
//! let user = TgUser::new(42).lang("en");
//! tg.push_update(Update::text(&user, "/start"));
//! # Ok(()) }
//! ```
//!
//! What it checks as Telegram does: the token (401), empty and too long texts and captions,
//! `parse_mode=HTML` markup (stricter than Telegram about a bare `&` or `>`), callback data
//! over 64 bytes, "message is not modified" edits, unknown messages and file ids, getUpdates
//! while a webhook is set and two concurrent getUpdates (409), and, when asked, flood control
//! (429 with `retry_after` over configured limits: [`FakeTelegram::enforce_limits`]) and slow
//! answers to one chat ([`FakeTelegram::slow_chat`]). What it does not: groups and
//! channels (a chat is a private chat with a user; positive ids the fake has not seen are
//! accepted as such), Markdown parsing, file URLs, inline mode, payments other than Telegram
//! Stars (`payments.rs`: invoices, a payment played by the test, refunds), and every method
//! not listed in [`FakeTelegram`], which answers 404 "Not Found: method not found".
//!
//! Message ids are per chat and shared by the user's messages (numbered when delivered) and
//! the bot's, as in a real private chat.
//!
//! Calls are also filed by chat (`answerCallbackQuery` under the chat of the tapped button) and
//! timestamped: [`FakeTelegram::chat_calls_since`] and [`FakeTelegram::wait_for_chat_call`] read
//! and wait for one chat's calls only, and [`FakeTelegram::wait_polled_past`] for the bot's
//! offset, so that a driver of a thousand chats at once pays per chat, not per call of the whole
//! log (what [`Conversation`] and `tokenbot bench bot` use).

mod chat_index;
pub mod conversation;
mod dispatch;
mod fake;
mod flood;
mod html;
mod media;
mod messages;
mod methods;
mod payment_play;
mod payment_records;
mod payments;
mod records;
mod request;
mod server;
mod slow_and_flood;
mod state;
mod tg_user;
pub mod updates;
mod wire;

pub use conversation::{Conversation, Outcome};
pub use fake::FakeTelegram;
pub use flood::{FloodLimits, Refused, Window};
pub use payment_records::{Invoice, Payment, PreCheckoutAnswer};
pub use records::{
    BotCommand, Button, Call, ChatMessage, CommandSet, Failure, FileRef, Uploaded, WaitTimeout,
    WebhookInfo,
};
pub use updates::{TgUser, Update};
