//! One image task's life: requested (and paid) -> started -> attempt failed -> ... -> succeeded ->
//! delivered, or failed and refunded. Pure, like [`crate::account`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::events::{
    Event, TaskAttemptFailed, TaskDelivered, TaskFailed, TaskRefunded, TaskRequested, TaskStarted,
    TaskSucceeded, bounded_error,
};
use crate::ids::TaskId;
use crate::tokens::Tokens;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Paid for, waiting for a worker (also between attempts).
    Pending,
    /// A worker runs an attempt.
    Processing,
    /// The image exists; delivery to Telegram is under way.
    Succeeded,
    /// The user has the document.
    Delivered,
    /// Given up; refunded in the same transaction.
    Failed,
}

impl TaskStatus {
    /// As stored and shown (`pending`...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Processing => "processing",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Delivered => "delivered",
            TaskStatus::Failed => "failed",
        }
    }

    /// Delivered or failed: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Delivered | TaskStatus::Failed)
    }
}

/// One image task: the aggregate of a `task-` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// What was asked for and paid.
    pub request: TaskRequested,
    /// Where it is.
    pub status: TaskStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// When the running attempt started (its lease counts from here).
    pub running_since: Option<DateTime<Utc>>,
    /// The last failure, for the user and for operators.
    pub last_error: Option<String>,
    /// What was refunded, once.
    pub refunded: Option<Tokens>,
    /// The delivered document's Telegram file id.
    pub result_file_id: Option<String>,
}

/// The task aggregate: nothing until `TaskRequested`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskState(pub Option<Task>);

impl TaskState {
    fn get(&self, id: TaskId) -> Result<&Task, DomainError> {
        self.0.as_ref().ok_or(DomainError::TaskNotFound(id))
    }
}

fn invalid(task: &Task, action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        task_id: task.request.task_id,
        status: task.status.as_str(),
        action,
    }
}

/// The task's first event; refused for a task id used before.
pub fn decide_request(
    state: &TaskState,
    request: TaskRequested,
) -> Result<Vec<Event>, DomainError> {
    if state.0.is_some() {
        return Err(DomainError::TaskAlreadyExists(request.task_id));
    }
    Ok(vec![Event::TaskRequested(request)])
}

/// Starts the next attempt. A task stuck in `processing` for longer than `lease` (its worker
/// died) may be started again; the attempt it was on counts as used.
pub fn decide_start(
    state: &TaskState,
    id: TaskId,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    max_attempts: u32,
) -> Result<Vec<Event>, DomainError> {
    let task = state.get(id)?;
    match task.status {
        TaskStatus::Pending => {}
        TaskStatus::Processing if task.running_since.is_some_and(|t| t + lease <= now) => {}
        _ => return Err(invalid(task, "start")),
    }
    if task.attempts >= max_attempts {
        return Err(DomainError::AttemptsExhausted {
            task_id: id,
            max: max_attempts,
        });
    }
    Ok(vec![Event::TaskStarted(TaskStarted {
        attempt: task.attempts + 1,
        worker: worker.to_string(),
    })])
}

fn running_attempt(task: &Task, attempt: u32, action: &'static str) -> Result<(), DomainError> {
    if task.status != TaskStatus::Processing {
        return Err(invalid(task, action));
    }
    if task.attempts != attempt {
        return Err(DomainError::StaleAttempt {
            task_id: task.request.task_id,
            got: attempt,
            running: task.attempts,
        });
    }
    Ok(())
}

/// The running attempt failed.
pub fn decide_attempt_failed(
    state: &TaskState,
    id: TaskId,
    attempt: u32,
    error: &str,
    retryable: bool,
) -> Result<Vec<Event>, DomainError> {
    let task = state.get(id)?;
    running_attempt(task, attempt, "record a failed attempt")?;
    Ok(vec![Event::TaskAttemptFailed(TaskAttemptFailed {
        attempt,
        error: bounded_error(error),
        retryable,
    })])
}

/// The running attempt produced the image.
pub fn decide_succeed(
    state: &TaskState,
    id: TaskId,
    attempt: u32,
    provider_usage: Option<serde_json::Value>,
) -> Result<Vec<Event>, DomainError> {
    let task = state.get(id)?;
    running_attempt(task, attempt, "succeed")?;
    Ok(vec![Event::TaskSucceeded(TaskSucceeded {
        attempt,
        provider_usage,
    })])
}

/// The image reached the user; refused unless the task succeeded.
pub fn decide_deliver(
    state: &TaskState,
    id: TaskId,
    telegram_file_id: &str,
) -> Result<Vec<Event>, DomainError> {
    let task = state.get(id)?;
    if task.status != TaskStatus::Succeeded {
        return Err(invalid(task, "deliver"));
    }
    Ok(vec![Event::TaskDelivered(TaskDelivered {
        telegram_file_id: telegram_file_id.to_string(),
    })])
}

