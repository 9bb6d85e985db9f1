//! Inline keyboards. Every payload comes from [`CallbackData::encode`], so what the buttons send
//! is exactly what [`CallbackData::parse`] accepts; every label comes from [`texts::buttons`].

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tokenbot_ledger::{ImageSize, Quality, TaskId, TaskKind, TokenPackage};
use tokenbot_texts::{self as texts, Lang, buttons};

use crate::callback::{AdminAction, CallbackData, DraftId, MenuTarget};

fn button(text: impl Into<String>, data: &CallbackData) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, data.encode())
}

fn marked(lang: Lang, selected: bool, label: String) -> String {
    if selected {
        buttons::selected(lang, &label)
    } else {
        label
    }
}

fn back_row(lang: Lang) -> Vec<InlineKeyboardButton> {
    vec![button(buttons::back_to_menu(lang), &CallbackData::NavMenu)]
}

/// The original's 3×2 menu plus a Guide row: the original handled `menu:guide` but offered no
/// button for it, so the guide was reachable only by typing /guide.
pub fn main_menu(lang: Lang) -> InlineKeyboardMarkup {
    let item = |target: MenuTarget, label: fn(Lang) -> String| {
        button(label(lang), &CallbackData::Menu(target))
    };
    InlineKeyboardMarkup::new([
        vec![
            item(MenuTarget::Generate, buttons::generate),
            item(MenuTarget::Edit, buttons::edit),
        ],
        vec![
            item(MenuTarget::Model, buttons::model),
            item(MenuTarget::Profile, buttons::profile),
        ],
        vec![
            item(MenuTarget::Tokens, buttons::tokens),
            item(MenuTarget::Trends, buttons::trends),
        ],
        vec![item(MenuTarget::Guide, buttons::guide)],
    ])
}

/// One "back to the menu" button.
pub fn back_to_menu(lang: Lang) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([back_row(lang)])
}

/// The confirmation screen: quality row, size row, then confirm and cancel. On the second step
/// of an expensive task the confirm button sends `confirm:expensive`, so a double tap on the
/// first button cannot count as the second confirmation.
pub fn confirm(
    lang: Lang,
    draft: DraftId,
    quality: Quality,
    size: ImageSize,
    second_step: bool,
) -> InlineKeyboardMarkup {
    let qualities = Quality::ALL
        .into_iter()
        .map(|q| {
            button(
                marked(lang, q == quality, texts::quality_label(lang, q)),
                &CallbackData::Quality { draft, quality: q },
            )
        })
        .collect::<Vec<_>>();
    let sizes = ImageSize::ALL
        .into_iter()
        .map(|s| {
            button(
                marked(lang, s == size, texts::size_label(lang, s)),
                &CallbackData::Size { draft, size: s },
            )
        })
        .collect::<Vec<_>>();
    let confirm = if second_step {
        CallbackData::ConfirmExpensive { draft }
    } else {
        CallbackData::Confirm { draft }
    };
    InlineKeyboardMarkup::new([
        qualities,
        sizes,
        vec![
            button(buttons::confirm(lang), &confirm),
            button(buttons::cancel(lang), &CallbackData::Cancel { draft }),
        ],
    ])
}

/// The templates, one per row, and "back".
pub fn templates(lang: Lang) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = texts::templates(lang)
        .into_iter()
        .map(|t| vec![button(t.name, &CallbackData::Template(t.id.to_string()))])
        .collect();
    rows.push(back_row(lang));
    InlineKeyboardMarkup::new(rows)
}

/// One row per offered model, the current one marked. A configured id that cannot travel as
/// callback data (too long for Telegram's 64 bytes) is left out: one bad button would make
/// Telegram reject the whole message.
pub fn models(lang: Lang, available: &[&str], current: &str) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = available
        .iter()
        .filter_map(|id| {
            let data = CallbackData::Model((*id).to_string());
            let round_trips = CallbackData::parse(&data.encode()).is_ok_and(|p| p == data);
            round_trips.then(|| {
                let label = texts::model_label_plain(lang, id);
                vec![button(marked(lang, *id == current, label), &data)]
            })
        })
        .collect();
    rows.push(back_row(lang));
    InlineKeyboardMarkup::new(rows)
}

/// `done`: the finished tasks of the profile list that have a result to send again, each with
/// its number in that list.
pub fn profile(lang: Lang, done: &[(usize, TaskKind, TaskId)]) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = done
        .iter()
        .map(|(number, kind, task)| {
            let text = buttons::history(lang, *number, *kind);
            vec![button(text, &CallbackData::HistoryShow(*task))]
        })
        .collect();
    rows.push(back_row(lang));
    InlineKeyboardMarkup::new(rows)
}

