//! Adding tokens: an admin top-up, an import, a purchase.

use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::LedgerError;
use crate::events::GrantKind;
use crate::ids::TelegramId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::tokens::Tokens;

/// Grants `amount` tokens to an open account.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Whose account.
    pub telegram_id: TelegramId,
    /// How many tokens; never zero, at most `LedgerConfig::max_grant` for admin grants.
    pub amount: Tokens,
    /// Why the tokens come.
    pub kind: GrantKind,
    /// Free text kept in the event.
    pub reason: Option<String>,
}

/// An account's balance before and after tokens came in (a grant, or a refund outside the failure
/// path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceChange {
    /// Whose account.
    pub telegram_id: TelegramId,
    /// Before the command.
    pub balance_before: Tokens,
    /// Tokens that came in.
    pub amount: Tokens,
    /// After the command.
    pub balance_after: Tokens,
}

impl Output for BalanceChange {
    const STORED_AS: &'static str = "Balance";
}

impl BalanceChange {
    /// Postcondition of every credit: the balance grew by exactly the amount.
    pub(crate) fn debug_assert_credit(&self) {
        debug_assert_eq!(
            self.balance_before.checked_add(self.amount).ok(),
            Some(self.balance_after),
            "a credit adds exactly its amount"
        );
    }
}

impl Command for Grant {
    const NAME: &'static str = "grant";
    type Output = BalanceChange;

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::account(self.telegram_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(
            Self::NAME,
            &(&self.telegram_id, &self.amount, &self.kind, &self.reason),
        )
    }

    fn decide(
        &self,
        view: &mut View<'_>,
        config: &LedgerConfig,
    ) -> Result<BalanceChange, LedgerError> {
        let stream = StreamId::account(self.telegram_id);
        let state = view.account(&stream)?;
        let events = account::decide_grant(
            &state,
            self.telegram_id,
            self.amount,
            self.kind,
            self.reason.clone(),
            config,
        )?;
        view.append(&stream, view.current(&stream), events)?;
        let change = BalanceChange {
            telegram_id: self.telegram_id,
            balance_before: state.balance,
            amount: self.amount,
            balance_after: view.account(&stream)?.balance,
        };
        change.debug_assert_credit();
        Ok(change)
    }
}
