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
