//! `/refund <charge_id>` for ADMIN_IDS: the purchase paid with that charge is refunded in the
//! ledger (its tokens taken back, refused when they are spent), then its Stars are returned
//! with `refundStarPayment`. Repeating it is safe: the ledger answers the first refund and
//! Telegram's "already refunded" counts as done.

use tokenbot_ledger::{Actor, ChargeId, CommandContext, DomainError, LedgerError};
use tokenbot_texts as texts;

use crate::error::BotError;
use crate::stars;
use crate::turn::Turn;

/// The admin's answer to `/refund args` (the caller checked the sender is an admin).
pub(crate) async fn refund(turn: &Turn<'_>, args: &str) -> Result<String, BotError> {
    let lang = turn.lang;
    let parts: Vec<&str> = args.split_whitespace().collect();
    let [raw] = parts[..] else {
        return Ok(texts::refund_usage(lang));
    };
    let Ok(charge) = raw.parse::<ChargeId>() else {
        return Ok(texts::refund_usage(lang));
    };
    let ctx = CommandContext::new(Actor::Admin {
        telegram_id: Some(turn.telegram_id),
        via: "telegram".into(),
        name: None,
    })
    .with_correlation(turn.correlation);
    let reason = format!("/refund by admin {}", turn.telegram_id);
    let refund = match turn.app.ledger.refund_purchase(&ctx, &charge, reason).await {
        Ok(done) => done.value,
        Err(LedgerError::Domain(DomainError::PaymentNotFound(_))) => {
            return Ok(texts::refund_not_found(lang, &charge));
        }
        Err(LedgerError::Domain(DomainError::PurchaseTokensSpent {
            granted, balance, ..
        })) => return Ok(texts::refund_spent(lang, granted, balance)),
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = stars::return_stars(&turn.app.bot, &turn.app.ledger, &refund).await {
        tracing::error!(error = %e, %charge, "refunded in the ledger, Stars not returned");
        return Ok(texts::refund_telegram_failed(lang, &charge, &e.to_string()));
    }
    Ok(texts::refund_done(
        lang,
        refund.telegram_id,
        refund.stars,
        refund.tokens,
        refund.balance_after,
        refund.already,
    ))
}
