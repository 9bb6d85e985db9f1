//! Giving up on a task: `TaskFailed`, and its full cost refunded in the same transaction.
//! Whoever gets there first refunds; everyone else finds the task failed.

use serde::{Deserialize, Serialize};

use super::view::{task_and_owner, task_and_payer};
use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::LedgerError;
use crate::events::bounded_error;
use crate::ids::{TaskId, TelegramId};
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;
use crate::tokens::Tokens;

/// Fails the task and refunds its owner.
#[derive(Debug, Clone)]
pub struct FailTask {
    /// Which task.
    pub task_id: TaskId,
    /// Its owner, whose account is locked and credited.
    pub owner: TelegramId,
    /// Why (bounded in the events).
    pub error: String,
}

/// What the failure gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailOutcome {
    /// Tokens refunded (zero when the task was already refunded).
    pub refunded: Tokens,
    /// The owner's balance after the refund.
    pub balance_after: Tokens,
}

impl Output for FailOutcome {
    const STORED_AS: &'static str = "Failed";
}

impl Command for FailTask {
    const NAME: &'static str = "fail_task";
    type Output = FailOutcome;

    fn streams(&self) -> Vec<StreamId> {
        let (task, account) = task_and_owner(self.task_id, self.owner);
        vec![task, account]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.task_id, &self.owner, &self.error))
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<FailOutcome, LedgerError> {
        let (task_id, owner) = (self.task_id, self.owner);
        let (task_stream, account_stream) = task_and_owner(task_id, owner);
        let (state, payer) = task_and_payer(view, task_id)?;
        if payer != owner {
            // Callers name the owner the task records; another one is a bug upstream.
            return Err(LedgerError::corrupt(
                format!("task {task_id}"),
                format!("owned by {payer}, not {owner}"),
            ));
        }
        let (task_events, refund) = task::decide_fail(&state, task_id, &self.error)?;
        let before = view.account(&account_stream)?.balance;
        let money = if refund.is_zero() {
            vec![]
        } else {
            let reason = bounded_error(&format!("task failed: {}", self.error));
            account::decide_refund(
                &view.account(&account_stream)?,
                owner,
                task_id,
                refund,
                reason,
            )?
        };
        view.append(&task_stream, view.current(&task_stream), task_events)?;
        view.append(&account_stream, view.current(&account_stream), money)?;
        let balance_after = view.account(&account_stream)?.balance;
        debug_assert_eq!(
            before.checked_add(refund).ok(),
            Some(balance_after),
            "a failure refunds exactly what it says"
        );
        Ok(FailOutcome {
            refunded: refund,
            balance_after,
        })
    }
}
