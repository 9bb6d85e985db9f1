//! A user's token account: the one place where a balance can change. Pure: `decide_*` functions
//! take the current state and return the events to append, or the rule that refuses.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, ApplyError};
use crate::error::DomainError;
use crate::events::{
    AccountOpened, Event, GrantKind, PurchasePayment, SettingsChanged, TokensDebited,
    TokensGranted, TokensReclaimed, TokensRefunded, bounded_error,
};
use crate::ids::{PurchaseId, TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Quality};
use crate::payment::ChargeId;
use crate::pricing::{LedgerConfig, RATE_WINDOW_CAPACITY};
use crate::tokens::Tokens;

/// A user's image defaults. `model: None` means "the configured default".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `None`: the configured default.
    pub model: Option<ModelId>,
    /// Image quality.
    pub quality: Quality,
    /// Image size.
    pub size: ImageSize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: None,
            quality: Quality::Medium,
            size: ImageSize::Square,
        }
    }
}

/// A user's token account: the aggregate of an `account-` stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Account {
    /// `None` until `AccountOpened`.
    pub profile: Option<AccountOpened>,
    /// Never negative (a [`Tokens`] cannot be).
    pub balance: Tokens,
    /// The user's image defaults.
    pub settings: Settings,
    /// Debits per minute over the last hour, for the hourly task limit.
    pub recent_debits: RateWindow,
}

/// Counts of debits per minute (minutes since the Unix epoch), oldest first, covering at most
/// the last 60 minutes: a rolling hour at one-minute granularity, bounded at 60 entries so the
/// account snapshot stays small however busy the account is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateWindow(VecDeque<(i64, u32)>);

const WINDOW_MINUTES: i64 = 60;

fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

impl RateWindow {
    /// Debits in the hour ending at `now`.
    pub fn count_at(&self, now: DateTime<Utc>) -> u64 {
        let now = minute(now);
        self.0
            .iter()
            .filter(|(m, _)| *m > now - WINDOW_MINUTES)
            .map(|(_, n)| u64::from(*n))
            .sum()
    }

    fn record(&mut self, at: DateTime<Utc>) {
        let m = minute(at);
        match self.0.back_mut() {
            Some((last, n)) if *last == m => *n = n.saturating_add(1),
            _ => self.0.push_back((m, 1)),
        }
        while self
            .0
            .front()
            .is_some_and(|(first, _)| *first <= m - WINDOW_MINUTES)
        {
            self.0.pop_front();
        }
        debug_assert!(self.0.len() <= WINDOW_MINUTES as usize);
    }
}

impl Account {
    /// True once `AccountOpened` is applied.
    pub fn is_open(&self) -> bool {
        self.profile.is_some()
    }

    fn require_open(&self, id: TelegramId) -> Result<(), DomainError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(DomainError::AccountNotFound(id))
        }
    }

    fn debits_in_window(&self, now: DateTime<Utc>) -> u64 {
        self.recent_debits.count_at(now)
    }
}

/// Registration: `AccountOpened` and the welcome grant. `None` when the account already exists
/// (a second `/start` is "welcome back", not an error).
pub fn decide_open(
    state: &Account,
    profile: AccountOpened,
    initial_grant: Tokens,
) -> Option<Vec<Event>> {
    if state.is_open() {
        return None;
    }
    let mut events = vec![Event::AccountOpened(profile)];
    if !initial_grant.is_zero() {
        events.push(Event::TokensGranted(TokensGranted {
            amount: initial_grant,
            kind: GrantKind::Initial,
            reason: None,
            balance_after: initial_grant,
            purchase: None,
        }));
    }
    Some(events)
}

/// A grant: refused on a closed account, for nothing, or (from an admin) over the maximum.
pub fn decide_grant(
    state: &Account,
    id: TelegramId,
    amount: Tokens,
    kind: GrantKind,
    reason: Option<String>,
    config: &LedgerConfig,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    if amount.is_zero() {
        return Err(DomainError::ZeroAmount);
    }
    if kind == GrantKind::Admin && amount > config.max_grant {
        return Err(DomainError::GrantTooLarge {
            amount,
            max: config.max_grant,
        });
    }
    granted(state, amount, kind, reason, None)
}

/// The `TokensGranted` of a decided grant, with the balance it leaves.
fn granted(
    state: &Account,
    amount: Tokens,
    kind: GrantKind,
    reason: Option<String>,
    purchase: Option<PurchasePayment>,
) -> Result<Vec<Event>, DomainError> {
    let balance_after = state
        .balance
        .checked_add(amount)
        .map_err(|_| DomainError::Overflow)?;
    Ok(vec![Event::TokensGranted(TokensGranted {
        amount,
        kind,
        reason,
        balance_after,
        purchase,
    })])
}

/// A paid purchase's grant: the package's tokens, carrying the payment.
pub fn decide_purchase_grant(
    state: &Account,
    id: TelegramId,
    amount: Tokens,
    payment: PurchasePayment,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    if amount.is_zero() {
        return Err(DomainError::ZeroAmount);
    }
    granted(state, amount, GrantKind::Purchase, None, Some(payment))
}

