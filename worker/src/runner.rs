//! One task's journey through a worker: take the next attempt, call the provider, keep the image,
//! deliver it, or give up and refund. Every step is a ledger command checked under the task's
//! lock, so two workers (or one message delivered twice) can race through this code and the
//! ledger still records one running attempt at a time, one result and at most one refund.
//!
//! Every command carries an idempotency key (the task, the attempt, and for a start a nonce of
//! that one call), so that a command whose outcome the ledger could not learn
//! ([`LedgerError::OutcomeUnknown`]) is sent again under the same key and answered with its
//! first result if it was written, rather than refused as an invalid transition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::events::TaskRequested;
use tokenbot_ledger::{
    CommandContext, DomainError, Executed, IdempotencyKey, Ledger, LedgerError, StartedAttempt,
    Task, TaskId, TaskKind, TaskStatus,
};
use tokenbot_texts::{self as texts, Lang};

use crate::config::WorkerConfig;
use crate::provider::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, Refusal};
use crate::results::ResultStore;
use crate::telegram::{Courier, SendError};

/// What the consumer should do with the message that carried the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The task reached a final state (here or elsewhere): acknowledge.
    Done,
    /// Come back to it after this long (backoff between attempts, or another worker's lease).
    RetryIn(Duration),
    /// Never retry: the message names a task this ledger does not have.
    Park(String),
}

/// Pause after an infrastructure error (Postgres unreachable, say) before the message returns.
const INFRA_RETRY: Duration = Duration::from_secs(2);
/// How long a step keeps writing what it holds (a keyed command whose outcome is unknown or that
/// could not reach Postgres, a finished image) before it gives up and lets the message return.
/// Giving up mid-attempt is expensive: the attempt keeps its lease until it runs out (minutes in
/// production) and its picture is made again, so a Postgres restart is waited out here.
const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Pauses between those writes: short first, since most outages seen are a broken connection
/// that the pool replaces at once.
const WRITE_RETRY_MIN: Duration = Duration::from_millis(50);
const WRITE_RETRY_MAX: Duration = Duration::from_secs(2);

/// Drives tasks through their journey; shared by the consumer (tasks the bus delivers) and the
/// sweeper (tasks the bus lost), which may run the same task at once without harm.
pub struct Runner {
    ledger: Ledger,
    provider: Arc<dyn ImageProvider>,
    courier: Courier,
    results: ResultStore,
    config: Arc<WorkerConfig>,
}

fn user_reason(refusal: Refusal, lang: Lang) -> String {
    let refusal = match refusal {
        Refusal::Moderation => texts::Refusal::Moderation,
        Refusal::InvalidImage => texts::Refusal::InvalidImage,
        Refusal::BadRequest => texts::Refusal::BadRequest,
        Refusal::Configuration => texts::Refusal::Configuration,
    };
    texts::refusal_reason(lang, refusal)
}

impl Runner {
    /// A runner writing to `ledger`, drawing with `provider`, delivering through `courier`.
    pub fn new(
        ledger: Ledger,
        provider: Arc<dyn ImageProvider>,
        courier: Courier,
        results: ResultStore,
        config: Arc<WorkerConfig>,
    ) -> Self {
        Self {
            ledger,
            provider,
            courier,
            results,
            config,
        }
    }

    /// Moves the task as far as it can go now. `ctx` carries the correlation id of the request
    /// and names the `TaskRequested` event as the cause.
    pub async fn handle(&self, task_id: TaskId, ctx: &CommandContext) -> Disposition {
        match self.step(task_id, ctx).await {
            // The message is acknowledged only when the ledger says the task is final: a worker
            // whose attempt went stale must not take the message away from the one that took
            // the task over (JetStream would then never bring it back).
            Ok(Disposition::Done) => match self.ledger.task(task_id).await {
                Ok(Some(t)) if t.status.is_final() => Disposition::Done,
                Ok(Some(t)) if t.status == TaskStatus::Processing => {
                    Disposition::RetryIn(self.lease_left(&t))
                }
                _ => Disposition::RetryIn(INFRA_RETRY),
            },
            Ok(d) => d,
            Err(e @ StepError::Missing(_)) => Disposition::Park(e.to_string()),
            Err(e) => {
                tracing::warn!(%task_id, error = %tokenbot_ledger::error::chain(&e), "task step failed; the message will return");
                metrics::counter!("tokenbot_worker_infra_errors_total").increment(1);
                Disposition::RetryIn(INFRA_RETRY)
            }
        }
    }

