//! Telegram's side of Stars payments that both doors share, the bot's `/refund` and the admin
//! API's `POST /admin/payments/{charge_id}/refund`: returning the Stars of a purchase the ledger
//! has refunded, and telling the user.

use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, ParseMode, TelegramTransactionId, UserId};
use teloxide::{ApiError, RequestError};
use tokenbot_ledger::command::refund_purchase::PurchaseRefund;
use tokenbot_ledger::{ChargeId, Ledger, TelegramId};
use tokenbot_telegram::Telegram;
use tokenbot_texts::{self as texts, Lang};

/// `refundStarPayment`. A charge Telegram has refunded already counts as refunded, so a repeat
/// after a lost answer converges.
pub async fn refund_star_payment(
    telegram: &Telegram,
    user: TelegramId,
    charge: &ChargeId,
) -> Result<(), RequestError> {
    let user_id = UserId(u64::try_from(user.get()).unwrap_or_default());
    let id = TelegramTransactionId(charge.as_str().to_string());
    match telegram
        .call(telegram.bot().refund_star_payment(user_id, id))
        .await
    {
        Ok(_) => Ok(()),
        Err(RequestError::Api(ApiError::Unknown(text)))
            if text.contains("CHARGE_ALREADY_REFUNDED") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// After the ledger refunded a purchase: returns its Stars, then tells the user (best effort:
/// a user who blocked the bot still gets the Stars). The error is Telegram's refusal to return
/// the Stars, for the admin; the ledger's refund stands and a repeat retries this.
pub async fn return_stars(
    telegram: &Telegram,
    ledger: &Ledger,
    refund: &PurchaseRefund,
) -> Result<(), RequestError> {
    refund_star_payment(telegram, refund.telegram_id, &refund.charge).await?;
    if refund.already {
        return Ok(());
    }
    let lang = match ledger.account(refund.telegram_id).await {
        Ok(Some((account, _))) => Lang::from_code(
            account
                .profile
                .as_ref()
                .and_then(|p| p.language_code.as_deref()),
        ),
        _ => Lang::default(),
    };
    let notice = texts::payment_refunded_notice(
        lang,
        &refund.charge,
        refund.stars,
        refund.tokens,
        refund.balance_after,
    );
    let chat = ChatId(refund.telegram_id.get());
    let request = telegram
        .bot()
        .send_message(chat, notice)
        .parse_mode(ParseMode::Html);
    let sent = telegram.message(chat, request).await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, user = %refund.telegram_id, "refund notice not delivered");
    }
    Ok(())
}
