//! Buying tokens with Telegram Stars: a package button sends an invoice naming an offer recorded
//! in the ledger; a pre-checkout query is answered from that offer alone (never from the payload
//! on its own trust); a successful payment is granted once per charge id, with a receipt; a
//! payment that cannot be granted is given back. `/paysupport` answers as Telegram requires of
//! bots that sell for Stars.

use chrono::Duration;
use teloxide::payloads::AnswerPreCheckoutQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{LabeledPrice, PreCheckoutQuery, SuccessfulPayment};
use tokenbot_ledger::purchase::PaymentClaim;
use tokenbot_ledger::{
    ChargeId, DomainError, IdempotencyKey, LedgerError, PurchaseId, STARS_CURRENCY, Stars,
    TelegramId,
};
use tokenbot_texts::{self as texts, Lang, PreCheckoutRefusal};

use super::tap::Tap;
use crate::dialogue::State;
use crate::error::BotError;
use crate::keyboards;
use crate::stars;
use crate::turn::{Services, Turn};

/// What an invoice's payload carries: `p:<purchase id>:<package>`. Only a pointer: every check
/// is made against the offer the ledger recorded under the purchase id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub purchase_id: PurchaseId,
    pub package: String,
}

impl Payload {
    pub fn encode(&self) -> String {
        format!("p:{}:{}", self.purchase_id, self.package)
    }

    pub fn parse(raw: &str) -> Option<Payload> {
        let rest = raw.strip_prefix("p:")?;
        let (id, package) = rest.split_once(':')?;
        Some(Payload {
            purchase_id: id.parse().ok()?,
            package: package.to_string(),
        })
    }
}

/// A package button: records the offer, sends its invoice.
pub(crate) async fn buy(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    package: &str,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let config = &turn.app.config;
    let Some(package) = config.packages.iter().find(|p| p.id.as_str() == package) else {
        tap.alert(turn, texts::package_unavailable_alert(lang))
            .await?;
        return Ok(state);
    };
    // Keyed by the update: a redelivered tap sends the same invoice again, not a second offer.
    let key = IdempotencyKey::derived("tg-buy", format!("{}:{}", turn.telegram_id, turn.update_id))
        .map_err(|e| BotError::Internal(e.to_string()))?;
    let ttl = Duration::from_std(config.offer_ttl).unwrap_or(Duration::hours(1));
    let offered = turn
        .app
        .ledger
        .offer_purchase(
            &turn.command().with_key(key),
            turn.telegram_id,
            package.clone(),
            ttl,
        )
        .await;
    let offer = match offered {
        Ok(done) => done.value,
        Err(LedgerError::Domain(DomainError::AccountNotFound(_))) => {
            tap.done(turn).await?;
            turn.reply()
                .send(
                    texts::user_not_found(lang),
                    Some(keyboards::main_menu(lang)),
                )
                .await?;
            return Ok(State::Idle);
        }
        Err(e) => return Err(e.into()),
    };
    let payload = Payload {
        purchase_id: offer.purchase_id,
        package: package.id.to_string(),
    };
    let price = LabeledPrice::new(
        texts::invoice_price_label(lang, package.tokens),
        package.stars.get(),
    );
    let telegram = &turn.app.bot;
    let invoice = telegram.bot().send_invoice(
        turn.chat,
        texts::invoice_title(lang, package.tokens),
        texts::invoice_description(lang, package.tokens),
        payload.encode(),
        STARS_CURRENCY,
        [price],
    );
    telegram.message(turn.chat, invoice).await?;
    tap.done(turn).await?;
    Ok(State::Idle)
}

/// Answers a pre-checkout query: yes only for a live offer of this user at this price in Stars.
/// Called outside the chat's lock and the handled-update marks, so a busy chat or a slow batch
/// never holds it past Telegram's 10 s; answering twice is harmless (Telegram keeps the first).
pub(crate) async fn pre_checkout(app: &Services, query: &PreCheckoutQuery) -> Result<(), BotError> {
    let lang = Lang::from_code(query.from.language_code.as_deref());
    let refusal = verdict(app, query).await.err();
    metrics::counter!("tokenbot_bot_pre_checkout_total", "ok" => refusal.is_none().to_string())
        .increment(1);
    let mut answer = app
        .bot
        .bot()
        .answer_pre_checkout_query(query.id.clone(), refusal.is_none());
    if let Some(why) = refusal {
        tracing::info!(?why, payload = %query.invoice_payload, "pre-checkout refused");
        answer = answer.error_message(texts::precheckout_refusal(lang, why));
    }
    app.bot.call(answer).await?;
    Ok(())
}

