//! Making a picture: asking for the prompt or the photo, the confirmation screen, the charge, and
//! the templates list.

use tokenbot_ledger::{ImageSize, Quality, TaskId, TaskKind, Tokens};

use crate::bundle::tr;
use crate::labels::kind_selector;
use crate::lang::Lang;
use crate::markup::{escape, html_preview};

/// How much of a user's prompt the confirmation screen shows.
pub const PROMPT_PREVIEW_CHARS: usize = 500;
/// How much of a template's prompt its confirmation screen shows.
pub const TEMPLATE_PROMPT_PREVIEW_CHARS: usize = 300;

/// "🎨 Создать картинку": asks for the description.
pub fn generate_ask_prompt(lang: Lang) -> String {
    tr!(lang, "generate-ask-prompt")
}

/// Something other than text while a generate prompt is expected.
pub fn prompt_non_text(lang: Lang) -> String {
    tr!(lang, "prompt-non-text")
}

/// An empty description of a new picture.
pub fn prompt_empty(lang: Lang) -> String {
    tr!(lang, "prompt-empty")
}

/// An empty description of an edit.
pub fn edit_prompt_empty(lang: Lang) -> String {
    tr!(lang, "edit-prompt-empty")
}

/// A description over `max` characters.
pub fn prompt_too_long(lang: Lang, max: usize) -> String {
    tr!(lang, "prompt-too-long", max = max)
}

/// "✏️ Редактировать фото": asks for the picture.
pub fn edit_ask_image(lang: Lang) -> String {
    tr!(lang, "edit-ask-image")
}

/// A photo arrived for an edit.
pub fn edit_photo_received(lang: Lang) -> String {
    tr!(lang, "edit-photo-received")
}

/// An image file arrived for an edit.
pub fn edit_document_received(lang: Lang) -> String {
    tr!(lang, "edit-document-received")
}

/// A file that is not a JPG, PNG or WEBP image (or is too large).
pub fn edit_unsupported_format(lang: Lang) -> String {
    tr!(lang, "edit-unsupported-format")
}

/// Anything but a photo or an image document while the image to edit is expected.
pub fn edit_need_image(lang: Lang) -> String {
    tr!(lang, "edit-need-image")
}

/// Something other than text while the description of an edit is expected.
pub fn edit_ask_prompt_error_non_text(lang: Lang) -> String {
    tr!(lang, "edit-prompt-non-text")
}

/// What the confirmation screen confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmKind<'a> {
    /// A picture from the user's prompt.
    Generate,
    /// A change to the photo the user sent, described by the prompt.
    Edit,
    /// A picture from one of the templates ("Идеи и тренды"), whose name and description head
    /// the screen.
    Template {
        /// The template's name in the user's language.
        name: &'a str,
        /// What the template makes, in the user's language.
        description: &'a str,
    },
}

/// Everything the confirmation screen shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfirmView<'a> {
    /// What is being confirmed: picks the screen's heading.
    pub kind: ConfirmKind<'a>,
    /// The user's prompt, or the template's.
    pub prompt: &'a str,
    /// From [`crate::model_label`].
    pub model: &'a str,
    /// The quality the task will be asked at.
    pub quality: Quality,
    /// The size the task will be asked at.
    pub size: ImageSize,
    /// What confirming debits, from the price table.
    pub cost: Tokens,
    /// What the user has now, so they see whether the cost fits.
    pub balance: Tokens,
    /// The user confirmed an expensive task once; this screen asks again.
    pub second_step: bool,
    /// `cost >= high_cost_threshold`; the warning line shows on the generate screen only, as in
    /// the original.
    pub expensive: bool,
}

/// The confirmation screen: head, details, the balance after (or the shortfall), the warning,
/// the question, in paragraphs.
pub fn confirm_screen(lang: Lang, v: &ConfirmView<'_>) -> String {
    let (selector, question, again) = match v.kind {
        ConfirmKind::Generate => (
            "generate",
            "confirm-question-generate",
            "confirm-question-generate.again",
        ),
        ConfirmKind::Edit => (
            "edit",
            "confirm-question-edit",
            "confirm-question-edit.again",
        ),
        ConfirmKind::Template { .. } => (
            "template",
            "confirm-question-template",
            "confirm-question-template.again",
        ),
    };
    let details = tr!(
        lang,
        "confirm-details",
        model = v.model,
        quality = v.quality.as_str(),
        size = v.size.as_str(),
        cost = v.cost,
        balance = v.balance,
    );
    // The original printed `balance - cost` even when negative; a shortfall is stated instead
    // (the confirm itself is still refused by the ledger).
    let after = match v.balance.checked_sub(v.cost) {
        Some(after) => tr!(
            lang,
            "confirm-balance-after",
            kind = selector,
            after = after
        ),
        None => {
            let short = v.cost.get().saturating_sub(v.balance.get());
            tr!(lang, "confirm-shortfall", short = short)
        }
    };
    let mut out = format!("{}\n\n{details}\n{after}\n", confirm_head(lang, v));
    if v.expensive && v.kind == ConfirmKind::Generate {
        out.push_str(&format!("\n{}\n", tr!(lang, "confirm-expensive")));
    }
    out.push('\n');
    out.push_str(&tr!(lang, if v.second_step { again } else { question }));
    out
}

