//! The screens that show things: model choice, profile and history, buying tokens.

use chrono::{DateTime, Utc};
use tokenbot_ledger::{ImageSize, Quality, TaskKind, TaskStatus, Tokens};

use crate::bundle::tr;
use crate::labels::{task_kind_label, task_status_label, utc_minutes};
use crate::lang::Lang;
use crate::markup::{escape, html_preview};

/// "🤖 Выбрать модель"; `current_label` from [`crate::model_label`].
pub fn model_screen(lang: Lang, current_label: &str) -> String {
    tr!(lang, "model-screen", current = current_label)
}

/// After a change of model. `name` from [`crate::model_name`] (plain; escaped here),
/// `description` from [`crate::model_description`] (empty: no description line).
pub fn model_info(lang: Lang, name: &str, description: &str) -> String {
    let description = if description.is_empty() {
        String::new()
    } else {
        tr!(
            lang,
            "model-info-description",
            description = escape(description)
        )
    };
    tr!(
        lang,
        "model-info",
        name = escape(name),
        description = description
    )
}

/// Plain text; `name` from [`crate::model_name`].
pub fn model_already_selected_toast(lang: Lang, name: &str) -> String {
    tr!(lang, "model-already-selected-toast", name = name)
}

/// Plain text; `name` from [`crate::model_name`].
pub fn model_selected_toast(lang: Lang, name: &str) -> String {
    tr!(lang, "model-selected-toast", name = name)
}

/// One task of the profile's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileTask<'a> {
    /// Generation, edit or template: picks the line's icon and label.
    pub kind: TaskKind,
    /// Where the task stands, as the user should read it.
    pub status: TaskStatus,
    /// When it was asked for, shown in UTC to the minute.
    pub created_at: DateTime<Utc>,
    /// The user's prompt as typed; cut and escaped here.
    pub prompt: &'a str,
}

/// Everything "👤 Личный кабинет" shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileView<'a> {
    /// Current balance, from the read model.
    pub balance: Tokens,
    /// From [`crate::model_label`].
    pub model: &'a str,
    /// The quality new pictures will have.
    pub quality: Quality,
    /// The size new pictures will have.
    pub size: ImageSize,
    /// The user's real totals, not counted over the recent list as the original did.
    pub total_tasks: u64,
    /// Of `total_tasks`, those delivered.
    pub done_tasks: u64,
    /// Newest first; numbered from 1 in this order.
    pub recent: &'a [ProfileTask<'a>],
}

/// How much of each prompt the profile's list shows.
pub const PROFILE_PROMPT_PREVIEW_CHARS: usize = 30;

/// "👤 Личный кабинет": the totals and settings, then the recent tasks.
pub fn profile(lang: Lang, v: &ProfileView<'_>) -> String {
    let head = tr!(
        lang,
        "profile",
        balance = v.balance,
        total = v.total_tasks,
        done = v.done_tasks,
        model = v.model,
        quality = v.quality.as_str(),
        size = v.size.as_str(),
    );
    if v.recent.is_empty() {
        return format!("{head}\n\n{}", tr!(lang, "profile-empty"));
    }
    let tasks = v.recent.iter().enumerate().map(|(i, task)| {
        tr!(
            lang,
            "profile-task",
            number = i + 1,
            kind = task_kind_label(lang, task.kind),
            status = task_status_label(lang, task.status),
            date = utc_minutes(lang, task.created_at),
            prompt = html_preview(task.prompt, PROFILE_PROMPT_PREVIEW_CHARS),
        )
    });
    let mut paragraphs = vec![head, tr!(lang, "profile-recent")];
    paragraphs.extend(tasks);
    paragraphs.join("\n\n")
}

/// A history button whose task id does not parse.
pub fn history_bad_id_toast(lang: Lang) -> String {
    tr!(lang, "history-bad-id-toast")
}

/// A history button for a task that is not the user's (or not there).
pub fn history_not_found(lang: Lang) -> String {
    tr!(lang, "history-not-found")
}

/// A history button for a task without a picture.
pub fn history_unavailable(lang: Lang) -> String {
    tr!(lang, "history-unavailable")
}

/// Telegram would not take the picture again.
pub fn history_send_failed_toast(lang: Lang) -> String {
    tr!(lang, "history-send-failed-toast")
}

/// How much of the prompt a picture's caption shows.
pub const CAPTION_PROMPT_PREVIEW_CHARS: usize = 200;

/// The HTML caption of a result sent again from the history.
pub fn history_caption(
    lang: Lang,
    prompt: &str,
    quality: Quality,
    size: ImageSize,
    created_at: DateTime<Utc>,
) -> String {
    tr!(
        lang,
        "history-caption",
        prompt = html_preview(prompt, CAPTION_PROMPT_PREVIEW_CHARS),
        quality = quality.as_str(),
        size = size.as_str(),
        date = utc_minutes(lang, created_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_description;
    use crate::test_support::{assert_valid_html, at};

    #[test]
    fn profile_lists_recent_tasks_in_utc() {
        let recent = [
            ProfileTask {
                kind: TaskKind::Generate,
                status: TaskStatus::Succeeded,
                created_at: at(),
                prompt: "<i>a very long prompt about cats and dogs</i>",
            },
            ProfileTask {
                kind: TaskKind::Edit,
                status: TaskStatus::Delivered,
                created_at: at(),
                prompt: "blur",
            },
        ];
        let v = ProfileView {
            balance: Tokens::from_const(10560),
            model: "GPT Image 1 (Стандартная)",
            quality: Quality::Medium,
            size: ImageSize::Square,
            total_tasks: 57,
            done_tasks: 50,
            recent: &recent,
        };
        let text = profile(Lang::Ru, &v);
        assert_valid_html(&text);
        assert!(text.contains("<b>Всего генераций:</b> 57\n<b>Успешных:</b> 50\n"));
        assert!(text.contains(
            "1. 🎨 Генерация\n   🔄 Обработка | 02.01.2025 03:04 (UTC)\n   <i>&lt;i&gt;a very long prompt about ca...</i>"
        ));
        assert!(text.ends_with(
            "2. ✏️ Редактирование\n   ✅ Готово | 02.01.2025 03:04 (UTC)\n   <i>blur</i>"
        ));
        let empty = ProfileView { recent: &[], ..v };
        assert!(
            profile(Lang::En, &empty)
                .ends_with("Create your first image in the “Create a picture” section!")
        );
    }

    #[test]
    fn model_pages() {
        let info = model_info(
            Lang::Ru,
            "GPT Image 1",
            &model_description(Lang::Ru, "gpt-image-1"),
        );
        assert_eq!(
            info,
            "🤖 <b>Выбор модели</b>\n\nТекущая модель: <b>GPT Image 1</b>\n\
             Стандартная модель. Хорошее качество, поддержка генерации и редактирования.\n\n\
             <i>Выберите модель для генерации изображений:</i>"
        );
        assert_eq!(
            model_info(Lang::En, "x", ""),
            "🤖 <b>Choose a model</b>\n\nCurrent model: <b>x</b>\n\n\
             <i>Choose the model for generating images:</i>"
        );
        assert_eq!(
            model_already_selected_toast(Lang::Ru, "GPT Image 1"),
            "✅ GPT Image 1 уже выбрана!"
        );
        assert_eq!(
            model_selected_toast(Lang::Ru, "GPT Image 1.5"),
            "✅ Модель GPT Image 1.5 выбрана!"
        );
    }
}