/// Gives up on a task and refunds its whole cost: both task events; the account side comes from
/// [`crate::account::decide_refund`] in the same transaction. A succeeded task may still fail:
/// an image that cannot be delivered (the user blocked the bot) was not received, so it is not
/// paid for.
pub fn decide_fail(
    state: &TaskState,
    id: TaskId,
    error: &str,
) -> Result<(Vec<Event>, Tokens), DomainError> {
    let task = state.get(id)?;
    if !matches!(
        task.status,
        TaskStatus::Pending | TaskStatus::Processing | TaskStatus::Succeeded
    ) {
        return Err(invalid(task, "fail"));
    }
    let error = bounded_error(error);
    let mut events = vec![Event::TaskFailed(TaskFailed {
        error: error.clone(),
        attempts: task.attempts,
    })];
    let refund = match task.refunded {
        Some(_) => Tokens::ZERO,
        None => task.request.cost,
    };
    if !refund.is_zero() {
        events.push(Event::TaskRefunded(TaskRefunded {
            amount: refund,
            reason: error,
        }));
    }
    Ok((events, refund))
}

/// A refund outside the failure path (an admin compensating a bad result, say): at most once per
/// task, never more than its debit, never while a worker may still deliver it.
pub fn decide_refund(
    state: &TaskState,
    id: TaskId,
    amount: Tokens,
    reason: &str,
) -> Result<Vec<Event>, DomainError> {
    let task = state.get(id)?;
    if let Some(done) = task.refunded {
        return Err(DomainError::AlreadyRefunded {
            task_id: id,
            amount: done,
        });
    }
    if amount.is_zero() {
        return Err(DomainError::ZeroAmount);
    }
    if amount > task.request.cost {
        return Err(DomainError::RefundExceedsDebit {
            task_id: id,
            requested: amount,
            debited: task.request.cost,
        });
    }
    if matches!(task.status, TaskStatus::Pending | TaskStatus::Processing) {
        return Err(invalid(task, "refund while it may still run"));
    }
    Ok(vec![Event::TaskRefunded(TaskRefunded {
        amount,
        reason: bounded_error(reason),
    })])
}

impl Aggregate for TaskState {
    const SNAPSHOT_VERSION: i32 = 1;