async fn verdict(app: &Services, query: &PreCheckoutQuery) -> Result<(), PreCheckoutRefusal> {
    let payload = Payload::parse(&query.invoice_payload).ok_or(PreCheckoutRefusal::Invalid)?;
    let payer = i64::try_from(query.from.id.0)
        .ok()
        .and_then(|id| TelegramId::new(id).ok())
        .ok_or(PreCheckoutRefusal::Invalid)?;
    let claim = PaymentClaim {
        payer,
        stars: Stars::from_telegram(query.total_amount),
        currency: query.currency.clone(),
    };
    match app.ledger.check_payable(payload.purchase_id, &claim).await {
        Ok(()) => Ok(()),
        Err(LedgerError::Domain(DomainError::PurchaseExpired(_))) => {
            Err(PreCheckoutRefusal::Expired)
        }
        Err(LedgerError::Domain(DomainError::PurchaseAlreadyPaid { .. })) => {
            Err(PreCheckoutRefusal::AlreadyPaid)
        }
        Err(LedgerError::Domain(_)) => Err(PreCheckoutRefusal::Invalid),
        Err(e) => {
            tracing::error!(error = %e, "pre-checkout could not read the offer");
            Err(PreCheckoutRefusal::Unavailable)
        }
    }
}

/// A successful payment: the tokens, once per charge id, and the receipt. A payment the ledger
/// refuses (it names no offer of this user at this price, or the offer was paid by another
/// charge) is given back with `refundStarPayment`: nobody pays for nothing.
pub(crate) async fn on_paid(
    turn: &Turn<'_>,
    state: State,
    paid: &SuccessfulPayment,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let Ok(charge) = ChargeId::try_from(paid.telegram_payment_charge_id.0.clone()) else {
        tracing::error!(charge = %paid.telegram_payment_charge_id.0, "a payment with an unusable charge id");
        return Ok(state);
    };
    let stars_paid = Stars::from_telegram(paid.total_amount);
    let claim = PaymentClaim {
        payer: turn.telegram_id,
        stars: stars_paid,
        currency: paid.currency.clone(),
    };
    let granted = match Payload::parse(&paid.invoice_payload) {
        Some(p) => turn
            .app
            .ledger
            .pay_purchase(
                &turn.command(),
                p.purchase_id,
                claim,
                charge.clone(),
                paid.provider_payment_charge_id.clone(),
            )
            .await
            .map(|done| done.value),
        None => Err(DomainError::PaymentNotFound(charge.clone()).into()),
    };
    let text = match granted {
        Ok(receipt) => {
            metrics::counter!("tokenbot_bot_purchases_granted_total").increment(1);
            texts::payment_receipt(
                lang,
                receipt.tokens,
                receipt.stars,
                receipt.balance_after,
                &receipt.charge,
            )
        }
        Err(LedgerError::Domain(refused)) => {
            tracing::warn!(error = %refused, %charge, "a payment the ledger refuses is given back");
            match stars::refund_star_payment(&turn.app.bot, turn.telegram_id, &charge).await {
                Ok(()) => texts::payment_returned(lang, stars_paid, &charge),
                Err(e) => {
                    tracing::error!(error = %e, %charge, "a refused payment could not be given back");
                    texts::payment_stuck(lang, &charge)
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    turn.reply()
        .send(text, Some(keyboards::main_menu(lang)))
        .await?;
    Ok(state)
}

/// `/paysupport`.
pub(crate) async fn paysupport(turn: &Turn<'_>) -> Result<(), BotError> {
    let lang = turn.lang;
    turn.reply()
        .send(
            texts::paysupport(lang, &turn.app.config.support_contact),
            Some(keyboards::main_menu(lang)),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_fit_telegram() {
        let p = Payload {
            purchase_id: PurchaseId::new(),
            package: "pack_500k_with_long_name".into(),
        };
        assert_eq!(Payload::parse(&p.encode()), Some(p.clone()));
        assert!(p.encode().len() <= 128);
        assert_eq!(Payload::parse("p:not-a-uuid:x"), None);
        assert_eq!(Payload::parse("x"), None);
    }
}
