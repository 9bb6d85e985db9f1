//! From the original's rows to the ledger's events. Pure (no I/O), so every rule here is tested
//! without a database; and every stream is folded through the ledger's own aggregates before it
//! is sent, so a mapping mistake is reported by name instead of as a refused append.
//!
//! The account history of an imported user is synthetic but balances to the token:
//! one `TokensGranted` (kind `import`) of what the user held plus what their tasks kept, then one
//! `TokensDebited` per paid task and a `TokensRefunded` after each task the original refunded
//! (a failed one). The last `balance_after` is the original's `users.tokens`.

use chrono::Utc;
use tokenbot_ledger::account::{self, Account};
use tokenbot_ledger::aggregate::Aggregate;
use tokenbot_ledger::events::{
    AccountOpened, Event, SettingsChanged, TaskDelivered, TaskFailed, TaskRefunded, TaskRequested,
    TaskStarted, TaskSucceeded, TokensDebited, TokensGranted, TokensRefunded, bounded_error,
};
use tokenbot_ledger::image::preview;
use tokenbot_ledger::{
    DomainError, ExpectedVersion, GrantKind, IdempotencyKey, ImageSize, LedgerConfig, ModelId,
    Prompt, Quality, StreamAppend, StreamId, TaskId, TaskKind, TaskState, TelegramId, Tokens,
};
use uuid::Uuid;

/// The reason written on every import grant.
pub const GRANT_REASON: &str = "imported from the original bot";
/// `TaskStarted.worker` of the attempts the original ran.
pub const IMPORT_WORKER: &str = "import";
/// The prompt of a task whose prompt was empty in the original (the ledger requires one).
pub const EMPTY_PROMPT: &str = "(empty)";
/// What a delivered task records when the original kept no file id or URL.
pub const NO_FILE_ID: &str = "imported";
/// The error of a failed task whose `error_message` is empty.
pub const NO_ERROR_MESSAGE: &str = "failed in the original bot";

/// One row of the original's `users` table. Columns the original declared NOT NULL are still
/// read as optional: its startup `create_all` could leave a schema that differs from Alembic's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalUser {
    pub id: i64,
    pub telegram_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub tokens: Option<i64>,
    pub selected_model: Option<String>,
    pub image_quality: Option<String>,
    pub image_size: Option<String>,
}

/// One row of the original's `generation_tasks` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalTask {
    pub id: i64,
    pub user_id: Option<i64>,
    pub task_type: Option<String>,
    pub model: Option<String>,
    pub image_quality: Option<String>,
    pub image_size: Option<String>,
    pub prompt: Option<String>,
    pub source_image_url: Option<String>,
    pub result_image_url: Option<String>,
    pub result_file_id: Option<String>,
    pub status: Option<String>,
    pub tokens_spent: Option<i64>,
    pub retry_count: Option<i64>,
    pub error_message: Option<String>,
}

/// The original's task statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginalStatus {
    Pending,
    Processing,
    Done,
    Failed,
}

impl OriginalStatus {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Tasks per original status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    pub done: u64,
    pub failed: u64,
    pub pending: u64,
    pub processing: u64,
}

impl TaskCounts {
    pub fn total(&self) -> u64 {
        self.done + self.failed + self.pending + self.processing
    }

    fn count(&mut self, status: OriginalStatus) {
        match status {
            OriginalStatus::Done => self.done += 1,
            OriginalStatus::Failed => self.failed += 1,
            OriginalStatus::Pending => self.pending += 1,
            OriginalStatus::Processing => self.processing += 1,
        }
    }

    pub fn add(&mut self, other: &TaskCounts) {
        self.done += other.done;
        self.failed += other.failed;
        self.pending += other.pending;
        self.processing += other.processing;
    }
}

/// Everything one user becomes: the streams to append in one call, and what to report.
#[derive(Debug, Clone)]
pub struct UserPlan {
    pub telegram_id: TelegramId,
    /// `import:user:<telegram id>`: a second import of the same rows is answered from the first.
    pub key: IdempotencyKey,
    /// The account stream first, then one stream per task; all new (`NoStream`).
    pub appends: Vec<StreamAppend>,
    /// The balance the account ends with (the original's `users.tokens`, or 0 if negative).
    pub balance: Tokens,
    pub tasks: TaskCounts,
    pub skipped_tasks: u64,
    /// The original held a negative balance (it had no CHECK); the account starts at 0.
    pub negative_balance: bool,
    pub warnings: Vec<String>,
}

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
struct PlannedTask {
    original_id: i64,
    task_id: TaskId,
    status: OriginalStatus,
    cost: Tokens,
    /// Why the original refunded it (failed tasks only).
    refund_reason: String,
    events: Vec<Event>,
}

