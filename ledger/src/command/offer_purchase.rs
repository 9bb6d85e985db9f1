//! Recording an offer to buy a package: the purchase an invoice's payload names. Pre-checkout
//! and the payment are checked against it, never against the payload alone.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::error::{DomainError, LedgerError};
use crate::events::PurchaseOffered;
use crate::ids::{PurchaseId, TelegramId};
use crate::payment::{STARS_CURRENCY, TokenPackage};
use crate::pricing::LedgerConfig;
use crate::purchase;
use crate::stream::{ExpectedVersion, StreamId};

/// Offers `package` to an open account for `valid_for` from the batch's clock.
#[derive(Debug, Clone)]
pub struct OfferPurchase {
    /// The new purchase's id (chosen by the ledger; not part of the fingerprint).
    pub purchase_id: PurchaseId,
    /// Who may pay it.
    pub telegram_id: TelegramId,
    /// What is on offer, at which price.
    pub package: TokenPackage,
    /// How long pre-checkout accepts it.
    pub valid_for: Duration,
}

/// The offer recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The purchase id the invoice names.
    pub purchase_id: PurchaseId,
    /// The offer as recorded.
    pub offer: PurchaseOffered,
}

impl Output for Offer {
    const STORED_AS: &'static str = "Offer";
}

impl Command for OfferPurchase {
    const NAME: &'static str = "offer_purchase";
    type Output = Offer;

    fn streams(&self) -> Vec<StreamId> {
        vec![
            StreamId::purchase(self.purchase_id),
            StreamId::account(self.telegram_id),
        ]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(
            Self::NAME,
            &(
                &self.telegram_id,
                &self.package,
                self.valid_for.num_seconds(),
            ),
        )
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<Offer, LedgerError> {
        // Only a registered user is sold anything: the grant needs an open account.
        if !view
            .account(&StreamId::account(self.telegram_id))?
            .is_open()
        {
            return Err(DomainError::AccountNotFound(self.telegram_id).into());
        }
        let stream = StreamId::purchase(self.purchase_id);
        let offer = PurchaseOffered {
            telegram_id: self.telegram_id,
            package: self.package.id.clone(),
            tokens: self.package.tokens,
            stars: self.package.stars,
            currency: STARS_CURRENCY.to_string(),
            expires_at: view.now() + self.valid_for,
        };
        let events =
            purchase::decide_offer(&view.purchase(&stream)?, self.purchase_id, offer.clone())?;
        view.append(&stream, ExpectedVersion::NoStream, events)?;
        Ok(Offer {
            purchase_id: self.purchase_id,
            offer,
        })
    }
}
