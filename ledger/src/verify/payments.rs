//! The payment rules verify checks across streams: a charge id is granted once, a reclaim takes
//! back tokens of a purchase granted to the same account, at most once and never more than it
//! granted. (One payment and one refund per purchase, and refunds within the payment, are the
//! purchase aggregate's own rules, checked as each purchase stream is folded.)

use std::collections::HashMap;

use crate::events::{GrantKind, TokensGranted, TokensReclaimed};
use crate::payment::ChargeId;
use crate::stream::{Position, StreamId};
use crate::tokens::Tokens;

/// One purchase grant, as the account side recorded it.
struct PaidGrant {
    account: StreamId,
    tokens: Tokens,
    position: Position,
    reclaimed_at: Option<Position>,
}

/// Every purchase grant seen so far, by charge id.
#[derive(Default)]
pub(super) struct Payments {
    grants: HashMap<ChargeId, PaidGrant>,
    /// Stars paid for the purchases granted.
    pub stars_paid: u64,
}

impl Payments {
    /// A `TokensGranted`: a purchase grant carries its payment, under a charge id never granted
    /// before; other kinds carry none.
    pub fn grant(
        &mut self,
        account: &StreamId,
        position: Position,
        g: &TokensGranted,
    ) -> Result<(), String> {
        let payment = match (g.kind, &g.purchase) {
            (GrantKind::Purchase, Some(p)) => p,
            (GrantKind::Purchase, None) => {
                return Err("a purchase grant without its payment".into());
            }
            (_, Some(_)) => return Err("a payment on a grant that is not a purchase".into()),
            (_, None) => return Ok(()),
        };
        let charge = &payment.telegram_payment_charge_id;
        if let Some(first) = self.grants.get(charge) {
            return Err(format!(
                "charge {charge} granted twice: first at position {}",
                first.position
            ));
        }
        self.stars_paid += u64::from(payment.stars.get());
        self.grants.insert(
            charge.clone(),
            PaidGrant {
                account: account.clone(),
                tokens: g.amount,
                position,
                reclaimed_at: None,
            },
        );
        Ok(())
    }

    /// A `TokensReclaimed`: of a purchase granted before to this account, once, at most what it
    /// granted.
    pub fn reclaim(
        &mut self,
        account: &StreamId,
        position: Position,
        r: &TokensReclaimed,
    ) -> Result<(), String> {
        let charge = &r.telegram_payment_charge_id;
        let Some(grant) = self.grants.get_mut(charge) else {
            return Err(format!(
                "tokens reclaimed for charge {charge}, which was never granted"
            ));
        };
        let problem = if let Some(first) = grant.reclaimed_at {
            Some(format!(
                "charge {charge} refunded twice: first at position {first}"
            ))
        } else if grant.account != *account {
            Some(format!(
                "tokens of charge {charge} reclaimed from {account}, but {} was granted them",
                grant.account
            ))
        } else if r.amount > grant.tokens {
            Some(format!(
                "refund of charge {charge} takes back {} tokens, more than its {}",
                r.amount, grant.tokens
            ))
        } else {
            None
        };
        grant.reclaimed_at.get_or_insert(position);
        problem.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::PurchasePayment;
    use crate::ids::PurchaseId;
    use crate::payment::Stars;

    fn account(n: i64) -> StreamId {
        StreamId::account(crate::ids::TelegramId::new(n).expect("valid"))
    }

    fn charge() -> ChargeId {
        "stx1".parse().expect("valid")
    }

    fn purchase_grant(tokens: u32) -> TokensGranted {
        TokensGranted {
            amount: Tokens::from_const(tokens),
            kind: GrantKind::Purchase,
            reason: None,
            balance_after: Tokens::from_const(tokens),
            purchase: Some(PurchasePayment {
                purchase_id: PurchaseId::new(),
                package: "pack_1".parse().expect("valid"),
                stars: Stars::from_telegram(50),
                telegram_payment_charge_id: charge(),
                provider_payment_charge_id: String::new(),
            }),
        }
    }

    fn reclaim(tokens: u32) -> TokensReclaimed {
        TokensReclaimed {
            purchase_id: PurchaseId::new(),
            telegram_payment_charge_id: charge(),
            amount: Tokens::from_const(tokens),
            reason: "x".into(),
            balance_after: Tokens::ZERO,
        }
    }

    #[test]
    fn a_charge_is_granted_once() {
        let mut p = Payments::default();
        assert_eq!(
            p.grant(&account(1), Position(1), &purchase_grant(100)),
            Ok(())
        );
        assert_eq!(p.stars_paid, 50);
        let twice = p.grant(&account(2), Position(2), &purchase_grant(100));
        assert!(twice.is_err_and(|e| e.contains("granted twice")));
        let mut bare = purchase_grant(1);
        bare.purchase = None;
        assert!(p.grant(&account(1), Position(3), &bare).is_err());
    }

    #[test]
    fn a_reclaim_matches_its_purchase_once_and_never_exceeds_it() {
        let mut p = Payments::default();
        assert!(
            p.reclaim(&account(1), Position(1), &reclaim(1)).is_err(),
            "never granted"
        );
        p.grant(&account(1), Position(2), &purchase_grant(100))
            .expect("first");
        let mut more = p_clone_grants(&p);
        assert!(
            more.reclaim(&account(1), Position(3), &reclaim(101))
                .is_err_and(|e| e.contains("more than"))
        );
        let mut elsewhere = p_clone_grants(&p);
        assert!(
            elsewhere
                .reclaim(&account(2), Position(3), &reclaim(100))
                .is_err()
        );
        assert_eq!(p.reclaim(&account(1), Position(3), &reclaim(100)), Ok(()));
        assert!(
            p.reclaim(&account(1), Position(4), &reclaim(100))
                .is_err_and(|e| e.contains("refunded twice"))
        );
    }

    /// The same grants, reclaimed nowhere yet.
    fn p_clone_grants(p: &Payments) -> Payments {
        let mut copy = Payments::default();
        for (charge, g) in &p.grants {
            copy.grants.insert(
                charge.clone(),
                PaidGrant {
                    account: g.account.clone(),
                    tokens: g.tokens,
                    position: g.position,
                    reclaimed_at: g.reclaimed_at,
                },
            );
        }
        copy
    }
}
