//! Every user-visible string of the bot and the worker, in Russian (the original bot's texts, the
//! default) and English (for users whose Telegram language is `en*`).
//!
//! The words live in Fluent resources, `locales/<lang>/*.ftl`, compiled into the binary (nothing
//! is read from disk at run time) and formatted with CLDR plural rules; this crate is the typed
//! face of them: one function per message, taking domain types, so a call site reads
//! `texts::welcome_new(lang, balance)` and a key or variable that does not match the resources
//! fails the tests rather than a user's screen (see `checks.rs`).
//!
//! Messages are Telegram HTML unless a function says "plain text". Anything that came from a user
//! or from the database (prompts, names, usernames, model and status strings, reasons) is cut by
//! characters first and HTML-escaped second, here in Rust and never in the resources, so a prompt
//! with `<` or `&` can never make Telegram reject a message, and a cut never splits an escape
//! sequence.
//!
//! Parameters called `model` / `model_label` take the output of [`model_label`], which is already
//! HTML-safe; toasts take [`model_name`], which is plain.

mod admin;
mod browse;
mod bundle;
pub mod buttons;
mod create;
mod labels;
mod lang;
mod markup;
mod menu;
mod payments;
mod worker;

#[cfg(test)]
mod checks;
#[cfg(test)]
mod test_support;

pub use admin::*;
pub use browse::*;
pub use create::*;
pub use labels::*;
pub use lang::Lang;
pub use markup::{escape, preview};
pub use menu::*;
pub use payments::*;
pub use worker::*;