fn confirm_head(lang: Lang, v: &ConfirmView<'_>) -> String {
    match v.kind {
        ConfirmKind::Generate => {
            let prompt = html_preview(v.prompt, PROMPT_PREVIEW_CHARS);
            tr!(lang, "confirm-head-generate", prompt = prompt)
        }
        ConfirmKind::Edit => {
            let prompt = html_preview(v.prompt, PROMPT_PREVIEW_CHARS);
            tr!(lang, "confirm-head-edit", prompt = prompt)
        }
        ConfirmKind::Template { name, description } => tr!(
            lang,
            "confirm-head-template",
            name = escape(name),
            description = escape(description),
            prompt = html_preview(v.prompt, TEMPLATE_PROMPT_PREVIEW_CHARS),
        ),
    }
}

/// The toast after the first of two confirmations of an expensive task.
pub fn second_confirm_toast(lang: Lang) -> String {
    tr!(lang, "second-confirm-toast")
}

/// A quality button with a quality the bot does not know.
pub fn invalid_quality_toast(lang: Lang) -> String {
    tr!(lang, "invalid-quality-toast")
}

/// A size button with a size the bot does not know.
pub fn invalid_size_toast(lang: Lang) -> String {
    tr!(lang, "invalid-size-toast")
}

/// A stored draft that cannot be charged.
pub fn state_error_toast(lang: Lang) -> String {
    tr!(lang, "state-error-toast")
}

/// The dialogue's data is gone.
pub fn session_lost(lang: Lang) -> String {
    tr!(lang, "session-lost")
}

/// The ledger refused the charge: the balance is short.
pub fn insufficient(lang: Lang, required: Tokens, available: Tokens) -> String {
    tr!(
        lang,
        "insufficient",
        required = required,
        available = available
    )
}

/// The task is paid for and queued.
pub fn task_created(
    lang: Lang,
    task_id: TaskId,
    kind: TaskKind,
    template_name: Option<&str>,
) -> String {
    let template = template_name.map_or_else(String::new, |name| {
        tr!(lang, "task-created-template", name = escape(name))
    });
    tr!(
        lang,
        "task-created",
        task_id = task_id,
        template = template,
        kind = kind_selector(kind),
    )
}

/// The toast of the charge.
pub fn task_started_toast(lang: Lang, kind: TaskKind) -> String {
    tr!(lang, "task-started-toast", kind = kind_selector(kind))
}

/// Cancel on a generate or edit confirmation (a template's cancel shows [`template_cancelled`]).
pub fn cancelled(lang: Lang, kind: TaskKind) -> String {
    tr!(lang, "cancelled", kind = kind_selector(kind))
}

/// The toast of a cancel.
pub fn cancelled_toast(lang: Lang) -> String {
    tr!(lang, "cancelled-toast")
}

/// "💡 Идеи и тренды".
pub fn templates_list(lang: Lang) -> String {
    tr!(lang, "templates-list")
}

/// Cancel on a template confirmation goes back to the (shorter) list.
pub fn template_cancelled(lang: Lang) -> String {
    tr!(lang, "template-cancelled")
}

/// A template button whose template is gone.
pub fn template_not_found_toast(lang: Lang) -> String {
    tr!(lang, "template-not-found-toast")
}

