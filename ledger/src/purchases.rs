//! The ledger's payment methods: offer a package, check a pre-checkout query, grant a payment,
//! refund one by its charge id. Each builds its command ([`crate::command::offer_purchase`],
//! [`crate::command::pay_purchase`], [`crate::command::refund_purchase`]) or reads a purchase
//! stream; calling Telegram is the bot's and the API's.

use chrono::Duration;

use crate::command::offer_purchase::{Offer, OfferPurchase};
use crate::command::pay_purchase::{PayPurchase, PurchaseReceipt};
use crate::command::refund_purchase::{PurchaseRefund, RefundPurchase};
use crate::error::{DomainError, LedgerError};
use crate::ids::{PurchaseId, TelegramId};
use crate::ledger::Ledger;
use crate::metadata::CommandContext;
use crate::payment::{ChargeId, TokenPackage};
use crate::purchase::{self, PaymentClaim, Purchase, PurchaseState};
use crate::store::Executed;
use crate::stream::StreamId;

impl Ledger {
    /// Records an offer of `package` to `telegram_id`, payable for `valid_for`: the purchase id
    /// an invoice names.
    pub async fn offer_purchase(
        &self,
        ctx: &CommandContext,
        telegram_id: TelegramId,
        package: TokenPackage,
        valid_for: Duration,
    ) -> Result<Executed<Offer>, LedgerError> {
        let offer = OfferPurchase {
            purchase_id: PurchaseId::new(),
            telegram_id,
            package,
            valid_for,
        };
        self.execute(ctx, offer).await
    }

    /// The purchase as of now (not locked).
    pub async fn purchase(&self, id: PurchaseId) -> Result<Option<Purchase>, LedgerError> {
        let (state, _) = self
            .store()
            .load::<PurchaseState>(&StreamId::purchase(id))
            .await?;
        Ok(state.0)
    }

    /// Pre-checkout: `Ok` only for a live offer of this payer at this price in Stars, checked
    /// against the ledger's clock (the database's, as the offer's expiry was).
    pub async fn check_payable(
        &self,
        id: PurchaseId,
        claim: &PaymentClaim,
    ) -> Result<(), LedgerError> {
        let (state, _) = self
            .store()
            .load::<PurchaseState>(&StreamId::purchase(id))
            .await?;
        let client = self.store().database().pool().get().await?;
        let now = client
            .query_one("SELECT clock_timestamp()", &[])
            .await?
            .try_get(0)?;
        Ok(purchase::check_payable(&state, id, claim, now)?)
    }

    /// A successful payment: the purchase's tokens granted once per charge id, whichever door
    /// or process reports it (the key is `payment:<charge id>`; `ctx`'s own key is replaced).
    pub async fn pay_purchase(
        &self,
        ctx: &CommandContext,
        purchase_id: PurchaseId,
        claim: PaymentClaim,
        charge: ChargeId,
        provider_charge: String,
    ) -> Result<Executed<PurchaseReceipt>, LedgerError> {
        let ctx = ctx.clone().with_key(PayPurchase::idempotency_key(&charge));
        let pay = PayPurchase {
            purchase_id,
            claim,
            charge,
            provider_charge,
        };
        self.execute(&ctx, pay).await
    }

    /// The purchase paid with `charge`, and its payer.
    pub async fn find_payment(
        &self,
        charge: &ChargeId,
    ) -> Result<(PurchaseId, TelegramId), LedgerError> {
        let client = self.store().database().pool().get().await?;
        // The unique index of sql/V6__payments.sql answers this.
        let row = client
            .query_opt(
                "SELECT stream_id FROM ledger.events \
                 WHERE event_type = 'PurchasePaid' AND data->>'telegram_payment_charge_id' = $1",
                &[&charge.as_str()],
            )
            .await?;
        let not_found = || LedgerError::from(DomainError::PaymentNotFound(charge.clone()));
        let stream: String = row.ok_or_else(not_found)?.try_get(0)?;
        let id = StreamId::custom(stream)
            .ok()
            .and_then(|s| s.purchase_id())
            .ok_or_else(not_found)?;
        let bought = self.purchase(id).await?.ok_or_else(not_found)?;
        Ok((id, bought.offer.telegram_id))
    }

    /// Refunds the purchase paid with `charge` in the ledger: its tokens taken back, refused
    /// when they are spent; a repeat answers the first refund (`already`). The caller then
    /// returns the Stars (`refundStarPayment`), which a repeat may retry.
    pub async fn refund_purchase(
        &self,
        ctx: &CommandContext,
        charge: &ChargeId,
        reason: String,
    ) -> Result<Executed<PurchaseRefund>, LedgerError> {
        let (purchase_id, owner) = self.find_payment(charge).await?;
        let refund = RefundPurchase {
            purchase_id,
            owner,
            reason,
        };
        self.execute(ctx, refund).await
    }
}
