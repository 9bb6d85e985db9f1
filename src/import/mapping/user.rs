//! One original user becomes an account stream and their task streams, appended in one call.
//!
//! The account history of an imported user is synthetic but balances to the token: one
//! `TokensGranted` (kind `import`) of what the user held plus what their tasks kept, then one
//! `TokensDebited` per paid task and a `TokensRefunded` after each task the original refunded
//! (a failed one). The last `balance_after` is the original's `users.tokens`. Every stream is
//! folded through the ledger's own aggregates before it is sent.

use chrono::{DateTime, Utc};
use tokenbot_ledger::account::{self, Account};
use tokenbot_ledger::aggregate::Aggregate;
use tokenbot_ledger::events::{
    AccountOpened, Event, SettingsChanged, TokensDebited, TokensGranted, TokensRefunded,
};
use tokenbot_ledger::{
    DomainError, ExpectedVersion, GrantKind, IdempotencyKey, LedgerConfig, ModelId, StreamAppend,
    StreamId, TaskState, TelegramId, Tokens,
};

use super::fields::{present, quality_of, size_of};
use super::rows::{OriginalStatus, OriginalTask, OriginalUser, TaskCounts};
use super::task::{PlannedTask, plan_task};

/// The reason written on every import grant.
pub const GRANT_REASON: &str = "imported from the original bot";

/// Everything one user becomes: the streams to append in one call, and what to report.
#[derive(Debug, Clone)]
pub struct UserPlan {
    /// Whom the plan is for (the account stream's owner).
    pub telegram_id: TelegramId,
    /// `import:user:<telegram id>`: a second import of the same rows is answered from the first.
    pub key: IdempotencyKey,
    /// The account stream first, then one stream per task; all new (`NoStream`).
    pub appends: Vec<StreamAppend>,
    /// The balance the account ends with (the original's `users.tokens`, or 0 if negative).
    pub balance: Tokens,
    /// The tasks mapped, by their status in the original (for the summary).
    pub tasks: TaskCounts,
    /// Tasks left out with a warning (unknown status or type, negative or missing cost).
    pub skipped_tasks: u64,
    /// The original held a negative balance (it had no CHECK); the account starts at 0.
    pub negative_balance: bool,
    /// What was repaired or left out on the way, one line each, naming the user or task.
    pub warnings: Vec<String>,
}

/// A step of the account's money history.
enum Money {
    Debit(usize),
    /// Debit and, right after it, the refund the original made.
    DebitRefunded(usize),
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
    let (balance, negative_balance) = opening_balance(user, owner, &mut warnings)?;
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
    let (grant, steps) = money_steps(&planned, balance, owner, &mut warnings)?;
    let events = money_history(user, owner, &planned, grant, &steps)?;
    // Fold through the ledger's own rules: what the append will check, checked here first.
    let at = Utc::now();
    let events = with_settings(user, owner, events, balance, config, at, &mut warnings)?;
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

fn overflow() -> String {
    "the token sums overflow".to_string()
}

/// The balance the account ends with, and whether the original's was negative (it had no CHECK;
/// such an account starts at 0).
fn opening_balance(
    user: &OriginalUser,
    owner: TelegramId,
    warnings: &mut Vec<String>,
) -> Result<(Tokens, bool), String> {
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
    Ok((balance, negative_balance))
}

/// The grant (what the user held plus what their unrefunded tasks kept: what the debits come
/// from) and the order of the debits and refunds after it.
fn money_steps(
    planned: &[PlannedTask],
    balance: Tokens,
    owner: TelegramId,
    warnings: &mut Vec<String>,
) -> Result<(Tokens, Vec<Money>), String> {
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
    early.extend(in_order);
    Ok((grant, early))
}

/// The account stream's events up to its last money step: opened, granted, then `steps`.
fn money_history(
    user: &OriginalUser,
    owner: TelegramId,
    planned: &[PlannedTask],
    grant: Tokens,
    steps: &[Money],
) -> Result<Vec<Event>, String> {
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
            purchase: None,
        }));
    }
    for step in steps {
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
    Ok(events)
}

/// The account's events folded through [`Account`], with the user's settings added; refused
/// when they do not fit or do not end at `balance`.
fn with_settings(
    user: &OriginalUser,
    owner: TelegramId,
    mut events: Vec<Event>,
    balance: Tokens,
    config: &LedgerConfig,
    at: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Event>, String> {
    let mut state = Account::default();
    state
        .apply_all(&events, at)
        .map_err(|e| format!("the mapped account does not fit: {e}"))?;
    let settings = settings_of(user, &state, owner, config, warnings)?;
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
    Ok(events)
}
