//! Buying tokens with Telegram Stars: the buy screen, the invoice, pre-checkout refusals,
//! receipts, refunds and `/paysupport`.

use tokenbot_ledger::{ChargeId, Stars, TelegramId, TokenPackage, Tokens};

use crate::bundle::tr;
use crate::lang::Lang;
use crate::markup::{escape, preview};

/// "💰 Купить токены": the balance and every package on sale.
pub fn buy_tokens(lang: Lang, balance: Tokens, packages: &[TokenPackage]) -> String {
    let lines: Vec<String> = packages
        .iter()
        .map(|p| tr!(lang, "buy-package-line", tokens = p.tokens, stars = p.stars))
        .collect();
    tr!(
        lang,
        "buy-tokens",
        balance = balance,
        packages = lines.join("\n")
    )
}

/// Plain text (an alert): a package button of a package no longer sold.
pub fn package_unavailable_alert(lang: Lang) -> String {
    tr!(lang, "package-unavailable-alert")
}

/// Plain text: the invoice's title (at most 32 characters).
pub fn invoice_title(lang: Lang, tokens: Tokens) -> String {
    tr!(lang, "invoice-title", tokens = tokens)
}

/// Plain text: the invoice's description (at most 255 characters).
pub fn invoice_description(lang: Lang, tokens: Tokens) -> String {
    tr!(lang, "invoice-description", tokens = tokens)
}

/// Plain text: the invoice's one price line.
pub fn invoice_price_label(lang: Lang, tokens: Tokens) -> String {
    tr!(lang, "invoice-price-label", tokens = tokens)
}

/// Why a pre-checkout query is refused (plain text, shown in Telegram's payment form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreCheckoutRefusal {
    /// The offer expired.
    Expired,
    /// The offer is paid already.
    AlreadyPaid,
    /// No such offer for this user, or another amount or currency.
    Invalid,
    /// The ledger could not be read: nothing is wrong with the invoice.
    Unavailable,
}

/// Plain text: a pre-checkout refusal.
pub fn precheckout_refusal(lang: Lang, why: PreCheckoutRefusal) -> String {
    match why {
        PreCheckoutRefusal::Expired => tr!(lang, "precheckout-expired"),
        PreCheckoutRefusal::AlreadyPaid => tr!(lang, "precheckout-already-paid"),
        PreCheckoutRefusal::Invalid => tr!(lang, "precheckout-invalid"),
        PreCheckoutRefusal::Unavailable => tr!(lang, "precheckout-unavailable"),
    }
}

/// The receipt after a payment is granted.
pub fn payment_receipt(
    lang: Lang,
    tokens: Tokens,
    stars: Stars,
    balance: Tokens,
    charge: &ChargeId,
) -> String {
    tr!(
        lang,
        "payment-receipt",
        tokens = tokens,
        stars = stars,
        balance = balance,
        charge = charge
    )
}

/// A payment that could not be granted was given back.
pub fn payment_returned(lang: Lang, stars: Stars, charge: &ChargeId) -> String {
    tr!(lang, "payment-returned", stars = stars, charge = charge)
}

/// A payment that could neither be granted nor given back now.
pub fn payment_stuck(lang: Lang, charge: &ChargeId) -> String {
    tr!(lang, "payment-stuck", charge = charge)
}

/// The user's notice of a refund.
pub fn payment_refunded_notice(
    lang: Lang,
    charge: &ChargeId,
    stars: Stars,
    tokens: Tokens,
    balance: Tokens,
) -> String {
    tr!(
        lang,
        "payment-refunded-notice",
        charge = charge,
        stars = stars,
        tokens = tokens,
        balance = balance
    )
}

/// `/paysupport`; `support` is the support contact.
pub fn paysupport(lang: Lang, support: &str) -> String {
    tr!(lang, "paysupport", support = escape(support.trim()))
}

/// `/refund` without a valid charge id.
pub fn refund_usage(lang: Lang) -> String {
    tr!(lang, "refund-usage")
}

/// A refund done (or found done before: `already`).
pub fn refund_done(
    lang: Lang,
    user: TelegramId,
    stars: Stars,
    tokens: Tokens,
    balance: Tokens,
    already: bool,
) -> String {
    if already {
        tr!(lang, "refund-already", stars = stars, user = user)
    } else {
        tr!(
            lang,
            "refund-done",
            stars = stars,
            user = user,
            tokens = tokens,
            balance = balance
        )
    }
}

/// A refund refused: the tokens are spent.
pub fn refund_spent(lang: Lang, granted: Tokens, balance: Tokens) -> String {
    tr!(lang, "refund-spent", granted = granted, balance = balance)
}

/// No payment with this charge id.
pub fn refund_not_found(lang: Lang, charge: &ChargeId) -> String {
    tr!(lang, "refund-not-found", charge = charge)
}

/// The ledger refunded, Telegram did not: the admin repeats the command.
pub fn refund_telegram_failed(lang: Lang, charge: &ChargeId, error: &str) -> String {
    tr!(
        lang,
        "refund-telegram-failed",
        charge = charge,
        error = escape(&preview(error, 200))
    )
}
