//! One original task becomes one task stream: the request as the user made it, then what the
//! original did with it (ran and delivered it, or failed and refunded it, or nothing yet).

use tokenbot_ledger::events::{
    Event, TaskDelivered, TaskFailed, TaskRefunded, TaskRequested, TaskStarted, TaskSucceeded,
    bounded_error,
};
use tokenbot_ledger::{LedgerConfig, ModelId, TaskId, TaskKind, TelegramId, Tokens};
use uuid::Uuid;

use super::fields::{present, prompt_of, quality_of, size_of};
use super::rows::{OriginalStatus, OriginalTask};

/// `TaskStarted.worker` of the attempts the original ran.
pub const IMPORT_WORKER: &str = "import";
/// What a delivered task records when the original kept no file id or URL.
pub const NO_FILE_ID: &str = "imported";
/// The error of a failed task whose `error_message` is empty.
pub const NO_ERROR_MESSAGE: &str = "failed in the original bot";

/// The ledger task id of an original task: a UUIDv8 that packs the original's task id and the
/// owner's Telegram id bit for bit. Deterministic, so a second import appends exactly the same
/// events (and is answered from the first one's idempotency key); injective, so two original
/// tasks can never share an id (which a hash could only make unlikely); and version 8, so it
/// never equals a task id the ledger mints itself (v7).
pub fn import_task_id(original_task_id: i64, owner: TelegramId) -> TaskId {
    // 64 bits of task id above the 52 bits a Telegram id can have: 116 of the 122 free bits.
    const TELEGRAM_BITS: u32 = 52;
    let owner = (owner.get() as u128) & ((1 << TELEGRAM_BITS) - 1);
    let payload = ((original_task_id as u64 as u128) << TELEGRAM_BITS) | owner;
    // Around the version nibble (bits 76..80) and the variant bits (62..64).
    let low = payload & ((1 << 62) - 1);
    let middle = (payload >> 62) & 0xfff;
    let high = payload >> 74;
    let bits = (high << 80) | (0x8 << 76) | (middle << 64) | (0b10 << 62) | low;
    TaskId::from_uuid(Uuid::from_u128(bits))
}

/// One task, mapped.
pub(super) struct PlannedTask {
    pub(super) original_id: i64,
    pub(super) task_id: TaskId,
    pub(super) status: OriginalStatus,
    pub(super) cost: Tokens,
    /// Why the original refunded it (failed tasks only).
    pub(super) refund_reason: String,
    pub(super) events: Vec<Event>,
}

/// Maps one task; `None` (with a warning) when it cannot be imported.
pub(super) fn plan_task(
    task: &OriginalTask,
    owner: TelegramId,
    config: &LedgerConfig,
    default_model: &ModelId,
    warnings: &mut Vec<String>,
) -> Option<PlannedTask> {
    let label = format!("task {} of user {owner}", task.id);
    let (status, cost, kind) = status_cost_kind(task, &label, warnings)?;
    let prompt = prompt_of(task.prompt.as_deref(), &label, warnings)?;
    let still_to_run = matches!(status, OriginalStatus::Pending | OriginalStatus::Processing);
    let model = model_of(task, still_to_run, config, default_model, &label, warnings);
    let quality = quality_of(task.image_quality.as_deref(), &label, warnings);
    let size = size_of(task.image_size.as_deref(), &label, warnings);
    let source_file_id = present(task.source_image_url.as_deref()).map(str::to_string);
    if kind == TaskKind::Edit && source_file_id.is_none() {
        let consequence = if still_to_run {
            "; the worker will fail it and refund it"
        } else {
            ""
        };
        warnings.push(format!(
            "{label}: an edit without a source image{consequence}"
        ));
    }
    let task_id = import_task_id(task.id, owner);
    let mut events = vec![Event::TaskRequested(TaskRequested {
        task_id,
        telegram_id: owner,
        kind,
        prompt,
        model,
        quality,
        size,
        cost,
        template_id: None,
        source_file_id,
    })];
    let error = bounded_error(present(task.error_message.as_deref()).unwrap_or(NO_ERROR_MESSAGE));
    let refund_reason = bounded_error(&format!("refunded by the original bot: {error}"));
    events.extend(outcome(task, status, cost, error, &refund_reason));
    Some(PlannedTask {
        original_id: task.id,
        task_id,
        status,
        cost,
        refund_reason,
        events,
    })
}

