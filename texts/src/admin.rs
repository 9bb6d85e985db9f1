//! Admin commands for ADMIN_IDS: /admin, /stats, /addtokens, /userinfo.

use chrono::{DateTime, Utc};
use tokenbot_ledger::{ImageSize, Quality, TelegramId, Tokens};

use crate::bundle::{Count, tr};
use crate::labels::utc_minutes;
use crate::lang::Lang;
use crate::markup::{escape, group_thousands};

/// A command or button for admins only, from someone else.
pub fn no_access(lang: Lang) -> String {
    tr!(lang, "no-access")
}

/// [`no_access`] as a toast.
pub fn no_access_toast(lang: Lang) -> String {
    tr!(lang, "no-access-toast")
}

/// /admin.
pub fn admin_panel(lang: Lang) -> String {
    tr!(lang, "admin-panel")
}

/// Everything /stats shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminStatsView<'a> {
    /// Accounts ever opened.
    pub total_users: u64,
    /// Accounts opened since UTC midnight.
    pub users_today: u64,
    /// Users seen (registered, asked for a task, changed settings) since UTC midnight.
    pub active_users_today: u64,
    /// Tasks ever requested.
    pub total_tasks: u64,
    /// Tasks requested since UTC midnight.
    pub tasks_today: u64,
    /// Status name and count, in display order.
    pub tasks_by_status: &'a [(String, u64)],
    /// Tokens debited minus tokens refunded, shown with thousands grouped.
    pub total_tokens_spent: u64,
    /// Stars paid and not refunded.
    pub stars: u64,
    /// Of those, paid since UTC midnight.
    pub stars_today: u64,
    /// Users with a purchase paid and not refunded.
    pub paying_users: u64,
    /// When the figures were read; shown as the time of day so an admin sees how fresh they are.
    pub updated_at: DateTime<Utc>,
}

