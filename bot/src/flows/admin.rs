//! Admin commands for ADMIN_IDS: /admin, /stats (with refresh), /addtokens, /userinfo, /refund
//! (`refund.rs`). Every grant
//! is a `TokensGranted` event naming the admin (the original's top-ups left no trace).

use chrono::Utc;
use tokenbot_ledger::{
    Actor, CommandContext, DomainError, GrantKind, IdempotencyKey, LedgerError, TelegramId, Tokens,
};
use tokenbot_projections::queries;
use tokenbot_texts::{self as texts, AdminStatsView, UserInfoView};

use super::tap::Tap;
use crate::callback::AdminAction;
use crate::dialogue::State;
use crate::error::BotError;
use crate::keyboards;
use crate::turn::Turn;

pub(crate) async fn on_command(
    turn: &Turn<'_>,
    state: State,
    name: &str,
    args: &str,
) -> Result<State, BotError> {
    let lang = turn.lang;
    if !turn.is_admin() {
        turn.reply().send(texts::no_access(lang), None).await?;
        return Ok(state);
    }
    let (text, keyboard) = match name {
        "admin" => (texts::admin_panel(lang), Some(keyboards::admin_panel(lang))),
        "stats" => (stats_text(turn).await?, Some(keyboards::admin_panel(lang))),
        "addtokens" => (add_tokens(turn, args).await?, None),
        "refund" => (super::refund::refund(turn, args).await?, None),
        _ => (user_info(turn, args).await?, None),
    };
    turn.reply().send(text, keyboard).await?;
    Ok(state)
}

pub(crate) async fn on_action(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    action: AdminAction,
) -> Result<State, BotError> {
    let lang = turn.lang;
    if !turn.is_admin() {
        tap.toast(turn, texts::no_access_toast(lang)).await?;
        return Ok(state);
    }
    let client = turn.app.pool.get().await?;
    let (text, keyboard) = match action {
        AdminAction::Stats | AdminAction::Refresh | AdminAction::Back => {
            (stats_text(turn).await?, keyboards::admin_panel(lang))
        }
        AdminAction::TopUsers => {
            let top = queries::top_users(&client, 10).await?;
            let rows: Vec<(String, u64)> = top
                .into_iter()
                .map(|u| (u.name, u64::try_from(u.tasks).unwrap_or(0)))
                .collect();
            (texts::top_users(lang, &rows), keyboards::admin_back(lang))
        }
        AdminAction::ModelUsage => {
            let stats = queries::stats(&client, Utc::now()).await?;
            let mut rows: Vec<(String, u64)> = stats
                .model_usage
                .into_iter()
                .map(|(m, n)| (m, u64::try_from(n).unwrap_or(0)))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            (texts::model_usage(lang, &rows), keyboards::admin_back(lang))
        }
    };
    turn.reply().edit(tap.message, text, Some(keyboard)).await?;
    if action == AdminAction::Refresh {
        tap.toast(turn, texts::stats_refreshed_toast(lang)).await?;
    } else {
        tap.done(turn).await?;
    }
    Ok(state)
}

async fn stats_text(turn: &Turn<'_>) -> Result<String, BotError> {
    let client = turn.app.pool.get().await?;
    let now = Utc::now();
    let s = queries::stats(&client, now).await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let by_status: Vec<(String, u64)> = s
        .tasks_by_status
        .iter()
        .map(|(k, v)| (k.clone(), count(*v)))
        .collect();
    Ok(texts::admin_stats(
        turn.lang,
        &AdminStatsView {
            total_users: count(s.total_users),
            users_today: count(s.users_today),
            active_users_today: count(s.active_users_today),
            total_tasks: count(s.total_tasks),
            tasks_today: count(s.tasks_today),
            tasks_by_status: &by_status,
            total_tokens_spent: count(s.total_tokens_spent),
            stars: count(s.revenue.stars),
            stars_today: count(s.revenue.stars_today),
            paying_users: count(s.revenue.paying_users),
            updated_at: now,
        },
    ))
}