/// A step of the account's money history.
enum Money {
    Debit(usize),
    /// Debit and, right after it, the refund the original made.
    DebitRefunded(usize),
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn prompt_of(raw: Option<&str>, label: &str, warnings: &mut Vec<String>) -> Option<Prompt> {
    let Some(text) = present(raw) else {
        warnings.push(format!(
            "{label}: empty prompt, imported as {EMPTY_PROMPT:?}"
        ));
        return Prompt::parse(EMPTY_PROMPT).ok();
    };
    let chars = text.chars().count();
    let text = if chars > Prompt::MAX_CHARS {
        warnings.push(format!(
            "{label}: prompt of {chars} characters cut to {}",
            Prompt::MAX_CHARS
        ));
        preview(text, Prompt::MAX_CHARS - 3)
    } else {
        text.to_string()
    };
    match Prompt::parse(&text) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!("{label}: skipped: {e}"));
            None
        }
    }
}

fn quality_of(raw: Option<&str>, label: &str, warnings: &mut Vec<String>) -> Quality {
    match present(raw).map(str::parse::<Quality>) {
        Some(Ok(q)) => q,
        other => {
            if let Some(Err(e)) = other {
                warnings.push(format!("{label}: {e}; imported as medium"));
            }
            Quality::Medium
        }
    }
}

fn size_of(raw: Option<&str>, label: &str, warnings: &mut Vec<String>) -> ImageSize {
    match present(raw).map(str::parse::<ImageSize>) {
        Some(Ok(s)) => s,
        other => {
            if let Some(Err(e)) = other {
                warnings.push(format!("{label}: {e}; imported as 1024x1024"));
            }
            ImageSize::Square
        }
    }
}

/// Maps one task; `None` (with a warning) when it cannot be imported.
fn plan_task(
    task: &OriginalTask,
    owner: TelegramId,
    config: &LedgerConfig,
    default_model: &ModelId,
    warnings: &mut Vec<String>,
) -> Option<PlannedTask> {
    let label = format!("task {} of user {owner}", task.id);
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
    let prompt = prompt_of(task.prompt.as_deref(), &label, warnings)?;
    let still_to_run = matches!(status, OriginalStatus::Pending | OriginalStatus::Processing);
    let model = match present(task.model.as_deref()).map(ModelId::parse) {
        // A finished task keeps the model it ran with; one still to run needs an offered one.
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
    };
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
    match status {
        OriginalStatus::Done => {
            let file_id = present(task.result_file_id.as_deref())
                .or(present(task.result_image_url.as_deref()))
                .unwrap_or(NO_FILE_ID);
            events.extend([
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
            ]);
        }
        OriginalStatus::Failed => {
            // The original counted every attempt in retry_count; the last one started is that one.
            let attempts = u32::try_from(task.retry_count.unwrap_or(0).max(1)).unwrap_or(u32::MAX);
            events.extend([
                Event::TaskStarted(TaskStarted {
                    attempt: attempts,
                    worker: IMPORT_WORKER.to_string(),
                }),
                Event::TaskFailed(TaskFailed { error, attempts }),
            ]);
            if !cost.is_zero() {
                // Kept even when the account side cannot be (see `plan_user`): the mark is what
                // stops anyone refunding this task a second time.
                events.push(Event::TaskRefunded(TaskRefunded {
                    amount: cost,
                    reason: refund_reason.clone(),
                }));
            }
        }
        OriginalStatus::Pending | OriginalStatus::Processing => {}
    }
    Some(PlannedTask {
        original_id: task.id,
        task_id,
        status,
        cost,
        refund_reason,
        events,
    })
}

