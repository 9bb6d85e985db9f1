//! The mapping's rules, without a database.

use tokenbot_ledger::events::Event;
use tokenbot_ledger::{ImageSize, LedgerConfig, ModelId, Prompt, TelegramId, Tokens};

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