    fn apply(&mut self, event: &Event, recorded_at: DateTime<Utc>) -> Result<(), ApplyError> {
        if let Event::TaskRequested(r) = event {
            if self.0.is_some() {
                return Err(ApplyError("second TaskRequested in one task stream".into()));
            }
            self.0 = Some(Task {
                request: r.clone(),
                status: TaskStatus::Pending,
                attempts: 0,
                running_since: None,
                last_error: None,
                refunded: None,
                result_file_id: None,
            });
            return Ok(());
        }
        let task = self
            .0
            .as_mut()
            .ok_or_else(|| ApplyError(format!("{} before TaskRequested", event.event_type())))?;
        match event {
            Event::TaskStarted(e) => {
                task.status = TaskStatus::Processing;
                task.attempts = e.attempt;
                task.running_since = Some(recorded_at);
            }
            Event::TaskAttemptFailed(e) => {
                task.status = TaskStatus::Pending;
                task.running_since = None;
                task.last_error = Some(e.error.clone());
            }
            Event::TaskSucceeded(_) => {
                task.status = TaskStatus::Succeeded;
                task.running_since = None;
            }
            Event::TaskDelivered(e) => {
                task.status = TaskStatus::Delivered;
                task.result_file_id = Some(e.telegram_file_id.clone());
            }
            Event::TaskFailed(e) => {
                task.status = TaskStatus::Failed;
                task.running_since = None;
                task.last_error = Some(e.error.clone());
            }
            Event::TaskRefunded(e) => {
                if task.refunded.is_some() {
                    return Err(ApplyError("second refund of one task".into()));
                }
                if e.amount > task.request.cost {
                    return Err(ApplyError(format!(
                        "refund of {} exceeds the debit of {}",
                        e.amount, task.request.cost
                    )));
                }
                task.refunded = Some(e.amount);
            }
            other => {
                return Err(ApplyError(format!(
                    "{} does not belong in a task stream",
                    other.event_type()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TelegramId;
    use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};

    fn requested(cost: u32) -> (TaskId, TaskState) {
        let id = TaskId::new();
        let mut s = TaskState::default();
        let req = TaskRequested {
            task_id: id,
            telegram_id: TelegramId::new(1).expect("valid"),
            kind: TaskKind::Generate,
            prompt: Prompt::parse("a cat").expect("valid"),
            model: ModelId::parse("gpt-image-1").expect("valid"),
            quality: Quality::Medium,
            size: ImageSize::Square,
            cost: Tokens::from_const(cost),
            template_id: None,
            source_file_id: None,
        };
        let ev = decide_request(&s, req).expect("new");
        s.apply_all(&ev, Utc::now()).expect("fits");
        (id, s)
    }

    fn step(s: &mut TaskState, ev: Result<Vec<Event>, DomainError>) {
        let ev = ev.expect("allowed");
        s.apply_all(&ev, Utc::now()).expect("fits");
    }

    /// Runs attempt 1 to delivery.
    fn deliver_first_attempt(s: &mut TaskState, id: TaskId) {
        let ev = decide_start(s, id, "w", Utc::now(), Duration::minutes(5), 3);
        step(s, ev);
        let ev = decide_succeed(s, id, 1, None);
        step(s, ev);
        let ev = decide_deliver(s, id, "f");
        step(s, ev);
    }

    #[test]
    fn happy_path() {
        let (id, mut s) = requested(100);
        let now = Utc::now();
        let ev = decide_start(&s, id, "w1", now, Duration::minutes(5), 3);
        step(&mut s, ev);
        assert!(
            decide_start(&s, id, "w2", now, Duration::minutes(5), 3).is_err(),
            "no second runner"
        );
        let ev = decide_succeed(&s, id, 1, None);
        step(&mut s, ev);
        let ev = decide_deliver(&s, id, "file");
        step(&mut s, ev);
        let t = s.0.as_ref().expect("exists");
        assert_eq!(t.status, TaskStatus::Delivered);
        assert_eq!(t.result_file_id.as_deref(), Some("file"));
    }

    #[test]
    fn attempts_are_bounded_and_stale_leases_are_taken_over() {
        let (id, mut s) = requested(100);
        let t0 = Utc::now();
        for attempt in 1..=3 {
            let ev = decide_start(&s, id, "w", t0, Duration::minutes(5), 3);
            step(&mut s, ev);
            let ev = decide_attempt_failed(&s, id, attempt, "boom", true);
            step(&mut s, ev);
        }
        assert_eq!(
            decide_start(&s, id, "w", t0, Duration::minutes(5), 3),
            Err(DomainError::AttemptsExhausted {
                task_id: id,
                max: 3
            })
        );
        let (id, mut s) = requested(100);
        let ev = decide_start(&s, id, "w", t0, Duration::minutes(5), 3);
        step(&mut s, ev);
        // The worker died; after the lease another one may take it over as attempt 2.
        let later = t0 + Duration::minutes(6);
        let ev = decide_start(&s, id, "w2", later, Duration::minutes(5), 3).expect("taken over");
        assert!(matches!(
            &ev[0],
            Event::TaskStarted(TaskStarted { attempt: 2, .. })
        ));
        // A late report from the dead attempt is refused.
        s.apply_all(&ev, later).expect("fits");
        assert!(matches!(
            decide_succeed(&s, id, 1, None),
            Err(DomainError::StaleAttempt { .. })
        ));
    }

    #[test]
    fn fail_refunds_the_cost_once() {
        let (id, mut s) = requested(250);
        let (events, refund) = decide_fail(&s, id, "x").expect("allowed");
        assert_eq!(refund, Tokens::from_const(250));
        s.apply_all(&events, Utc::now()).expect("fits");
        assert!(decide_fail(&s, id, "again").is_err());
        assert_eq!(
            decide_refund(&s, id, Tokens::from_const(1), "r"),
            Err(DomainError::AlreadyRefunded {
                task_id: id,
                amount: Tokens::from_const(250)
            })
        );
    }

    #[test]
    fn an_undeliverable_result_fails_and_refunds_but_a_delivered_one_does_not() {
        let (id, mut s) = requested(300);
        let ev = decide_start(&s, id, "w", Utc::now(), Duration::minutes(5), 3);
        step(&mut s, ev);
        let ev = decide_succeed(&s, id, 1, None);
        step(&mut s, ev);
        let (events, refund) = decide_fail(&s, id, "bot was blocked").expect("succeeded may fail");
        assert_eq!(refund, Tokens::from_const(300));
        s.apply_all(&events, Utc::now()).expect("fits");
        assert!(matches!(
            decide_deliver(&s, id, "f"),
            Err(DomainError::InvalidTransition { .. })
        ));

        let (id, mut s) = requested(300);
        deliver_first_attempt(&mut s, id);
        assert!(matches!(
            decide_fail(&s, id, "late"),
            Err(DomainError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn refund_rules() {
        let unknown = TaskId::new();
        assert_eq!(
            decide_refund(&TaskState::default(), unknown, Tokens::from_const(1), "r"),
            Err(DomainError::TaskNotFound(unknown))
        );
        let (id, mut s) = requested(100);
        assert!(
            decide_refund(&s, id, Tokens::from_const(1), "r").is_err(),
            "still pending"
        );
        deliver_first_attempt(&mut s, id);
        assert!(matches!(
            decide_refund(&s, id, Tokens::from_const(101), "r"),
            Err(DomainError::RefundExceedsDebit { .. })
        ));
        let ev = decide_refund(&s, id, Tokens::from_const(40), "bad picture");
        step(&mut s, ev);
        assert!(matches!(
            decide_refund(&s, id, Tokens::from_const(1), "r"),
            Err(DomainError::AlreadyRefunded { .. })
        ));
    }
}
