//! Start, the main menu, help, cancel, the guide and the balance; errors any screen can show.

use tokenbot_ledger::{ImageSize, Quality, Tokens};

use crate::bundle::{Count, tr};
use crate::lang::Lang;
use crate::markup::escape;

/// /start for a new user.
pub fn welcome_new(lang: Lang, balance: Tokens) -> String {
    tr!(lang, "welcome-new", balance = balance)
}

/// /start for a user who has been here before.
pub fn welcome_back(lang: Lang, balance: Tokens) -> String {
    tr!(lang, "welcome-back", balance = balance)
}

/// The main menu's text.
pub fn main_menu_title(lang: Lang) -> String {
    tr!(lang, "main-menu-title")
}

/// New: the original had no /help.
pub fn help(lang: Lang) -> String {
    tr!(lang, "help")
}

/// New: /cancel while a flow was in progress.
pub fn cancel_done(lang: Lang) -> String {
    tr!(lang, "cancel-done")
}

/// New: /cancel with nothing in progress.
pub fn cancel_nothing(lang: Lang) -> String {
    tr!(lang, "cancel-nothing")
}

/// An unknown command, or a message nobody asked for.
pub fn unknown_command(lang: Lang) -> String {
    tr!(lang, "unknown-command")
}

/// The original's ERROR_MESSAGE.
pub fn error_generic(lang: Lang) -> String {
    tr!(lang, "error-generic")
}

/// The user has not pressed /start yet.
pub fn user_not_found(lang: Lang) -> String {
    tr!(lang, "user-not-found")
}

/// The alert of the model buttons, which said it without the /start hint.
pub fn user_not_found_alert(lang: Lang) -> String {
    tr!(lang, "user-not-found-alert")
}

/// New: a button from a screen whose draft is gone (or from the original bot).
pub fn stale_button_toast(lang: Lang) -> String {
    tr!(lang, "stale-button-toast")
}

/// New: the same update or tap arrived while its first copy was still being handled.
pub fn duplicate_request_toast(lang: Lang) -> String {
    tr!(lang, "duplicate-request-toast")
}

/// The ledger's rolling-hour task limit was reached.
pub fn rate_limited(lang: Lang, limit: u32) -> String {
    tr!(lang, "rate-limited", limit = Count(u64::from(limit)))
}

/// The guide. `initial_generations` is how many default (medium, square) images the starting
/// grant buys; `support` is the support contact, e.g. `@support_bot`.
pub fn guide(lang: Lang, initial_generations: u64, support: &str) -> String {
    let grant = if initial_generations == 0 {
        String::new()
    } else {
        tr!(lang, "guide-grant", count = Count(initial_generations))
    };
    let support = escape(support.trim());
    let contact = if support.is_empty() {
        String::new()
    } else {
        tr!(lang, "guide-contact", support = support)
    };
    tr!(lang, "guide", grant = grant, contact = contact)
}

/// /balance: the balance and the settings new pictures use.
pub fn balance(
    lang: Lang,
    balance: Tokens,
    model_label: &str,
    quality: Quality,
    size: ImageSize,
) -> String {
    tr!(
        lang,
        "balance",
        balance = balance,
        model = model_label,
        quality = quality.as_str(),
        size = size.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_counts_starting_generations() {
        let ru = guide(Lang::Ru, 10, "@support_bot");
        assert!(ru.contains("вы получаете <b>10 стартовых генераций</b> (по умолчанию)"));
        assert!(ru.ends_with("Напишите нам: @support_bot"));
        assert!(guide(Lang::Ru, 1, "x").contains("<b>1 стартовую генерацию</b>"));
        assert!(guide(Lang::Ru, 3, "x").contains("<b>3 стартовые генерации</b>"));
        assert!(guide(Lang::En, 1, "x").contains("<b>1 starter generation</b>"));
        assert!(!guide(Lang::Ru, 0, "x").contains("стартов"));
        assert!(!guide(Lang::En, 10, "").contains("Write to us"));
        assert!(guide(Lang::En, 10, "<a>").contains("Write to us: &lt;a&gt;"));
    }

    #[test]
    fn russian_plurals_follow_cldr() {
        let cases = [
            (1, "1 генерация"),
            (2, "2 генерации"),
            (4, "4 генерации"),
            (5, "5 генераций"),
            (11, "11 генераций"),
            (12, "12 генераций"),
            (14, "14 генераций"),
            (21, "21 генерация"),
            (22, "22 генерации"),
            (25, "25 генераций"),
            (101, "101 генерация"),
            (111, "111 генераций"),
            (0, "0 генераций"),
        ];
        for (n, words) in cases {
            let text = rate_limited(Lang::Ru, n);
            assert!(
                text.contains(&format!("Максимум {words} в час.")),
                "{n}: {text}"
            );
        }
        let starter = [
            (1, "1 стартовую генерацию"),
            (2, "2 стартовые генерации"),
            (5, "5 стартовых генераций"),
            (11, "11 стартовых генераций"),
            (21, "21 стартовую генерацию"),
            (22, "22 стартовые генерации"),
            (25, "25 стартовых генераций"),
            (111, "111 стартовых генераций"),
        ];
        for (n, words) in starter {
            assert!(
                guide(Lang::Ru, n, "").contains(&format!("<b>{words}</b>")),
                "{n}"
            );
        }
    }

    #[test]
    fn english_plurals() {
        assert!(rate_limited(Lang::En, 1).contains("At most 1 generation per hour."));
        assert!(rate_limited(Lang::En, 21).contains("At most 21 generations per hour."));
        assert!(rate_limited(Lang::En, 0).contains("At most 0 generations per hour."));
    }
}
