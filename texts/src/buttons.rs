//! Button labels (plain text: Telegram shows them as they are) and the command menu of Telegram
//! clients.

use tokenbot_ledger::{Stars, TaskKind, Tokens};

use crate::bundle::tr;
use crate::labels::task_kind_label;
use crate::lang::Lang;

/// "◀️ Назад в меню".
pub fn back_to_menu(lang: Lang) -> String {
    tr!(lang, "button-back-to-menu")
}

/// "◀️ Назад" (the admin screens).
pub fn back(lang: Lang) -> String {
    tr!(lang, "button-back")
}

/// `label` marked as the current choice.
pub fn selected(lang: Lang, label: &str) -> String {
    tr!(lang, "button-selected", label = label)
}

/// Main menu: create a picture.
pub fn generate(lang: Lang) -> String {
    tr!(lang, "menu-generate")
}

/// Main menu: edit a photo.
pub fn edit(lang: Lang) -> String {
    tr!(lang, "menu-edit")
}

/// Main menu: choose a model.
pub fn model(lang: Lang) -> String {
    tr!(lang, "menu-model")
}

/// Main menu: the profile.
pub fn profile(lang: Lang) -> String {
    tr!(lang, "menu-profile")
}

/// Main menu: buy tokens.
pub fn tokens(lang: Lang) -> String {
    tr!(lang, "menu-tokens")
}

/// Main menu: ideas and trends (templates).
pub fn trends(lang: Lang) -> String {
    tr!(lang, "menu-trends")
}

/// Main menu: the guide.
pub fn guide(lang: Lang) -> String {
    tr!(lang, "menu-guide")
}

/// The confirmation screen's confirm.
pub fn confirm(lang: Lang) -> String {
    tr!(lang, "button-confirm")
}

/// The confirmation screen's cancel.
pub fn cancel(lang: Lang) -> String {
    tr!(lang, "button-cancel")
}

/// A finished task of the profile's list, `number` as in that list.
pub fn history(lang: Lang, number: usize, kind: TaskKind) -> String {
    tr!(
        lang,
        "button-history",
        number = number,
        kind = task_kind_label(lang, kind)
    )
}

/// A package on the buy screen.
pub fn buy_package(lang: Lang, tokens: Tokens, stars: Stars) -> String {
    tr!(lang, "button-buy-package", tokens = tokens, stars = stars)
}

/// Admin panel: statistics.
pub fn admin_stats(lang: Lang) -> String {
    tr!(lang, "admin-button-stats")
}

/// Admin panel: top users.
pub fn admin_top_users(lang: Lang) -> String {
    tr!(lang, "admin-button-top-users")
}

/// Admin panel: model usage.
pub fn admin_model_usage(lang: Lang) -> String {
    tr!(lang, "admin-button-model-usage")
}

/// Admin panel: refresh.
pub fn admin_refresh(lang: Lang) -> String {
    tr!(lang, "admin-button-refresh")
}

/// The commands Telegram lists in the client's menu, `(command, description)` in menu order.
pub fn command_menu(lang: Lang) -> Vec<(&'static str, String)> {
    vec![
        ("start", tr!(lang, "command-start")),
        ("balance", tr!(lang, "command-balance")),
        ("guide", tr!(lang, "command-guide")),
        ("help", tr!(lang, "command-help")),
        ("cancel", tr!(lang, "command-cancel")),
    ]
}