/// One button per token package (each sends its invoice) and "back".
pub fn buy_tokens(lang: Lang, packages: &[TokenPackage]) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = packages
        .iter()
        .map(|p| {
            let label = buttons::buy_package(lang, p.tokens, p.stars);
            vec![button(label, &CallbackData::TokensBuy(p.id.to_string()))]
        })
        .collect();
    rows.push(back_row(lang));
    InlineKeyboardMarkup::new(rows)
}

/// The admin panel.
pub fn admin_panel(lang: Lang) -> InlineKeyboardMarkup {
    let item = |action: AdminAction, label: fn(Lang) -> String| {
        button(label(lang), &CallbackData::Admin(action))
    };
    InlineKeyboardMarkup::new([
        vec![
            item(AdminAction::Stats, buttons::admin_stats),
            item(AdminAction::TopUsers, buttons::admin_top_users),
        ],
        vec![
            item(AdminAction::ModelUsage, buttons::admin_model_usage),
            item(AdminAction::Refresh, buttons::admin_refresh),
        ],
    ])
}

/// "Back" to the admin panel.
pub fn admin_back(lang: Lang) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([vec![button(
        buttons::back(lang),
        &CallbackData::Admin(AdminAction::Back),
    )]])
}

#[cfg(test)]
mod tests {
    use teloxide::types::InlineKeyboardButtonKind;
    use uuid::Uuid;

    use super::*;
    use crate::callback::MAX_CALLBACK_BYTES;