/// The settings that differ from the defaults, as the ledger's own rule records them.
fn settings_of(
    user: &OriginalUser,
    state: &Account,
    owner: TelegramId,
    config: &LedgerConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<Event>, String> {
    let label = format!("user {owner}");
    let model = match present(user.selected_model.as_deref()).map(ModelId::parse) {
        Some(Ok(m)) if config.offers_model(&m) => Some(m),
        Some(Ok(m)) => {
            warnings.push(format!(
                "{label}: selected model {m} is not offered; they get the default"
            ));
            None
        }
        Some(Err(e)) => {
            warnings.push(format!(
                "{label}: selected model: {e}; they get the default"
            ));
            None
        }
        None => None,
    };
    let wanted = SettingsChanged {
        model,
        quality: Some(quality_of(user.image_quality.as_deref(), &label, warnings)),
        size: Some(size_of(user.image_size.as_deref(), &label, warnings)),
    };
    account::decide_settings(state, owner, wanted, config)
        .map_err(|e: DomainError| format!("settings refused by the ledger: {e}"))
}

/// Everything one original user becomes, or why they cannot be imported.
pub fn plan_user(
    user: &OriginalUser,
    tasks: &[OriginalTask],
    config: &LedgerConfig,
) -> Result<UserPlan, String> {
    let owner = TelegramId::new(user.telegram_id).map_err(|e| e.to_string())?;
    let key = IdempotencyKey::derived("import:user", owner).map_err(|e| e.to_string())?;
    let default_model = config
        .default_model()
        .ok_or("no image model is configured (IMAGE_MODELS)")?;
    let mut warnings = Vec::new();
    let held = match user.tokens {
        Some(t) => t,
        None => {
            warnings.push(format!("user {owner}: tokens is null; imported as 0"));
            0
        }
    };
    let negative_balance = held < 0;
    if negative_balance {
        warnings.push(format!(
            "user {owner}: the original balance was {held}; the account starts at 0"
        ));
    }
    let balance = Tokens::try_from(held.max(0)).map_err(|e| e.to_string())?;

    let mut planned = Vec::with_capacity(tasks.len());
    let mut counts = TaskCounts::default();
    let mut skipped_tasks = 0;
    for task in tasks {
        match plan_task(task, owner, config, default_model, &mut warnings) {
            Some(p) => {
                counts.count(p.status);
                planned.push(p);
            }
            None => skipped_tasks += 1,
        }
    }

    // What the user held plus what their unrefunded tasks kept: the grant the debits come from.
    let overflow = || "the token sums overflow".to_string();
    let mut grant = balance;
    for p in planned
        .iter()
        .filter(|p| p.status != OriginalStatus::Failed)
    {
        grant = grant.checked_add(p.cost).map_err(|_| overflow())?;
    }
    // In the original's order, except that a refunded debit the running balance cannot cover
    // at its place moves to right after the grant (a debit and its refund net to zero, so the
    // steps after it are unchanged). Debits of kept tasks always fit: the grant covers them all.
    let mut early = Vec::new();
    let mut in_order = Vec::new();
    let mut running = grant;
    for (i, p) in planned.iter().enumerate() {
        if p.cost.is_zero() {
            continue;
        }
        if p.status != OriginalStatus::Failed {
            running = running.checked_sub(p.cost).ok_or_else(overflow)?;
            in_order.push(Money::Debit(i));
        } else if running >= p.cost {
            in_order.push(Money::DebitRefunded(i));
        } else if grant >= p.cost {
            early.push(Money::DebitRefunded(i));
        } else {
            warnings.push(format!(
                "task {} of user {owner}: its cost of {} exceeds anything the account held; \
                 its debit and refund (net zero) are not recorded on the account",
                p.original_id, p.cost
            ));
        }
    }

    let mut events = vec![Event::AccountOpened(AccountOpened {
        telegram_id: owner,
        username: user.username.clone(),
        first_name: user.first_name.clone(),
        language_code: None,
    })];
    let mut now = Tokens::ZERO;
    if !grant.is_zero() {
        now = grant;
        events.push(Event::TokensGranted(TokensGranted {
            amount: grant,
            kind: GrantKind::Import,
            reason: Some(GRANT_REASON.to_string()),
            balance_after: grant,
        }));
    }
    for step in early.iter().chain(&in_order) {
        let (Money::Debit(i) | Money::DebitRefunded(i)) = *step;
        let Some(p) = planned.get(i) else { continue };
        now = now.checked_sub(p.cost).ok_or_else(overflow)?;
        events.push(Event::TokensDebited(TokensDebited {
            task_id: p.task_id,
            amount: p.cost,
            balance_after: now,
        }));
        if let Money::DebitRefunded(_) = step {
            now = now.checked_add(p.cost).map_err(|_| overflow())?;
            events.push(Event::TokensRefunded(TokensRefunded {
                task_id: p.task_id,
                amount: p.cost,
                reason: p.refund_reason.clone(),
                balance_after: now,
            }));
        }
    }

    // Fold through the ledger's own rules: what the append will check, checked here first.
    let at = Utc::now();
    let mut state = Account::default();
    state
        .apply_all(&events, at)
        .map_err(|e| format!("the mapped account does not fit: {e}"))?;
    let settings = settings_of(user, &state, owner, config, &mut warnings)?;
    state
        .apply_all(&settings, at)
        .map_err(|e| format!("the mapped settings do not fit: {e}"))?;
    events.extend(settings);
    if state.balance != balance {
        return Err(format!(
            "the mapped account ends at {} instead of {balance}",
            state.balance
        ));
    }

    let mut appends = Vec::with_capacity(planned.len() + 1);
    appends.push(StreamAppend {
        stream: StreamId::account(owner),
        expected: ExpectedVersion::NoStream,
        events,
    });
    for p in planned {
        let mut task = TaskState::default();
        task.apply_all(&p.events, at)
            .map_err(|e| format!("task {}: the mapped task does not fit: {e}", p.task_id))?;
        appends.push(StreamAppend {
            stream: StreamId::task(p.task_id),
            expected: ExpectedVersion::NoStream,
            events: p.events,
        });
    }
    Ok(UserPlan {
        telegram_id: owner,
        key,
        appends,
        balance,
        tasks: counts,
        skipped_tasks,
        negative_balance,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(tokens: i64) -> OriginalUser {
        OriginalUser {
            id: 1,
            telegram_id: 4242,
            username: Some("ann".into()),
            first_name: Some("Ann".into()),
            tokens: Some(tokens),
            selected_model: Some("gpt-image-1".into()),
            image_quality: Some("medium".into()),
            image_size: Some("1024x1024".into()),
        }
    }

    fn task(id: i64, status: &str, spent: i64) -> OriginalTask {
        OriginalTask {
            id,
            user_id: Some(1),
            task_type: Some("generate".into()),
            model: Some("gpt-image-1".into()),
            image_quality: Some("medium".into()),
            image_size: Some("1024x1024".into()),
            prompt: Some("a cat".into()),
            status: Some(status.into()),
            tokens_spent: Some(spent),
            retry_count: Some(0),
            ..Default::default()
        }
    }

    fn types(plan: &UserPlan, stream: usize) -> Vec<&'static str> {
        plan.appends[stream]
            .events
            .iter()
            .map(Event::event_type)
            .collect()
    }

    #[test]
    fn task_ids_are_deterministic_distinct_and_version_8() {
        let a = user(0);
        let owner = TelegramId::new(a.telegram_id).expect("valid");
        let other = TelegramId::new((1 << 52) - 1).expect("valid");
        let id = import_task_id(7, owner);
        assert_eq!(id, import_task_id(7, owner));
        assert_eq!(id.as_uuid().get_version_num(), 8);
        assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122);
        let mut seen = std::collections::HashSet::new();
        for task in [0, 1, 2, 7, 1 << 20, i64::from(i32::MAX), i64::MAX, -1] {
            for who in [owner, other] {
                assert!(seen.insert(import_task_id(task, who)), "{task} {who}");
            }
        }
    }

    #[test]
    fn balance_ends_at_the_original_and_failed_tasks_are_refunded() {
        let c = LedgerConfig::seed_default();
        let tasks = [
            task(1, "done", 1056),
            task(2, "failed", 1056),
            task(3, "pending", 272),
            task(4, "processing", 1584),
        ];
        let plan = plan_user(&user(500), &tasks, &c).expect("plan");
        assert_eq!(plan.key.as_str(), "import:user:4242");
        assert_eq!(plan.balance, Tokens::from_const(500));
        assert_eq!(
            types(&plan, 0),
            [
                "AccountOpened",
                "TokensGranted",
                "TokensDebited",
                "TokensDebited",
                "TokensRefunded",
                "TokensDebited",
                "TokensDebited"
            ]
        );
        let Event::TokensGranted(g) = &plan.appends[0].events[1] else {
            panic!("a grant")
        };
        assert_eq!(g.amount, Tokens::from_const(500 + 1056 + 272 + 1584));
        assert_eq!(g.balance_after, g.amount);
        assert_eq!(
            types(&plan, 1),
            [
                "TaskRequested",
                "TaskStarted",
                "TaskSucceeded",
                "TaskDelivered"
            ]
        );
        assert_eq!(
            types(&plan, 2),
            ["TaskRequested", "TaskStarted", "TaskFailed", "TaskRefunded"]
        );
        assert_eq!(types(&plan, 3), ["TaskRequested"]);
        assert_eq!(types(&plan, 4), ["TaskRequested"]);
        assert_eq!(plan.tasks.total(), 4);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn a_refunded_debit_the_running_balance_cannot_cover_moves_after_the_grant() {
        let c = LedgerConfig::seed_default();
        // Grant 1000 + 1000; the failed 1500 does not fit after the first debit.
        let tasks = [task(1, "done", 1000), task(2, "failed", 1500)];
        let plan = plan_user(&user(1000), &tasks, &c).expect("plan");
        let kinds: Vec<_> = plan.appends[0]
            .events
            .iter()
            .map(|e| (e.event_type(), e.task_id()))
            .collect();
        let failed = import_task_id(2, plan.telegram_id);
        assert_eq!(kinds[2], ("TokensDebited", Some(failed)));
        assert_eq!(kinds[3], ("TokensRefunded", Some(failed)));
        assert_eq!(plan.balance, Tokens::from_const(1000));
    }

    #[test]
    fn odd_rows_are_skipped_or_repaired_with_warnings() {
        let c = LedgerConfig::seed_default();
        let mut huge = task(1, "done", 272);
        huge.prompt = Some("я".repeat(5000));
        let mut empty = task(2, "done", 0);
        empty.prompt = Some("   ".into());
        let negative = task(3, "done", -5);
        let mut null = task(4, "done", 0);
        null.tokens_spent = None;
        let unknown = task(5, "cancelled", 100);
        let mut odd_model = task(6, "pending", 100);
        odd_model.model = Some("dall-e-3".into());
        // Nothing held and a failed task larger than anything granted: net-zero money skipped.
        let lost = task(7, "failed", 6240);
        let tasks = [huge, empty, negative, null, unknown, odd_model, lost];
        let plan = plan_user(&user(-300), &tasks, &c).expect("plan");
        assert!(plan.negative_balance);
        assert_eq!(plan.balance, Tokens::ZERO);
        assert_eq!(plan.skipped_tasks, 3);
        assert_eq!(plan.appends.len(), 5);
        let Event::TaskRequested(r) = &plan.appends[1].events[0] else {
            panic!("requested")
        };
        assert_eq!(r.prompt.as_str().chars().count(), Prompt::MAX_CHARS);
        let Event::TaskRequested(r) = &plan.appends[2].events[0] else {
            panic!("requested")
        };
        assert_eq!(r.prompt.as_str(), EMPTY_PROMPT);
        assert!(r.cost.is_zero());
        let Event::TaskRequested(r) = &plan.appends[3].events[0] else {
            panic!("requested")
        };
        assert_eq!(Some(&r.model), c.default_model());
        assert_eq!(
            types(&plan, 4),
            ["TaskRequested", "TaskStarted", "TaskFailed", "TaskRefunded"]
        );
        // The account: opened, a grant of the kept tasks (272 + 100), their debits.
        assert_eq!(
            types(&plan, 0),
            [
                "AccountOpened",
                "TokensGranted",
                "TokensDebited",
                "TokensDebited"
            ]
        );
        assert!(plan.warnings.len() >= 7, "{:#?}", plan.warnings);
    }

    #[test]
    fn settings_that_differ_are_recorded_and_unknown_users_refused() {
        let c = LedgerConfig::seed_default();
        let mut u = user(0);
        u.selected_model = Some("gpt-image-1.5".into());
        u.image_size = Some("1536x1024".into());
        let plan = plan_user(&u, &[], &c).expect("plan");
        assert_eq!(types(&plan, 0), ["AccountOpened", "SettingsChanged"]);
        let Event::SettingsChanged(s) = &plan.appends[0].events[1] else {
            panic!("settings")
        };
        assert_eq!(s.model.as_ref().map(ModelId::as_str), Some("gpt-image-1.5"));
        assert_eq!(s.quality, None);
        assert_eq!(s.size, Some(ImageSize::Landscape));

        u.telegram_id = 0;
        assert!(plan_user(&u, &[], &c).is_err());
    }
}
