//! A successful payment: the purchase marked paid and the package's tokens granted, in one
//! transaction. Run under the idempotency key `payment:<telegram_payment_charge_id>`
//! ([`PayPurchase::idempotency_key`]), so a redelivered update, a webhook retry or a second bot
//! process grants once; the purchase stream refuses a second charge for the same offer.

use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::LedgerError;
use crate::events::PurchasePayment;
use crate::ids::{PurchaseId, TelegramId};
use crate::metadata::IdempotencyKey;
use crate::payment::{ChargeId, PackageId, Stars};
use crate::pricing::LedgerConfig;
use crate::purchase::{self, PaymentClaim};
use crate::stream::StreamId;
use crate::tokens::Tokens;

/// Grants the purchase Telegram reports paid.
#[derive(Debug, Clone)]
pub struct PayPurchase {
    /// The purchase the payload names.
    pub purchase_id: PurchaseId,
    /// Who paid, how much, in what.
    pub claim: PaymentClaim,
    /// `telegram_payment_charge_id`.
    pub charge: ChargeId,
    /// `provider_payment_charge_id`.
    pub provider_charge: String,
}

impl PayPurchase {
    /// The key a payment is granted under, whatever door it came through.
    pub fn idempotency_key(charge: &ChargeId) -> IdempotencyKey {
        IdempotencyKey::payment(charge)
    }
}

/// What the user's receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseReceipt {
    /// The purchase.
    pub purchase_id: PurchaseId,
    /// Who paid.
    pub telegram_id: TelegramId,
    /// The package.
    pub package: PackageId,
    /// Tokens granted.
    pub tokens: Tokens,
    /// Stars paid.
    pub stars: Stars,
    /// Telegram's charge id (for support and refunds).
    pub charge: ChargeId,
    /// The balance after the grant.
    pub balance_after: Tokens,
}

impl Output for PurchaseReceipt {
    const STORED_AS: &'static str = "Purchase";
}

impl Command for PayPurchase {
    const NAME: &'static str = "pay_purchase";
    type Output = PurchaseReceipt;

    fn streams(&self) -> Vec<StreamId> {
        vec![
            StreamId::purchase(self.purchase_id),
            StreamId::account(self.claim.payer),
        ]
    }

    fn fingerprint(&self) -> Vec<u8> {
        let claim = &self.claim;
        fingerprint(
            Self::NAME,
            &(
                &self.purchase_id,
                &claim.payer,
                &claim.stars,
                &claim.currency,
                &self.charge,
                &self.provider_charge,
            ),
        )
    }

    fn decide(
        &self,
        view: &mut View<'_>,
        _: &LedgerConfig,
    ) -> Result<PurchaseReceipt, LedgerError> {
        let payer = self.claim.payer;
        let purchase_stream = StreamId::purchase(self.purchase_id);
        let account_stream = StreamId::account(payer);
        let state = view.purchase(&purchase_stream)?;
        let marks = purchase::decide_pay(
            &state,
            self.purchase_id,
            &self.claim,
            &self.charge,
            &self.provider_charge,
        )?;
        let offer = state.get(self.purchase_id)?.offer.clone();
        if !marks.is_empty() {
            let account = view.account(&account_stream)?;
            let payment = PurchasePayment {
                purchase_id: self.purchase_id,
                package: offer.package.clone(),
                stars: self.claim.stars,
                telegram_payment_charge_id: self.charge.clone(),
                provider_payment_charge_id: self.provider_charge.clone(),
            };
            let grant = account::decide_purchase_grant(&account, payer, offer.tokens, payment)?;
            view.append(&purchase_stream, view.current(&purchase_stream), marks)?;
            view.append(&account_stream, view.current(&account_stream), grant)?;
        }
        Ok(PurchaseReceipt {
            purchase_id: self.purchase_id,
            telegram_id: payer,
            package: offer.package,
            tokens: offer.tokens,
            stars: self.claim.stars,
            charge: self.charge.clone(),
            balance_after: view.account(&account_stream)?.balance,
        })
    }
}
