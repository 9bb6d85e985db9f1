//! A refund outside the failure path (an admin's, or a delivery that failed after success): at
//! most once per task, never more than its debit.

use super::grant::BalanceChange;
use super::view::{task_and_owner, task_and_payer};
use super::{Command, View, fingerprint};
use crate::account;
use crate::error::{DomainError, LedgerError};
use crate::ids::{TaskId, TelegramId};
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;
use crate::tokens::Tokens;

/// Refunds `amount` of a task's cost to its owner.
#[derive(Debug, Clone)]
pub struct RefundTask {
    /// Which task.
    pub task_id: TaskId,
    /// Its owner (read before the command: a task's owner never changes). Not part of the
    /// fingerprint.
    pub owner: TelegramId,
    /// At most the task's cost.
    pub amount: Tokens,
    /// Why (kept in the events).
    pub reason: String,
}

impl Command for RefundTask {
    const NAME: &'static str = "refund_task";
    type Output = BalanceChange;

    fn streams(&self) -> Vec<StreamId> {
        let (task, account) = task_and_owner(self.task_id, self.owner);
        vec![task, account]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.task_id, &self.amount, &self.reason))
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<BalanceChange, LedgerError> {
        let (task_id, owner) = (self.task_id, self.owner);
        let (task_stream, account_stream) = task_and_owner(task_id, owner);
        let (state, payer) = task_and_payer(view, task_id)?;
        if payer != owner {
            return Err(DomainError::TaskNotFound(task_id).into());
        }
        let task_events = task::decide_refund(&state, task_id, self.amount, &self.reason)?;
        let account = view.account(&account_stream)?;
        let money =
            account::decide_refund(&account, owner, task_id, self.amount, self.reason.clone())?;
        view.append(&task_stream, view.current(&task_stream), task_events)?;
        view.append(&account_stream, view.current(&account_stream), money)?;
        let change = BalanceChange {
            telegram_id: owner,
            balance_before: account.balance,
            amount: self.amount,
            balance_after: view.account(&account_stream)?.balance,
        };
        change.debug_assert_credit();
        Ok(change)
    }
}
