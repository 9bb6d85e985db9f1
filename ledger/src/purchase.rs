//! One offer to buy a token package, its payment and its refund: the aggregate of a
//! `purchase-` stream. Pure, like [`crate::account`]: the checks a pre-checkout query, a
//! payment and a refund must pass, and the events they append.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::events::{Event, PurchaseOffered, PurchasePaid, PurchaseRefunded, bounded_error};
use crate::ids::{PurchaseId, TelegramId};
use crate::payment::{ChargeId, STARS_CURRENCY, Stars};

/// Where a purchase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    /// Offered (an invoice was sent), not paid.
    Offered,
    /// Paid and granted.
    Paid,
    /// Paid, then refunded.
    Refunded,
}

impl PurchaseStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Offered => "offered",
            PurchaseStatus::Paid => "paid",
            PurchaseStatus::Refunded => "refunded",
        }
    }
}

/// One purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The offer.
    pub offer: PurchaseOffered,
    /// Its payment, once paid.
    pub paid: Option<PurchasePaid>,
    /// Its refund, once refunded.
    pub refunded: Option<PurchaseRefunded>,
}

impl Purchase {
    /// Where it is.
    pub fn status(&self) -> PurchaseStatus {
        match (&self.paid, &self.refunded) {
            (_, Some(_)) => PurchaseStatus::Refunded,
            (Some(_), None) => PurchaseStatus::Paid,
            (None, None) => PurchaseStatus::Offered,
        }
    }
}

/// The purchase aggregate: nothing until `PurchaseOffered`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PurchaseState(pub Option<Purchase>);

/// What Telegram says is being paid, in a pre-checkout query or a successful payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentClaim {
    /// The payer.
    pub payer: TelegramId,
    /// `total_amount`.
    pub stars: Stars,
    /// `currency`.
    pub currency: String,
}

impl PurchaseState {
    /// The purchase, or "not found".
    pub fn get(&self, id: PurchaseId) -> Result<&Purchase, DomainError> {
        self.0.as_ref().ok_or(DomainError::PurchaseNotFound(id))
    }
}

/// A new offer; refused if the id is taken.
pub fn decide_offer(
    state: &PurchaseState,
    id: PurchaseId,
    offer: PurchaseOffered,
) -> Result<Vec<Event>, DomainError> {
    if state.0.is_some() {
        return Err(DomainError::PurchaseAlreadyExists(id));
    }
    Ok(vec![Event::PurchaseOffered(offer)])
}

/// Whether the claim matches the offer: this user, this amount, Stars.
fn check_claim(
    purchase: &Purchase,
    id: PurchaseId,
    claim: &PaymentClaim,
) -> Result<(), DomainError> {
    let offer = &purchase.offer;
    let mismatch = |detail: String| DomainError::PurchaseMismatch {
        purchase_id: id,
        detail,
    };
    if offer.telegram_id != claim.payer {
        // Another user's offer reads as no offer at all: ids are not secrets, but nothing about
        // someone else's purchase is confirmed to a stranger.
        return Err(DomainError::PurchaseNotFound(id));
    }
    if claim.currency != offer.currency || claim.currency != STARS_CURRENCY {
        return Err(mismatch(format!(
            "currency {:?}, the offer is in {}",
            claim.currency, offer.currency
        )));
    }
    if claim.stars != offer.stars {
        return Err(mismatch(format!(
            "{} Stars, the offer costs {}",
            claim.stars, offer.stars
        )));
    }
    Ok(())
}

/// Pre-checkout: the offer exists, is this user's, for this amount in Stars, not paid and not
/// expired at `now`.
pub fn check_payable(
    state: &PurchaseState,
    id: PurchaseId,
    claim: &PaymentClaim,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let purchase = state.get(id)?;
    check_claim(purchase, id, claim)?;
    if let Some(paid) = &purchase.paid {
        return Err(DomainError::PurchaseAlreadyPaid {
            purchase_id: id,
            charge: paid.telegram_payment_charge_id.clone(),
        });
    }
    if now >= purchase.offer.expires_at {
        return Err(DomainError::PurchaseExpired(id));
    }
    Ok(())
}

/// A successful payment. Not refused for expiry: Telegram took the Stars after pre-checkout
/// said yes, and the user must get what they paid for. Refused when another charge paid the
/// offer already (the caller refunds that second charge); the same charge again appends nothing.
pub fn decide_pay(
    state: &PurchaseState,
    id: PurchaseId,
    claim: &PaymentClaim,
    charge: &ChargeId,
    provider_charge: &str,
) -> Result<Vec<Event>, DomainError> {
    let purchase = state.get(id)?;
    check_claim(purchase, id, claim)?;
    match &purchase.paid {
        Some(p) if &p.telegram_payment_charge_id == charge => Ok(vec![]),
        Some(p) => Err(DomainError::PurchaseAlreadyPaid {
            purchase_id: id,
            charge: p.telegram_payment_charge_id.clone(),
        }),
        None => Ok(vec![Event::PurchasePaid(PurchasePaid {
            telegram_payment_charge_id: charge.clone(),
            provider_payment_charge_id: provider_charge.to_string(),
            stars: claim.stars,
            tokens: purchase.offer.tokens,
        })]),
    }
}

/// The purchase side of a refund: only a paid purchase, once. `Ok(None)`: refunded already
/// (a repeat, answered without appending).
pub fn decide_refund(
    state: &PurchaseState,
    id: PurchaseId,
    reason: &str,
) -> Result<Option<Vec<Event>>, DomainError> {
    let purchase = state.get(id)?;
    if purchase.refunded.is_some() {
        return Ok(None);
    }
    let paid = purchase
        .paid
        .as_ref()
        .ok_or(DomainError::PurchaseNotPaid(id))?;
    Ok(Some(vec![Event::PurchaseRefunded(PurchaseRefunded {
        telegram_payment_charge_id: paid.telegram_payment_charge_id.clone(),
        stars: paid.stars,
        tokens: paid.tokens,
        reason: bounded_error(reason),
    })]))
}

