//! A purchase refunded in Stars: the purchase marked refunded and its tokens taken back, in one
//! transaction, refused when the tokens are spent. A repeat answers the first refund. Telegram's
//! `refundStarPayment` is the caller's, after this commits (see docs/architecture.md, "Payments").

use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::LedgerError;
use crate::ids::{PurchaseId, TelegramId};
use crate::payment::{ChargeId, Stars};
use crate::pricing::LedgerConfig;
use crate::purchase;
use crate::stream::StreamId;
use crate::tokens::Tokens;

/// Refunds a paid purchase.
#[derive(Debug, Clone)]
pub struct RefundPurchase {
    /// The purchase.
    pub purchase_id: PurchaseId,
    /// Its payer (read before the command: a purchase's payer never changes). Not part of the
    /// fingerprint.
    pub owner: TelegramId,
    /// Why (kept in the events).
    pub reason: String,
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRefund {
    /// The purchase.
    pub purchase_id: PurchaseId,
    /// Whose.
    pub telegram_id: TelegramId,
    /// The charge refunded (what `refundStarPayment` is called with).
    pub charge: ChargeId,
    /// Stars to give back.
    pub stars: Stars,
    /// Tokens taken back.
    pub tokens: Tokens,
    /// The balance after.
    pub balance_after: Tokens,
    /// True when it had been refunded before: nothing was appended now.
    pub already: bool,
}

impl Output for PurchaseRefund {
    const STORED_AS: &'static str = "PurchaseRefund";
}

impl Command for RefundPurchase {
    const NAME: &'static str = "refund_purchase";
    type Output = PurchaseRefund;

    fn streams(&self) -> Vec<StreamId> {
        vec![
            StreamId::purchase(self.purchase_id),
            StreamId::account(self.owner),
        ]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.purchase_id, &self.reason))
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<PurchaseRefund, LedgerError> {
        let purchase_stream = StreamId::purchase(self.purchase_id);
        let account_stream = StreamId::account(self.owner);
        let state = view.purchase(&purchase_stream)?;
        let bought = state.get(self.purchase_id)?.clone();
        if bought.offer.telegram_id != self.owner {
            return Err(crate::error::DomainError::PurchaseNotFound(self.purchase_id).into());
        }
        let marks = purchase::decide_refund(&state, self.purchase_id, &self.reason)?;
        let paid = bought
            .paid
            .as_ref()
            .ok_or(crate::error::DomainError::PurchaseNotPaid(self.purchase_id))?;
        let already = marks.is_none();
        if let Some(marks) = marks {
            let account = view.account(&account_stream)?;
            let money = account::decide_reclaim(
                &account,
                self.owner,
                self.purchase_id,
                &paid.telegram_payment_charge_id,
                paid.tokens,
                &self.reason,
            )?;
            view.append(&purchase_stream, view.current(&purchase_stream), marks)?;
            view.append(&account_stream, view.current(&account_stream), money)?;
        }
        Ok(PurchaseRefund {
            purchase_id: self.purchase_id,
            telegram_id: self.owner,
            charge: paid.telegram_payment_charge_id.clone(),
            stars: paid.stars,
            tokens: paid.tokens,
            balance_after: view.account(&account_stream)?.balance,
            already,
        })
    }
}