/// The account side of a purchase refund: the tokens the purchase granted go back, refused when
/// the balance no longer holds them (they were spent; a balance is never negative).
pub fn decide_reclaim(
    state: &Account,
    id: TelegramId,
    purchase_id: PurchaseId,
    charge: &ChargeId,
    amount: Tokens,
    reason: &str,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    let balance_after =
        state
            .balance
            .checked_sub(amount)
            .ok_or_else(|| DomainError::PurchaseTokensSpent {
                charge: charge.clone(),
                granted: amount,
                balance: state.balance,
            })?;
    Ok(vec![Event::TokensReclaimed(TokensReclaimed {
        purchase_id,
        telegram_payment_charge_id: charge.clone(),
        amount,
        reason: bounded_error(reason),
        balance_after,
    })])
}

/// A task's debit: refused on a closed account, over the hourly limit, or beyond the balance.
pub fn decide_debit(
    state: &Account,
    id: TelegramId,
    task_id: TaskId,
    amount: Tokens,
    now: DateTime<Utc>,
    config: &LedgerConfig,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    if amount.is_zero() {
        return Err(DomainError::ZeroAmount);
    }
    let limit = config.max_tasks_per_hour.min(RATE_WINDOW_CAPACITY);
    if limit > 0 && state.debits_in_window(now) >= u64::from(limit) {
        return Err(DomainError::RateLimited { limit });
    }
    let balance_after =
        state
            .balance
            .checked_sub(amount)
            .ok_or(DomainError::InsufficientBalance {
                required: amount,
                available: state.balance,
            })?;
    Ok(vec![Event::TokensDebited(TokensDebited {
        task_id,
        amount,
        balance_after,
    })])
}

/// The account side of a refund; the task side ([`crate::task::decide_refund`]) decides whether
/// the refund is allowed at all.
pub fn decide_refund(
    state: &Account,
    id: TelegramId,
    task_id: TaskId,
    amount: Tokens,
    reason: String,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    let balance_after = state
        .balance
        .checked_add(amount)
        .map_err(|_| DomainError::Overflow)?;
    Ok(vec![Event::TokensRefunded(TokensRefunded {
        task_id,
        amount,
        reason,
        balance_after,
    })])
}

/// Only what differs is recorded; choosing the current value again appends nothing.
pub fn decide_settings(
    state: &Account,
    id: TelegramId,
    wanted: SettingsChanged,
    config: &LedgerConfig,
) -> Result<Vec<Event>, DomainError> {
    state.require_open(id)?;
    if let Some(model) = &wanted.model
        && !config.offers_model(model)
    {
        return Err(DomainError::UnknownModel(model.clone()));
    }
    let current_model = state.settings.model.as_ref().or(config.default_model());
    let change = SettingsChanged {
        model: wanted.model.filter(|m| Some(m) != current_model),
        quality: wanted.quality.filter(|q| *q != state.settings.quality),
        size: wanted.size.filter(|s| *s != state.settings.size),
    };
    if change == SettingsChanged::default() {
        Ok(vec![])
    } else {
        Ok(vec![Event::SettingsChanged(change)])
    }
}

impl Account {
    /// Adds `amount`, which must leave the balance the event says.
    fn credit(&mut self, amount: Tokens, after: Tokens, what: &str) -> Result<(), ApplyError> {
        let computed = self
            .balance
            .checked_add(amount)
            .map_err(|_| ApplyError("balance overflow".into()))?;
        expect_balance(after, computed, what)?;
        self.balance = computed;
        Ok(())
    }

    /// Takes `amount` away, which may not go below zero and must leave the balance the event says.
    fn debit(&mut self, amount: Tokens, after: Tokens, what: &str) -> Result<(), ApplyError> {
        let computed = self.balance.checked_sub(amount).ok_or_else(|| {
            ApplyError(format!(
                "{what} of {amount} takes the balance of {} below zero",
                self.balance
            ))
        })?;
        expect_balance(after, computed, what)?;
        self.balance = computed;
        Ok(())
    }
}

fn expect_balance(after: Tokens, computed: Tokens, what: &str) -> Result<(), ApplyError> {
    if after == computed {
        Ok(())
    } else {
        Err(ApplyError(format!(
            "{what} says balance_after {after} but the account computes {computed}"
        )))
    }
}

impl Aggregate for Account {
    const SNAPSHOT_VERSION: i32 = 2;