impl Aggregate for PurchaseState {
    const SNAPSHOT_VERSION: i32 = 1;

    fn apply(&mut self, event: &Event, _: DateTime<Utc>) -> Result<(), ApplyError> {
        if let Event::PurchaseOffered(o) = event {
            if self.0.is_some() {
                return Err(ApplyError(
                    "second PurchaseOffered in one purchase stream".into(),
                ));
            }
            self.0 = Some(Purchase {
                offer: o.clone(),
                paid: None,
                refunded: None,
            });
            return Ok(());
        }
        let purchase = self
            .0
            .as_mut()
            .ok_or_else(|| ApplyError(format!("{} before PurchaseOffered", event.event_type())))?;
        match event {
            Event::PurchasePaid(p) => {
                if purchase.paid.is_some() {
                    return Err(ApplyError("a purchase paid twice".into()));
                }
                if p.stars != purchase.offer.stars || p.tokens != purchase.offer.tokens {
                    return Err(ApplyError(format!(
                        "PurchasePaid of {} Stars for {} tokens does not match the offer of {} \
                         Stars for {} tokens",
                        p.stars, p.tokens, purchase.offer.stars, purchase.offer.tokens
                    )));
                }
                purchase.paid = Some(p.clone());
            }
            Event::PurchaseRefunded(r) => {
                let Some(paid) = &purchase.paid else {
                    return Err(ApplyError("PurchaseRefunded of an unpaid purchase".into()));
                };
                if purchase.refunded.is_some() {
                    return Err(ApplyError("a purchase refunded twice".into()));
                }
                if r.stars > paid.stars || r.tokens > paid.tokens {
                    return Err(ApplyError(format!(
                        "PurchaseRefunded of {} Stars / {} tokens exceeds the payment of {} \
                         Stars / {} tokens",
                        r.stars, r.tokens, paid.stars, paid.tokens
                    )));
                }
                purchase.refunded = Some(r.clone());
            }
            other => {
                return Err(ApplyError(format!(
                    "{} does not belong in a purchase stream",
                    other.event_type()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::tokens::Tokens;

    fn user() -> TelegramId {
        TelegramId::new(5).expect("valid")
    }

    fn offered(now: DateTime<Utc>) -> (PurchaseId, PurchaseState) {
        let id = PurchaseId::new();
        let offer = PurchaseOffered {
            telegram_id: user(),
            package: "pack_1".parse().expect("valid"),
            tokens: Tokens::from_const(1000),
            stars: Stars::price(10).expect("valid"),
            currency: STARS_CURRENCY.into(),
            expires_at: now + Duration::minutes(10),
        };
        let mut state = PurchaseState::default();
        let events = decide_offer(&state, id, offer).expect("new");
        state.apply_all(&events, now).expect("fits");
        (id, state)
    }

    fn claim(stars: u32) -> PaymentClaim {
        PaymentClaim {
            payer: user(),
            stars: Stars::from_telegram(stars),
            currency: STARS_CURRENCY.into(),
        }
    }

    #[test]
    fn pre_checkout_wants_the_live_offer_of_this_user_at_its_price() {
        let now = Utc::now();
        let (id, state) = offered(now);
        assert_eq!(check_payable(&state, id, &claim(10), now), Ok(()));
        assert!(matches!(
            check_payable(&state, id, &claim(9), now),
            Err(DomainError::PurchaseMismatch { .. })
        ));
        let stranger = PaymentClaim {
            payer: TelegramId::new(6).expect("valid"),
            ..claim(10)
        };
        assert_eq!(
            check_payable(&state, id, &stranger, now),
            Err(DomainError::PurchaseNotFound(id))
        );
        let usd = PaymentClaim {
            currency: "USD".into(),
            ..claim(10)
        };
        assert!(check_payable(&state, id, &usd, now).is_err());
        assert_eq!(
            check_payable(&state, id, &claim(10), now + Duration::minutes(11)),
            Err(DomainError::PurchaseExpired(id))
        );
        let other = PurchaseId::new();
        assert_eq!(
            check_payable(&PurchaseState::default(), other, &claim(10), now),
            Err(DomainError::PurchaseNotFound(other))
        );
    }

    #[test]
    fn paid_once_and_refunded_once() {
        let now = Utc::now();
        let (id, mut state) = offered(now);
        let charge: ChargeId = "ch_1".parse().expect("valid");
        let paid = decide_pay(&state, id, &claim(10), &charge, "").expect("pays");
        state.apply_all(&paid, now).expect("fits");
        assert_eq!(decide_pay(&state, id, &claim(10), &charge, ""), Ok(vec![]));
        let second: ChargeId = "ch_2".parse().expect("valid");
        assert!(matches!(
            decide_pay(&state, id, &claim(10), &second, ""),
            Err(DomainError::PurchaseAlreadyPaid { .. })
        ));
        assert!(check_payable(&state, id, &claim(10), now).is_err());
        let refund = decide_refund(&state, id, "asked")
            .expect("ok")
            .expect("events");
        state.apply_all(&refund, now).expect("fits");
        assert_eq!(
            state.0.as_ref().map(Purchase::status),
            Some(PurchaseStatus::Refunded)
        );
        assert_eq!(decide_refund(&state, id, "again"), Ok(None));
    }

    #[test]
    fn an_unpaid_purchase_is_not_refunded() {
        let (id, state) = offered(Utc::now());
        assert_eq!(
            decide_refund(&state, id, "x"),
            Err(DomainError::PurchaseNotPaid(id))
        );
    }
}