    async fn step(&self, task_id: TaskId, ctx: &CommandContext) -> Result<Disposition, StepError> {
        // Bounded: each pass either returns or follows a state another worker just changed.
        for _ in 0..4 {
            let task = self.load(task_id).await?;
            match task.status {
                TaskStatus::Delivered | TaskStatus::Failed => return Ok(Disposition::Done),
                TaskStatus::Succeeded => return self.deliver(&task, ctx).await,
                TaskStatus::Pending | TaskStatus::Processing => {}
            }
            let lease = chrono::Duration::from_std(self.config.lease)
                .map_err(|_| StepError::Config("lease out of range"))?;
            // A nonce of this call: only its own repeat may be answered with its result.
            let nonce = uuid::Uuid::new_v4().simple();
            let key = step_key("task-start", task_id, task.attempts + 1, Some(nonce))?;
            let ctx_start = ctx.clone().with_key(key);
            let worker = &self.config.worker_id;
            match keyed(|| self.ledger.start_task(&ctx_start, task_id, worker, lease)).await {
                Ok((started, _)) => return self.attempt(started.value, ctx).await,
                Err(LedgerError::Domain(DomainError::AttemptsExhausted { .. })) => {
                    // The worker on the last attempt died with it.
                    let error = "the last attempt was abandoned by its worker";
                    return self.give_up(&task, error, None, ctx).await;
                }
                Err(LedgerError::Domain(DomainError::InvalidTransition { .. })) => {
                    let now = self.load(task_id).await?;
                    if now.status == TaskStatus::Processing {
                        return Ok(Disposition::RetryIn(self.lease_left(&now)));
                    }
                    // It moved on (finished, or failed back to pending): look again.
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Disposition::RetryIn(INFRA_RETRY))
    }

    /// The task as the ledger has it now.
    async fn load(&self, task_id: TaskId) -> Result<Task, StepError> {
        self.ledger
            .task(task_id)
            .await?
            .ok_or(StepError::Missing(task_id))
    }

    /// How long until another worker's lease on a running task runs out.
    fn lease_left(&self, task: &Task) -> Duration {
        let since = task.running_since.unwrap_or_else(chrono::Utc::now);
        let ends = since + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        (ends - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(100))
    }

    async fn attempt(
        &self,
        started: StartedAttempt,
        ctx: &CommandContext,
    ) -> Result<Disposition, StepError> {
        let StartedAttempt { attempt, request } = started;
        let task_id = request.task_id;
        let span = tracing::info_span!("attempt", %task_id, attempt);
        let _enter = span.enter();
        metrics::counter!("tokenbot_worker_attempts_total").increment(1);
        match self.call_provider(&request).await {
            Ok(image) => {
                self.keep(task_id, attempt, &image.png).await?;
                let key = step_key("task-succeed", task_id, attempt, None)?;
                let ctx = &ctx.clone().with_key(key);
                let usage = image.usage;
                match keyed(|| {
                    self.ledger
                        .succeed_task(ctx, task_id, attempt, usage.clone())
                })
                .await
                {
                    Ok(_) => {}
                    Err(e) if superseded(&e) => return Ok(Disposition::Done),
                    Err(e) => return Err(e.into()),
                }
                metrics::counter!("tokenbot_worker_generations_total", "outcome" => "succeeded")
                    .increment(1);
                let task = self.load(task_id).await?;
                self.deliver(&task, ctx).await
            }
            Err(ProviderError::Retryable {
                reason,
                retry_after,
            }) => {
                self.attempt_failed(task_id, attempt, &reason, retry_after, ctx)
                    .await
            }
            Err(ProviderError::Permanent { refusal, reason }) => {
                metrics::counter!("tokenbot_worker_generations_total", "outcome" => "refused")
                    .increment(1);
                tracing::warn!(error = %reason, ?refusal, "attempt refused; no retry");
                let task = self.load(task_id).await?;
                self.give_up(&task, &reason, Some(refusal), ctx).await
            }
        }
    }

    /// One call to the provider for the task, bounded so it cannot outlive the lease.
    async fn call_provider(
        &self,
        request: &TaskRequested,
    ) -> Result<GeneratedImage, ProviderError> {
        let image_request = self.image_request(request).await?;
        // The provider's own timeout is shorter; this bound keeps the lease honest even if a
        // provider ignores it.
        let limit = self.config.lease.mul_f64(0.9);
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, self.provider.create(&image_request)).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Retryable {
                reason: format!("no answer within {limit:?}"),
                retry_after: None,
            }),
        };
        metrics::histogram!("tokenbot_worker_generation_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// After a retryable failure: records it and asks for another attempt after the retry delay
    /// (or the provider's `Retry-After`, if longer), or gives up and refunds after the last one.
    async fn attempt_failed(
        &self,
        task_id: TaskId,
        attempt: u32,
        reason: &str,
        retry_after: Option<Duration>,
        ctx: &CommandContext,
    ) -> Result<Disposition, StepError> {
        metrics::counter!("tokenbot_worker_generations_total", "outcome" => "retryable_error")
            .increment(1);
        // Expected now and then; retried. The final failure is what operators act on.
        tracing::info!(error = %reason, "attempt failed");
        if attempt >= self.ledger.config().max_attempts {
            let task = self.load(task_id).await?;
            return self.give_up(&task, reason, None, ctx).await;
        }
        let key = step_key("task-attempt-failed", task_id, attempt, None)?;
        let ctx_failed = ctx.clone().with_key(key);
        match keyed(|| {
            self.ledger
                .record_attempt_failure(&ctx_failed, task_id, attempt, reason, true)
        })
        .await
        {
            Ok(_) => {}
            Err(e) if superseded(&e) => return Ok(Disposition::Done),
            Err(e) => return Err(e.into()),
        }
        let delay = self
            .config
            .retry_delay(attempt)
            .max(retry_after.unwrap_or_default());
        Ok(Disposition::RetryIn(delay))
    }

    /// Keeps the finished image for delivery, waiting out a Postgres outage (within
    /// [`WRITE_RETRY_BUDGET`]) rather than dropping a picture that was paid for.
    async fn keep(&self, task_id: TaskId, attempt: u32, png: &[u8]) -> Result<(), StepError> {
        let started = tokio::time::Instant::now();
        let mut backoff = Backoff::new(WRITE_RETRY_MIN, WRITE_RETRY_MAX);
        loop {
            match self.results.put(task_id, attempt, png).await {
                Ok(()) => return Ok(()),
                Err(e) if started.elapsed() < WRITE_RETRY_BUDGET => {
                    tracing::warn!(error = %e, "the finished image could not be kept yet; trying again");
                    tokio::time::sleep(backoff.next_pause()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn image_request(&self, r: &TaskRequested) -> Result<ImageRequest, ProviderError> {
        let source = match (r.kind, &r.source_file_id) {
            (TaskKind::Edit, Some(file_id)) => Some(self.courier.download_source(file_id).await?),
            (TaskKind::Edit, None) => {
                return Err(ProviderError::Permanent {
                    refusal: Refusal::InvalidImage,
                    reason: "the edit has no source image".into(),
                });
            }
            (TaskKind::Generate, _) => None,
        };
        Ok(ImageRequest {
            kind: r.kind,
            model: r.model.clone(),
            prompt: r.prompt.clone(),
            quality: r.quality,
            size: r.size,
            source,
        })
    }

    async fn lang_of(&self, task: &Task) -> Lang {
        match self.ledger.account(task.request.telegram_id).await {
            Ok(Some((account, _))) => Lang::from_code(
                account
                    .profile
                    .as_ref()
                    .and_then(|p| p.language_code.as_deref()),
            ),
            _ => Lang::Ru,
        }
    }

    /// Sends the kept image and records the delivery. Telegram outages are retried here a few
    /// times; a user who cannot be reached gets a refund instead of a picture.
    async fn deliver(&self, task: &Task, ctx: &CommandContext) -> Result<Disposition, StepError> {
        let r = &task.request;
        let Some(png) = self.results.get(r.task_id).await? else {
            // Only possible if the table was tampered with: the image is gone for good.
            let error = "the finished image was lost before delivery";
            return self.give_up(task, error, None, ctx).await;
        };
        let lang = self.lang_of(task).await;
        let caption =
            texts::result_caption(lang, r.kind, r.prompt.as_str(), r.quality, r.size, r.cost);
        let mut tries = 0;
        let file_id = loop {
            tries += 1;
            match self
                .courier
                .send_result(
                    r.telegram_id,
                    format!("task_{}.png", r.task_id),
                    png.clone(),
                    caption.clone(),
                )
                .await
            {
                Ok(file_id) => break file_id,
                Err(SendError::Unreachable(why)) => {
                    let error = format!("the result could not be delivered: {why}");
                    return self.give_up(task, &error, None, ctx).await;
                }
                Err(SendError::Retry { reason, after }) => {
                    if tries >= self.config.max_delivery_attempts {
                        let error = format!("the result could not be delivered: {reason}");
                        return self.give_up(task, &error, None, ctx).await;
                    }
                    let pause = after.unwrap_or_else(|| self.config.retry_delay(tries));
                    tracing::warn!(error = %reason, ?pause, "delivery failed; retrying");
                    tokio::time::sleep(pause).await;
                }
            }
        };
        let key = IdempotencyKey::derived("task-deliver", r.task_id)
            .map_err(|_| StepError::Config("delivery key"))?;
        let ctx = ctx.clone().with_key(key);
        match keyed(|| self.ledger.deliver_task(&ctx, r.task_id, &file_id)).await {
            Ok(_)
            | Err(LedgerError::Domain(DomainError::InvalidTransition { .. }))
            | Err(LedgerError::IdempotencyConflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.results.delete(r.task_id).await?;
        metrics::counter!("tokenbot_worker_deliveries_total").increment(1);
        Ok(Disposition::Done)
    }

    /// Fails the task and refunds it in one transaction, then tells the user. The key derived from
    /// the task id makes a retried call return the first outcome; a racing worker finds the task
    /// already failed. Only the caller whose command appended the refund sends the notice.
    async fn give_up(
        &self,
        task: &Task,
        error: &str,
        refusal: Option<Refusal>,
        ctx: &CommandContext,
    ) -> Result<Disposition, StepError> {
        let r = &task.request;
        let key = IdempotencyKey::derived("task-fail", r.task_id)
            .map_err(|_| StepError::Config("failure key"))?;
        let ctx = ctx.clone().with_key(key);
        let (outcome, was_unknown) =
            match keyed(|| self.ledger.fail_task(&ctx, r.task_id, r.telegram_id, error)).await {
                Ok(done) => done,
                Err(LedgerError::Domain(DomainError::InvalidTransition { .. }))
                | Err(LedgerError::IdempotencyConflict { .. }) => return Ok(Disposition::Done),
                Err(e) => return Err(e.into()),
            };
        tracing::info!(task_id = %r.task_id, refunded = %outcome.value.refunded, error, "task failed and refunded");
        // A replay after an unknown outcome is most likely this call's own first try.
        if !outcome.replayed || was_unknown {
            metrics::counter!("tokenbot_worker_refunds_total").increment(1);
            let lang = self.lang_of(task).await;
            let reason = refusal.map(|f| user_reason(f, lang));
            let text = texts::failure_refunded(lang, outcome.value.refunded, reason.as_deref());
            if let Err(e) = self.courier.send_text(r.telegram_id, text).await {
                // The refund stands; the user sees it in their balance.
                tracing::warn!(error = %e, "failure notice not delivered");
            }
        }
        Ok(Disposition::Done)
    }
}

/// The idempotency key of one step of a task: `namespace:task:attempt[:nonce]`.
fn step_key(
    namespace: &str,
    task_id: TaskId,
    attempt: u32,
    nonce: Option<uuid::fmt::Simple>,
) -> Result<IdempotencyKey, StepError> {
    let value = match nonce {
        Some(n) => format!("{task_id}:{attempt}:{n}"),
        None => format!("{task_id}:{attempt}"),
    };
    IdempotencyKey::derived(namespace, value).map_err(|_| StepError::Config("step key"))
}

/// Runs a keyed ledger command; when its outcome could not be learned, or Postgres could not be
/// reached, sends it again under the same key (answered with the first result if that was
/// written), for up to [`WRITE_RETRY_BUDGET`]: only this call knows the key of a start, and an
/// attempt that gives up holds its task until its lease runs out. The flag is true if an outcome
/// was unknown on the way.
async fn keyed<T, F, Fut>(mut call: F) -> Result<(Executed<T>, bool), LedgerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Executed<T>, LedgerError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = Backoff::new(WRITE_RETRY_MIN, WRITE_RETRY_MAX);
    let mut unknown = false;
    loop {
        match call().await {
            Err(e)
                if (e.is_outcome_unknown() || e.is_transient())
                    && started.elapsed() < WRITE_RETRY_BUDGET =>
            {
                if e.is_outcome_unknown() {
                    unknown = true;
                    metrics::counter!("tokenbot_worker_unknown_outcomes_total").increment(1);
                }
                tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "ledger command not settled; sending it again under its key");
                tokio::time::sleep(backoff.next_pause()).await;
            }
            Ok(done) => return Ok((done, unknown)),
            Err(e) => return Err(e),
        }
    }
}

/// Our attempt is no longer the running one: the lease ran out and another worker took the
/// task over (its attempt counts), or the task moved on.
fn superseded(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::Domain(
            DomainError::StaleAttempt { .. } | DomainError::InvalidTransition { .. }
        )
    )
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Results(#[from] crate::results::ResultStoreError),
    #[error("task {0} is not in the ledger (is the worker pointed at the right database?)")]
    Missing(TaskId),
    #[error("worker configuration: {0}")]
    Config(&'static str),
}