    /// Rows of (text, callback data); also checks every payload parses and fits.
    fn grid(kb: &InlineKeyboardMarkup) -> Vec<Vec<(String, String)>> {
        kb.inline_keyboard
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| {
                        let data = match &b.kind {
                            InlineKeyboardButtonKind::CallbackData(d) => d.clone(),
                            other => panic!("not a callback button: {other:?}"),
                        };
                        assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
                        assert!(CallbackData::parse(&data).is_ok(), "{data} does not parse");
                        (b.text.clone(), data)
                    })
                    .collect()
            })
            .collect()
    }

    fn data(kb: &InlineKeyboardMarkup) -> Vec<Vec<String>> {
        grid(kb)
            .into_iter()
            .map(|row| row.into_iter().map(|(_, d)| d).collect())
            .collect()
    }

    fn labels(kb: &InlineKeyboardMarkup) -> Vec<Vec<String>> {
        grid(kb)
            .into_iter()
            .map(|row| row.into_iter().map(|(t, _)| t).collect())
            .collect()
    }

    #[test]
    fn main_menu_is_the_original_plus_guide() {
        for lang in Lang::ALL {
            assert_eq!(
                data(&main_menu(lang)),
                [
                    vec!["menu:generate", "menu:edit"],
                    vec!["menu:model", "menu:profile"],
                    vec!["menu:tokens", "menu:trends"],
                    vec!["menu:guide"],
                ]
            );
        }
        assert_eq!(
            labels(&main_menu(Lang::Ru)),
            [
                vec!["🎨 Создать картинку", "✏️ Редактировать фото"],
                vec!["🤖 Выбрать модель", "👤 Личный кабинет"],
                vec!["💰 Купить токены", "💡 Идеи и тренды"],
                vec!["📖 Гайд"],
            ]
        );
        assert_eq!(labels(&main_menu(Lang::En))[3], ["📖 Guide"]);
    }

    #[test]
    fn back_buttons() {
        assert_eq!(
            grid(&back_to_menu(Lang::Ru)),
            [vec![(
                "◀️ Назад в меню".to_string(),
                "nav:menu".to_string()
            )]]
        );
        assert_eq!(
            grid(&admin_back(Lang::En)),
            [vec![("◀️ Back".to_string(), "admin:back".to_string())]]
        );
    }

    #[test]
    fn confirm_marks_the_current_choice_and_carries_the_draft() {
        let draft = DraftId(Uuid::from_u128(0xabc));
        let hex = draft.to_string();
        let kb = confirm(Lang::Ru, draft, Quality::Medium, ImageSize::Portrait, false);
        assert_eq!(
            labels(&kb),
            [
                vec!["Low", "✅ Medium", "High"],
                vec![
                    "Square (1024×1024)",
                    "✅ Portrait (1024×1536)",
                    "Landscape (1536×1024)"
                ],
                vec!["✅ Подтвердить", "❌ Отмена"],
            ]
        );
        assert_eq!(
            data(&kb),
            [
                vec![
                    format!("img:quality:low:{hex}"),
                    format!("img:quality:medium:{hex}"),
                    format!("img:quality:high:{hex}"),
                ],
                vec![
                    format!("img:size:1024x1024:{hex}"),
                    format!("img:size:1024x1536:{hex}"),
                    format!("img:size:1536x1024:{hex}"),
                ],
                vec![format!("confirm:yes:{hex}"), format!("confirm:no:{hex}")],
            ]
        );
        let second = confirm(Lang::En, draft, Quality::High, ImageSize::Square, true);
        let rows = grid(&second);
        assert_eq!(rows[0][2].0, "✅ High");
        assert_eq!(rows[1][0].0, "✅ Square (1024×1024)");
        assert_eq!(
            rows[2],
            [
                ("✅ Confirm".to_string(), format!("confirm:expensive:{hex}")),
                ("❌ Cancel".to_string(), format!("confirm:no:{hex}")),
            ]
        );
        let marks = rows
            .iter()
            .flatten()
            .filter(|(t, _)| t.starts_with("✅ "))
            .count();
        assert_eq!(marks, 3, "one quality, one size and the confirm button");
    }

    #[test]
    fn templates_then_back() {
        let kb = templates(Lang::Ru);
        assert_eq!(
            grid(&kb),
            [
                vec![(
                    "🌆 Киберпанк портрет".to_string(),
                    "template:cyberpunk_portrait".to_string()
                )],
                vec![(
                    "🎌 Аниме персонаж".to_string(),
                    "template:anime_character".to_string()
                )],
                vec![(
                    "🎨 Масляная живопись".to_string(),
                    "template:oil_painting".to_string()
                )],
                vec![("◀️ Назад в меню".to_string(), "nav:menu".to_string())],
            ]
        );
        assert_eq!(labels(&templates(Lang::En))[0], ["🌆 Cyberpunk portrait"]);
    }

    #[test]
    fn models_mark_the_current_one() {
        let kb = models(Lang::Ru, &["gpt-image-1", "gpt-image-1.5"], "gpt-image-1.5");
        assert_eq!(
            grid(&kb),
            [
                vec![(
                    "GPT Image 1 (Стандартная)".to_string(),
                    "model:gpt-image-1".to_string()
                )],
                vec![(
                    "✅ GPT Image 1.5 (Улучшенная)".to_string(),
                    "model:gpt-image-1.5".to_string()
                )],
                vec![("◀️ Назад в меню".to_string(), "nav:menu".to_string())],
            ]
        );
        let long = "m".repeat(64);
        let kb = models(Lang::En, &["gpt-image-2", &long, "bad id"], "gpt-image-2");
        assert_eq!(
            grid(&kb),
            [
                vec![(
                    "✅ gpt-image-2".to_string(),
                    "model:gpt-image-2".to_string()
                )],
                vec![("◀️ Back to menu".to_string(), "nav:menu".to_string())],
            ]
        );
    }

    #[test]
    fn profile_has_one_button_per_finished_task() {
        let a = TaskId::from_uuid(Uuid::from_u128(1));
        let b = TaskId::from_uuid(Uuid::from_u128(2));
        let kb = profile(
            Lang::Ru,
            &[(1, TaskKind::Generate, a), (3, TaskKind::Edit, b)],
        );
        assert_eq!(
            grid(&kb),
            [
                vec![(
                    "🖼 1. 🎨 Генерация".to_string(),
                    format!("history:show:{}", a.as_uuid().simple())
                )],
                vec![(
                    "🖼 3. ✏️ Редактирование".to_string(),
                    format!("history:show:{}", b.as_uuid().simple())
                )],
                vec![("◀️ Назад в меню".to_string(), "nav:menu".to_string())],
            ]
        );
        assert_eq!(data(&profile(Lang::En, &[])), [vec!["nav:menu"]]);
    }

    #[test]
    fn tokens_and_admin() {
        let packages = TokenPackage::defaults();
        assert_eq!(
            data(&buy_tokens(Lang::Ru, &packages)),
            [
                vec!["tokens:buy:pack_50k"],
                vec!["tokens:buy:pack_150k"],
                vec!["tokens:buy:pack_500k"],
                vec!["nav:menu"]
            ]
        );
        assert_eq!(
            labels(&buy_tokens(Lang::Ru, &packages))[0],
            ["50000 🪙 — 50 ⭐"]
        );
        assert_eq!(
            data(&admin_panel(Lang::En)),
            [
                vec!["admin:stats", "admin:top_users"],
                vec!["admin:model_usage", "admin:refresh"],
            ]
        );
        assert_eq!(
            labels(&admin_panel(Lang::Ru)),
            [
                vec!["📊 Статистика", "👥 Топ пользователей"],
                vec!["📈 Использование моделей", "🔄 Обновить"],
            ]
        );
    }
}