    fn apply(&mut self, event: &Event, recorded_at: DateTime<Utc>) -> Result<(), ApplyError> {
        match event {
            Event::AccountOpened(e) => {
                if self.is_open() {
                    return Err(ApplyError("AccountOpened on an open account".into()));
                }
                self.profile = Some(e.clone());
            }
            Event::TokensGranted(e) => self.credit(e.amount, e.balance_after, "TokensGranted")?,
            Event::TokensDebited(e) => {
                self.debit(e.amount, e.balance_after, "TokensDebited")?;
                self.recent_debits.record(recorded_at);
            }
            Event::TokensRefunded(e) => self.credit(e.amount, e.balance_after, "TokensRefunded")?,
            Event::TokensReclaimed(e) => {
                self.debit(e.amount, e.balance_after, "TokensReclaimed")?
            }
            Event::SettingsChanged(e) => {
                if let Some(m) = &e.model {
                    self.settings.model = Some(m.clone());
                }
                if let Some(q) = e.quality {
                    self.settings.quality = q;
                }
                if let Some(s) = e.size {
                    self.settings.size = s;
                }
            }
            other => {
                return Err(ApplyError(format!(
                    "{} does not belong in an account stream",
                    other.event_type()
                )));
            }
        }
        if !self.is_open() {
            return Err(ApplyError(format!(
                "{} before AccountOpened",
                event.event_type()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn tg() -> TelegramId {
        TelegramId::new(7).expect("valid")
    }

    fn opened(balance: u32) -> Account {
        let mut a = Account::default();
        let events = decide_open(
            &a,
            AccountOpened {
                telegram_id: tg(),
                username: None,
                first_name: Some("Ann".into()),
                language_code: None,
            },
            Tokens::from_const(balance),
        )
        .expect("new account");
        a.apply_all(&events, Utc::now()).expect("fits");
        a
    }

    #[test]
    fn open_grants_once() {
        let a = opened(10_560);
        assert_eq!(a.balance, Tokens::from_const(10_560));
        assert!(decide_open(&a, a.profile.clone().expect("open"), Tokens::from_const(1)).is_none());
    }

    #[test]
    fn debit_refuses_overdraft_with_amounts() {
        let a = opened(100);
        let c = LedgerConfig::seed_default();
        let err = decide_debit(
            &a,
            tg(),
            TaskId::new(),
            Tokens::from_const(101),
            Utc::now(),
            &c,
        );
        assert_eq!(
            err,
            Err(DomainError::InsufficientBalance {
                required: Tokens::from_const(101),
                available: Tokens::from_const(100)
            })
        );
        let ok = decide_debit(
            &a,
            tg(),
            TaskId::new(),
            Tokens::from_const(100),
            Utc::now(),
            &c,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn hourly_limit_counts_a_rolling_window() {
        let mut a = opened(1_000);
        let mut c = LedgerConfig::seed_default();
        c.max_tasks_per_hour = 2;
        let t0 = Utc::now();
        for i in 0..2 {
            let at = t0 + Duration::minutes(i);
            let ev = decide_debit(&a, tg(), TaskId::new(), Tokens::from_const(1), at, &c)
                .expect("allowed");
            a.apply_all(&ev, at).expect("fits");
        }
        let third = decide_debit(
            &a,
            tg(),
            TaskId::new(),
            Tokens::from_const(1),
            t0 + Duration::minutes(2),
            &c,
        );
        assert_eq!(third, Err(DomainError::RateLimited { limit: 2 }));
        let later = decide_debit(
            &a,
            tg(),
            TaskId::new(),
            Tokens::from_const(1),
            t0 + Duration::minutes(61),
            &c,
        );
        assert!(later.is_ok());
    }

    #[test]
    fn apply_rejects_a_lying_balance_after() {
        let mut a = opened(10);
        let forged = Event::TokensGranted(TokensGranted {
            amount: Tokens::from_const(1),
            kind: GrantKind::Admin,
            reason: None,
            balance_after: Tokens::from_const(1000),
            purchase: None,
        });
        assert!(a.apply(&forged, Utc::now()).is_err());
    }

    #[test]
    fn settings_record_only_changes() {
        let a = opened(0);
        let c = LedgerConfig::seed_default();
        let same = SettingsChanged {
            model: c.default_model().cloned(),
            quality: Some(Quality::Medium),
            size: None,
        };
        assert_eq!(decide_settings(&a, tg(), same, &c), Ok(vec![]));
        let unknown = SettingsChanged {
            model: ModelId::parse("dall-e-2").ok(),
            ..Default::default()
        };
        assert!(matches!(
            decide_settings(&a, tg(), unknown, &c),
            Err(DomainError::UnknownModel(_))
        ));
    }

    #[test]
    fn grants_are_bounded_and_positive() {
        let a = opened(0);
        let c = LedgerConfig::seed_default();
        assert_eq!(
            decide_grant(&a, tg(), Tokens::ZERO, GrantKind::Admin, None, &c),
            Err(DomainError::ZeroAmount)
        );
        let huge = Tokens::new(c.max_grant.get() + 1).expect("fits");
        assert!(matches!(
            decide_grant(&a, tg(), huge, GrantKind::Admin, None, &c),
            Err(DomainError::GrantTooLarge { .. })
        ));
        assert_eq!(
            decide_grant(
                &Account::default(),
                tg(),
                Tokens::from_const(1),
                GrantKind::Admin,
                None,
                &c
            ),
            Err(DomainError::AccountNotFound(tg()))
        );
    }
}
