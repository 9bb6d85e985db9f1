//! The confirm button: where a token is debited. Prices the task, checks the balance and the
//! hourly limit, and records the task and the debit atomically.

use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::{DomainError, LedgerError};
use crate::events::TaskRequested;
use crate::ids::{TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use crate::pricing::LedgerConfig;
use crate::stream::{ExpectedVersion, StreamId};
use crate::task;
use crate::tokens::Tokens;

/// What the user asks for; the ledger prices it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// Who pays.
    pub telegram_id: TelegramId,
    /// Generate or edit.
    pub kind: TaskKind,
    /// What to draw.
    pub prompt: Prompt,
    /// `None`: the user's chosen model, or the configured default.
    pub model: Option<ModelId>,
    /// Priced by quality and size.
    pub quality: Quality,
    /// Priced by quality and size.
    pub size: ImageSize,
    /// A template has its own price.
    pub template_id: Option<String>,
    /// The picture to edit (Telegram file id); required for an edit.
    pub source_file_id: Option<String>,
}

/// A task that was paid for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReceipt {
    /// The new task.
    pub task_id: TaskId,
    /// What it cost.
    pub cost: Tokens,
    /// The payer's balance after the debit.
    pub balance_after: Tokens,
    /// The model it will run on.
    pub model: ModelId,
}

impl Output for TaskReceipt {
    const STORED_AS: &'static str = "Task";
}

/// Debits the account and records the task.
#[derive(Debug, Clone)]
pub struct RequestTask {
    /// Chosen by the caller once, so a retry never mints a second task. Not part of the
    /// fingerprint: a retry under the same key may carry a fresh one.
    pub task_id: TaskId,
    /// What is asked for.
    pub request: TaskRequest,
}

impl RequestTask {
    fn model(
        &self,
        chosen: Option<&ModelId>,
        config: &LedgerConfig,
    ) -> Result<ModelId, LedgerError> {
        let model = match &self.request.model {
            Some(m) => m.clone(),
            None => chosen
                .or_else(|| config.default_model())
                .cloned()
                .ok_or_else(|| {
                    LedgerError::corrupt("configuration", "no image model configured")
                })?,
        };
        if !config.offers_model(&model) {
            return Err(DomainError::UnknownModel(model).into());
        }
        Ok(model)
    }
}

impl Command for RequestTask {
    const NAME: &'static str = "request_task";
    type Output = TaskReceipt;

    fn streams(&self) -> Vec<StreamId> {
        vec![
            StreamId::account(self.request.telegram_id),
            StreamId::task(self.task_id),
        ]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &self.request)
    }

    fn decide(
        &self,
        view: &mut View<'_>,
        config: &LedgerConfig,
    ) -> Result<TaskReceipt, LedgerError> {
        let request = &self.request;
        if request.kind == TaskKind::Edit && request.source_file_id.is_none() {
            return Err(DomainError::MissingSourceImage.into());
        }
        let cost = config.cost(
            request.quality,
            request.size,
            request.template_id.as_deref(),
        )?;
        let account_stream = StreamId::account(request.telegram_id);
        let task_stream = StreamId::task(self.task_id);
        let state = view.account(&account_stream)?;
        let model = self.model(state.settings.model.as_ref(), config)?;
        let debit = account::decide_debit(
            &state,
            request.telegram_id,
            self.task_id,
            cost,
            view.now(),
            config,
        )?;
        let requested = TaskRequested {
            task_id: self.task_id,
            telegram_id: request.telegram_id,
            kind: request.kind,
            prompt: request.prompt.clone(),
            model: model.clone(),
            quality: request.quality,
            size: request.size,
            cost,
            template_id: request.template_id.clone(),
            source_file_id: request.source_file_id.clone(),
        };
        let task_events = task::decide_request(&view.task(&task_stream)?, requested)?;
        // TaskRequested first: it is what the worker waits for, and it explains the debit.
        view.append(&task_stream, ExpectedVersion::NoStream, task_events)?;
        view.append(&account_stream, view.current(&account_stream), debit)?;
        let balance_after = view.account(&account_stream)?.balance;
        debug_assert_eq!(
            state.balance.checked_sub(cost),
            Some(balance_after),
            "a debit takes exactly the cost and never overdraws"
        );
        Ok(TaskReceipt {
            task_id: self.task_id,
            cost,
            balance_after,
            model,
        })
    }
}