/// /stats.
pub fn admin_stats(lang: Lang, v: &AdminStatsView<'_>) -> String {
    let statuses = if v.tasks_by_status.is_empty() {
        tr!(lang, "admin-stats-no-statuses")
    } else {
        v.tasks_by_status
            .iter()
            .map(|(status, count)| {
                tr!(
                    lang,
                    "admin-stats-status",
                    status = escape(status),
                    count = *count
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    tr!(
        lang,
        "admin-stats",
        total_users = v.total_users,
        users_today = v.users_today,
        active_users_today = v.active_users_today,
        total_tasks = v.total_tasks,
        tasks_today = v.tasks_today,
        statuses = statuses,
        spent = group_thousands(v.total_tokens_spent),
        stars = group_thousands(v.stars),
        stars_today = group_thousands(v.stars_today),
        paying_users = v.paying_users,
        updated = v.updated_at.format("%H:%M:%S").to_string(),
    )
}

/// The toast of the refresh button.
pub fn stats_refreshed_toast(lang: Lang) -> String {
    tr!(lang, "stats-refreshed-toast")
}

/// `users`: display name (already chosen: first name, username or id) and task count, best
/// first.
pub fn top_users(lang: Lang, users: &[(String, u64)]) -> String {
    if users.is_empty() {
        return tr!(lang, "top-users-empty");
    }
    let lines = users
        .iter()
        .enumerate()
        .map(|(i, (name, n))| {
            tr!(
                lang,
                "top-users-line",
                number = i + 1,
                name = escape(name),
                count = Count(*n),
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    tr!(lang, "top-users", users = lines)
}

/// `usage`: model id and number of tasks; shown most used first with its share.
pub fn model_usage(lang: Lang, usage: &[(String, u64)]) -> String {
    let total: u64 = usage.iter().map(|(_, n)| *n).sum();
    if usage.is_empty() || total == 0 {
        return tr!(lang, "model-usage-empty");
    }
    let mut sorted: Vec<&(String, u64)> = usage.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let lines = sorted
        .iter()
        .map(|(model, n)| {
            // u128: n * 100 cannot overflow even for absurd counts.
            let percent = u128::from(*n) * 100 / u128::from(total);
            tr!(
                lang,
                "model-usage-line",
                model = escape(model),
                count = *n,
                percent = percent.to_string(),
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    tr!(lang, "model-usage", models = lines, total = total)
}

/// /addtokens without exactly two arguments.
pub fn addtokens_usage(lang: Lang) -> String {
    tr!(lang, "addtokens-usage")
}

/// /addtokens with an argument that is not a number.
pub fn addtokens_not_numbers(lang: Lang) -> String {
    tr!(lang, "addtokens-not-numbers")
}

/// /addtokens with zero or fewer tokens.
pub fn addtokens_not_positive(lang: Lang) -> String {
    tr!(lang, "addtokens-not-positive")
}

/// New: the configured cap on one grant, so that a typo cannot mint billions.
pub fn addtokens_too_large(lang: Lang, max: Tokens) -> String {
    tr!(lang, "addtokens-too-large", max = max)
}

/// `id` as the admin typed it (parsed as a number, possibly not a valid Telegram id).
pub fn user_not_found_id(lang: Lang, id: i64) -> String {
    tr!(lang, "user-not-found-id", id = id)
}

/// `name`: first name, username or id, already chosen by the caller.
pub fn tokens_added(
    lang: Lang,
    name: &str,
    id: TelegramId,
    before: Tokens,
    added: Tokens,
    after: Tokens,
) -> String {
    tr!(
        lang,
        "tokens-added",
        name = escape(name),
        id = id,
        before = before,
        added = added,
        after = after,
    )
}

/// /userinfo without exactly one argument.
pub fn userinfo_usage(lang: Lang) -> String {
    tr!(lang, "userinfo-usage")
}

/// /userinfo with an argument that is not a number.
pub fn userinfo_not_number(lang: Lang) -> String {
    tr!(lang, "userinfo-not-number")
}

/// Everything /userinfo shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfoView<'a> {
    /// Whom the admin asked about.
    pub telegram_id: TelegramId,
    /// Telegram @username without the `@`; missing or blank shows a dash.
    pub username: Option<&'a str>,
    /// Telegram first name; missing or blank shows a dash.
    pub first_name: Option<&'a str>,
    /// Current balance, from the read model.
    pub balance: Tokens,
    /// From [`crate::model_label`].
    pub model: &'a str,
    /// The user's chosen quality for new pictures.
    pub quality: Quality,
    /// The user's chosen size for new pictures.
    pub size: ImageSize,
    /// Tasks ever requested.
    pub tasks_total: u64,
    /// Tasks delivered.
    pub tasks_done: u64,
    /// Tasks that failed (and were refunded).
    pub tasks_failed: u64,
    /// When the account was opened, shown in UTC.
    pub registered_at: DateTime<Utc>,
}

fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// /userinfo.
pub fn userinfo(lang: Lang, v: &UserInfoView<'_>) -> String {
    // The original printed "@—" for a user without a username.
    let username = present(v.username).map_or_else(
        || tr!(lang, "userinfo-none"),
        |u| tr!(lang, "userinfo-username", username = escape(u)),
    );
    let first_name = present(v.first_name).map_or_else(|| tr!(lang, "userinfo-none"), escape);
    tr!(
        lang,
        "userinfo",
        id = v.telegram_id,
        username = username,
        first_name = first_name,
        balance = v.balance,
        model = v.model,
        quality = v.quality.as_str(),
        size = v.size.as_str(),
        total = v.tasks_total,
        done = v.tasks_done,
        failed = v.tasks_failed,
        registered = utc_minutes(lang, v.registered_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_valid_html, at};

    #[test]
    fn stats() {
        let statuses = [("delivered".to_string(), 3), ("<failed>".to_string(), 1)];
        let v = AdminStatsView {
            total_users: 2,
            users_today: 1,
            active_users_today: 1,
            total_tasks: 4,
            tasks_today: 4,
            tasks_by_status: &statuses,
            total_tokens_spent: 10560,
            stars: 1250,
            stars_today: 50,
            paying_users: 3,
            updated_at: at(),
        };
        let text = admin_stats(Lang::Ru, &v);
        assert_valid_html(&text);
        assert!(text.contains("<b>По статусам:</b>\n  • delivered: 3\n  • &lt;failed&gt;: 1\n\n"));
        assert!(text.contains("  • Потрачено всего: 10,560 🪙\n\n<i>Обновлено: 03:04:05 UTC</i>"));
        assert!(
            text.contains("  • Выручка: 1,250 ⭐ (сегодня: 50 ⭐)\n  • Платящих пользователей: 3")
        );
        let none = AdminStatsView {
            tasks_by_status: &[],
            ..v
        };
        assert!(admin_stats(Lang::En, &none).contains("<b>By status:</b>\n  No data\n\n"));
    }

    #[test]
    fn rankings() {
        let top = top_users(
            Lang::Ru,
            &[("<Ann>".into(), 21), ("bob".into(), 3), ("42".into(), 5)],
        );
        assert_eq!(
            top,
            "👥 <b>Топ 10 пользователей</b>\n\n1. &lt;Ann&gt; — 21 задача\n2. bob — 3 задачи\n3. 42 — 5 задач"
        );
        assert_eq!(
            top_users(Lang::Ru, &[]),
            "👥 <b>Топ пользователей</b>\n\nНет данных"
        );
        let plural = |n| top_users(Lang::Ru, &[("a".into(), n)]);
        for (n, words) in [
            (1, "1 задача"),
            (2, "2 задачи"),
            (5, "5 задач"),
            (11, "11 задач"),
            (21, "21 задача"),
            (22, "22 задачи"),
            (25, "25 задач"),
            (111, "111 задач"),
        ] {
            assert!(plural(n).ends_with(&format!("1. a — {words}")), "{n}");
        }
        assert!(top_users(Lang::En, &[("a".into(), 1)]).ends_with("1. a — 1 task"));

        let usage = model_usage(
            Lang::Ru,
            &[("gpt-image-1".into(), 1), ("gpt-image-1.5".into(), 2)],
        );
        assert_eq!(
            usage,
            "📈 <b>Использование моделей</b>\n\n  • gpt-image-1.5: 2 (66%)\n  • gpt-image-1: 1 (33%)\n\nВсего: 3"
        );
        assert_eq!(
            model_usage(Lang::En, &[]),
            "📈 <b>Model usage</b>\n\nNo data"
        );
    }

    #[test]
    fn grants_and_user_info() {
        let id = TelegramId::new(123).expect("valid");
        let added = tokens_added(
            Lang::Ru,
            "<Ann & Co>",
            id,
            Tokens::from_const(10),
            Tokens::from_const(5),
            Tokens::from_const(15),
        );
        assert_valid_html(&added);
        assert!(added.contains("Пользователь: &lt;Ann &amp; Co&gt;\nTelegram ID: <code>123</code>\nБыло: 10 🪙\nДобавлено: +5 🪙\nСтало: 15 🪙"));

        let info = UserInfoView {
            telegram_id: id,
            username: None,
            first_name: Some("<Ann>"),
            balance: Tokens::from_const(7),
            model: "GPT Image 1 (Standard)",
            quality: Quality::Low,
            size: ImageSize::Portrait,
            tasks_total: 3,
            tasks_done: 2,
            tasks_failed: 1,
            registered_at: at(),
        };
        let text = userinfo(Lang::Ru, &info);
        assert_valid_html(&text);
        assert!(text.contains("<b>Username:</b> —\n<b>Имя:</b> &lt;Ann&gt;\n"));
        assert!(text.ends_with("<b>Регистрация:</b> 02.01.2025 03:04 (UTC)"));
        let named = UserInfoView {
            username: Some("ann_"),
            ..info
        };
        assert!(userinfo(Lang::En, &named).contains("<b>Username:</b> @ann_\n"));
    }
}