/// The columns without which a task cannot be imported; `None` (with a warning) when one is
/// unusable.
fn status_cost_kind(
    task: &OriginalTask,
    label: &str,
    warnings: &mut Vec<String>,
) -> Option<(OriginalStatus, Tokens, TaskKind)> {
    let Some(status) = present(task.status.as_deref()).and_then(OriginalStatus::parse) else {
        warnings.push(format!(
            "{label}: skipped: unknown status {:?} (expected pending, processing, done or failed)",
            task.status.as_deref().unwrap_or("")
        ));
        return None;
    };
    let cost = match task.tokens_spent.map(Tokens::try_from) {
        Some(Ok(cost)) => cost,
        Some(Err(_)) | None => {
            warnings.push(format!(
                "{label}: skipped: tokens_spent is {}",
                task.tokens_spent
                    .map_or("null".to_string(), |n| format!("negative ({n})"))
            ));
            return None;
        }
    };
    let kind = match present(task.task_type.as_deref()) {
        Some("generate") => TaskKind::Generate,
        Some("edit") => TaskKind::Edit,
        other => {
            warnings.push(format!(
                "{label}: skipped: unknown task_type {:?} (expected generate or edit)",
                other.unwrap_or("")
            ));
            return None;
        }
    };
    Some((status, cost, kind))
}

/// The task's model: a finished task keeps the model it ran with; one still to run needs an
/// offered one, else it runs with the default (with a warning).
fn model_of(
    task: &OriginalTask,
    still_to_run: bool,
    config: &LedgerConfig,
    default_model: &ModelId,
    label: &str,
    warnings: &mut Vec<String>,
) -> ModelId {
    match present(task.model.as_deref()).map(ModelId::parse) {
        Some(Ok(m)) if !still_to_run || config.offers_model(&m) => m,
        other => {
            let what = match other {
                Some(Ok(m)) => format!("model {m} is not offered"),
                Some(Err(e)) => e.to_string(),
                None => "no model".to_string(),
            };
            warnings.push(format!("{label}: {what}; imported with {default_model}"));
            default_model.clone()
        }
    }
}

/// What the original did with the task after the request, as the ledger's task events.
fn outcome(
    task: &OriginalTask,
    status: OriginalStatus,
    cost: Tokens,
    error: String,
    refund_reason: &str,
) -> Vec<Event> {
    match status {
        OriginalStatus::Done => {
            let file_id = present(task.result_file_id.as_deref())
                .or(present(task.result_image_url.as_deref()))
                .unwrap_or(NO_FILE_ID);
            vec![
                Event::TaskStarted(TaskStarted {
                    attempt: 1,
                    worker: IMPORT_WORKER.to_string(),
                }),
                Event::TaskSucceeded(TaskSucceeded {
                    attempt: 1,
                    provider_usage: None,
                }),
                Event::TaskDelivered(TaskDelivered {
                    telegram_file_id: file_id.to_string(),
                }),
            ]
        }
        OriginalStatus::Failed => {
            // The original counted every attempt in retry_count; the last one started is that one.
            let attempts = u32::try_from(task.retry_count.unwrap_or(0).max(1)).unwrap_or(u32::MAX);
            let mut events = vec![
                Event::TaskStarted(TaskStarted {
                    attempt: attempts,
                    worker: IMPORT_WORKER.to_string(),
                }),
                Event::TaskFailed(TaskFailed { error, attempts }),
            ];
            if !cost.is_zero() {
                // Kept even when the account side cannot be (see `plan_user`): the mark is what
                // stops anyone refunding this task a second time.
                events.push(Event::TaskRefunded(TaskRefunded {
                    amount: cost,
                    reason: refund_reason.to_string(),
                }));
            }
            events
        }
        OriginalStatus::Pending | OriginalStatus::Processing => Vec::new(),
    }
}