/// `/addtokens <telegram_id> <amount>`: every refusal says exactly what was wrong and appends
/// nothing.
async fn add_tokens(turn: &Turn<'_>, args: &str) -> Result<String, BotError> {
    let lang = turn.lang;
    let parts: Vec<&str> = args.split_whitespace().collect();
    let [id, amount] = parts[..] else {
        return Ok(texts::addtokens_usage(lang));
    };
    let (Ok(id), Ok(amount)) = (id.parse::<i64>(), amount.parse::<i64>()) else {
        return Ok(texts::addtokens_not_numbers(lang));
    };
    if amount <= 0 {
        return Ok(texts::addtokens_not_positive(lang));
    }
    let max = turn.app.ledger.config().max_grant;
    let Ok(amount) = Tokens::try_from(amount) else {
        return Ok(texts::addtokens_too_large(lang, max));
    };
    let Ok(target) = TelegramId::new(id) else {
        return Ok(texts::user_not_found_id(lang, id));
    };
    let Some((before, _)) = turn.app.ledger.account(target).await? else {
        return Ok(texts::user_not_found_id(lang, id));
    };
    // Keyed by the update, so a redelivery of this very message grants once.
    let key = IdempotencyKey::derived("tg-addtokens", turn.update_id)
        .map_err(|e| BotError::Internal(e.to_string()))?;
    let ctx = CommandContext::new(Actor::Admin {
        telegram_id: Some(turn.telegram_id),
        via: "telegram".into(),
        name: None,
    })
    .with_correlation(turn.correlation)
    .with_key(key);
    let reason = Some(format!("/addtokens by admin {}", turn.telegram_id));
    match turn
        .app
        .ledger
        .grant(&ctx, target, amount, GrantKind::Admin, reason)
        .await
    {
        Ok(done) => {
            let profile = before.profile.as_ref();
            let name = profile
                .and_then(|p| p.first_name.clone().or_else(|| p.username.clone()))
                .unwrap_or_else(|| id.to_string());
            let after = done.value.balance_after;
            let was = after.checked_sub(amount).unwrap_or(before.balance);
            Ok(texts::tokens_added(lang, &name, target, was, amount, after))
        }
        Err(LedgerError::Domain(DomainError::GrantTooLarge { max, .. })) => {
            Ok(texts::addtokens_too_large(lang, max))
        }
        Err(LedgerError::Domain(DomainError::AccountNotFound(_))) => {
            Ok(texts::user_not_found_id(lang, id))
        }
        Err(e) => Err(e.into()),
    }
}

async fn user_info(turn: &Turn<'_>, args: &str) -> Result<String, BotError> {
    let lang = turn.lang;
    let parts: Vec<&str> = args.split_whitespace().collect();
    let [id] = parts[..] else {
        return Ok(texts::userinfo_usage(lang));
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(texts::userinfo_not_number(lang));
    };
    let account = match TelegramId::new(id) {
        Ok(t) => turn.app.ledger.account(t).await?,
        Err(_) => None,
    };
    let client = turn.app.pool.get().await?;
    let view = queries::user(&client, id).await?;
    let (Some((account, _)), Some(view)) = (account, view) else {
        return Ok(texts::user_not_found_id(lang, id));
    };
    let model = turn.model_of(Some(&account));
    let model = texts::model_label(lang, model.as_str());
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(texts::userinfo(
        lang,
        &UserInfoView {
            telegram_id: account
                .profile
                .as_ref()
                .map_or_else(|| turn.telegram_id, |p| p.telegram_id),
            username: view.user.username.as_deref(),
            first_name: view.user.first_name.as_deref(),
            balance: account.balance,
            model: &model,
            quality: account.settings.quality,
            size: account.settings.size,
            tasks_total: count(view.user.tasks_total),
            tasks_done: count(view.tasks_done),
            tasks_failed: count(view.tasks_failed),
            registered_at: view.user.created_at,
        },
    ))
}