/// A template disappeared from configuration between its screen and the confirm.
pub fn template_not_found(lang: Lang) -> String {
    tr!(lang, "template-not-found")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview;
    use crate::test_support::{HOSTILE, assert_valid_html};

    fn view<'a>(
        kind: ConfirmKind<'a>,
        prompt: &'a str,
        cost: u32,
        balance: u32,
    ) -> ConfirmView<'a> {
        ConfirmView {
            kind,
            prompt,
            model: "GPT Image 1 (Стандартная)",
            quality: Quality::High,
            size: ImageSize::Square,
            cost: Tokens::from_const(cost),
            balance: Tokens::from_const(balance),
            second_step: false,
            expensive: false,
        }
    }

    #[test]
    fn confirm_screens_match_the_original() {
        let v = view(ConfirmKind::Generate, "a cat", 1056, 10560);
        assert_eq!(
            confirm_screen(Lang::Ru, &v),
            "🎨 <b>Подтверждение генерации</b>\n\n<b>Ваш промпт:</b>\n<i>a cat</i>\n\n\
             <b>Модель:</b> GPT Image 1 (Стандартная)\n<b>Качество:</b> high\n<b>Формат:</b> 1024x1024\n\n\
             <b>Стоимость:</b> 1056 🪙\n<b>Ваш баланс:</b> 10560 🪙\n<b>После генерации:</b> 9504 🪙\n\n\
             Подтвердить генерацию?"
        );
        let expensive = ConfirmView {
            expensive: true,
            second_step: true,
            ..v
        };
        let text = confirm_screen(Lang::Ru, &expensive);
        assert!(text.ends_with(
            "9504 🪙\n\n⚠️ <b>Внимание:</b> дорогая генерация.\n\nПодтвердить генерацию ещё раз?"
        ));
        let edit = ConfirmView {
            kind: ConfirmKind::Edit,
            expensive: true,
            ..v
        };
        let text = confirm_screen(Lang::Ru, &edit);
        assert!(text.starts_with("✏️ <b>Подтверждение редактирования</b>"));
        assert!(text.contains("<b>После редактирования:</b> 9504 🪙"));
        assert!(!text.contains("дорогая"), "the warning is generate-only");
        assert!(text.ends_with("Подтвердить редактирование?"));
    }

    #[test]
    fn confirm_never_shows_a_negative_balance() {
        for kind in [
            ConfirmKind::Generate,
            ConfirmKind::Edit,
            ConfirmKind::Template {
                name: "n",
                description: "d",
            },
        ] {
            let v = view(kind, "p", 4160, 1000);
            let ru = confirm_screen(Lang::Ru, &v);
            let en = confirm_screen(Lang::En, &v);
            assert!(ru.contains("❌ Не хватает 3160 🪙"), "{ru}");
            assert!(en.contains("❌ You are short of 3160 🪙"), "{en}");
            assert!(!ru.contains("После") && !ru.contains('-'), "{ru}");
            assert!(!en.contains("After"), "{en}");
        }
        let exact = confirm_screen(Lang::Ru, &view(ConfirmKind::Generate, "p", 272, 272));
        assert!(exact.contains("<b>После генерации:</b> 0 🪙"));
    }

    #[test]
    fn prompts_are_escaped_and_cut_by_characters() {
        let long = format!("{HOSTILE}{}", "ж".repeat(600));
        for lang in Lang::ALL {
            let text = confirm_screen(lang, &view(ConfirmKind::Generate, &long, 1, 2));
            assert_valid_html(&text);
            assert!(text.contains("&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot;"));
            let shown = preview(&long, PROMPT_PREVIEW_CHARS);
            assert!(text.contains(&escape(&shown)));
            assert!(shown.ends_with("жж..."));
        }
        let template = ConfirmKind::Template {
            name: "🌆 <Киберпанк>",
            description: "a & b",
        };
        let text = confirm_screen(Lang::Ru, &view(template, &"x".repeat(400), 1, 2));
        assert_valid_html(&text);
        assert!(
            text.starts_with("💡 <b>🌆 &lt;Киберпанк&gt;</b>\n\n<b>Описание:</b>\na &amp; b\n\n")
        );
        assert!(text.contains(&format!("<i>{}...</i>", "x".repeat(300))));
        assert!(text.ends_with("Создать изображение по этому шаблону?"));
    }

    #[test]
    fn task_created_texts() {
        let id = TaskId::from_uuid(uuid::Uuid::from_u128(1));
        assert_eq!(
            task_created(
                Lang::Ru,
                id,
                TaskKind::Generate,
                Some("🌆 Киберпанк портрет")
            ),
            "✅ <b>Задача создана!</b>\n\n🆔 ID задачи: <code>00000000-0000-0000-0000-000000000001</code>\n\
             📝 Шаблон: 🌆 Киберпанк портрет\n\n⏳ Ваше изображение генерируется...\n\
             Я отправлю результат, когда будет готово.\n\nЭто может занять 10-30 секунд."
        );
        assert_eq!(
            task_created(Lang::Ru, id, TaskKind::Edit, None),
            "✅ <b>Задача создана!</b>\n\n🆔 ID задачи: <code>00000000-0000-0000-0000-000000000001</code>\n\n\
             ⏳ Ваше изображение редактируется...\n\
             Я отправлю результат, когда будет готово.\n\nЭто может занять 10-30 секунд."
        );
    }
}
