//! Labels shared by many screens: quality, size, task kinds and statuses, models, templates, and
//! dates.

use chrono::{DateTime, Utc};
use tokenbot_ledger::{ImageSize, Quality, TaskKind, TaskStatus};

use crate::bundle::tr;
use crate::lang::Lang;
use crate::markup::escape;

/// The label of a quality (the original used the same English labels in its Russian UI).
pub fn quality_label(lang: Lang, quality: Quality) -> String {
    let key = match quality {
        Quality::Low => "quality-low",
        Quality::Medium => "quality-medium",
        Quality::High => "quality-high",
    };
    tr!(lang, key)
}

/// The label of a size, with its pixels.
pub fn size_label(lang: Lang, size: ImageSize) -> String {
    let key = match size {
        ImageSize::Square => "size-square",
        ImageSize::Portrait => "size-portrait",
        ImageSize::Landscape => "size-landscape",
    };
    tr!(lang, key)
}

/// "🎨 Генерация" / "✏️ Редактирование".
pub fn task_kind_label(lang: Lang, kind: TaskKind) -> String {
    tr!(lang, kind_key(kind, "task-kind-generate", "task-kind-edit"))
}

/// The `$kind` selector of messages that differ for edits.
pub(crate) fn kind_selector(kind: TaskKind) -> &'static str {
    kind_key(kind, "generate", "edit")
}

fn kind_key(kind: TaskKind, generate: &'static str, edit: &'static str) -> &'static str {
    match kind {
        TaskKind::Generate => generate,
        TaskKind::Edit => edit,
    }
}

/// `Succeeded` means the image exists but is still being sent, which the user sees as still
/// processing; only `Delivered` is done.
pub fn task_status_label(lang: Lang, status: TaskStatus) -> String {
    let key = match status {
        TaskStatus::Pending => "task-status-pending",
        TaskStatus::Processing | TaskStatus::Succeeded => "task-status-processing",
        TaskStatus::Delivered => "task-status-delivered",
        TaskStatus::Failed => "task-status-failed",
    };
    tr!(lang, key)
}

/// The keys of a model the bot knows by name (model ids have dots, which Fluent ids cannot).
struct ModelKeys {
    name: &'static str,
    label: &'static str,
    description: &'static str,
}

/// The models the original offered; others come from configuration and are shown by id.
fn known_model(model_id: &str) -> Option<ModelKeys> {
    match model_id {
        "gpt-image-1" => Some(ModelKeys {
            name: "model-gpt-image-1",
            label: "model-gpt-image-1.label",
            description: "model-gpt-image-1.description",
        }),
        "gpt-image-1.5" => Some(ModelKeys {
            name: "model-gpt-image-1_5",
            label: "model-gpt-image-1_5.label",
            description: "model-gpt-image-1_5.description",
        }),
        _ => None,
    }
}

/// The model's label for HTML messages (escaped).
pub fn model_label(lang: Lang, model_id: &str) -> String {
    escape(&model_label_plain(lang, model_id))
}

/// The model's label for button texts, which Telegram shows as plain text.
pub fn model_label_plain(lang: Lang, model_id: &str) -> String {
    known_model(model_id).map_or_else(|| model_id.to_string(), |k| tr!(lang, k.label))
}

/// The short name used in the model page and in toasts ("GPT Image 1"); plain text.
pub fn model_name(lang: Lang, model_id: &str) -> String {
    known_model(model_id).map_or_else(|| model_id.to_string(), |k| tr!(lang, k.name))
}

/// Empty for models the bot has no description of. The original said gpt-image-1.5 could not
/// edit, which stopped being true when edits started using the selected model.
pub fn model_description(lang: Lang, model_id: &str) -> String {
    known_model(model_id).map_or_else(String::new, |k| tr!(lang, k.description))
}

/// A template ("Идеи и тренды") in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateText {
    /// Stable identifier carried in callback data and in the task's event (never translated).
    pub id: &'static str,
    /// The button's and the confirmation screen's title in the user's language.
    pub name: String,
    /// One line saying what the template makes, in the user's language.
    pub description: String,
    /// Sent to OpenAI as is; English in both languages because that is what the prompts were
    /// tuned in.
    pub prompt: String,
}

struct TemplateKeys {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    prompt: &'static str,
}

/// The original's templates, in the order of its list.
const TEMPLATES: [TemplateKeys; 3] = [
    TemplateKeys {
        id: "cyberpunk_portrait",
        name: "template-cyberpunk_portrait",
        description: "template-cyberpunk_portrait.description",
        prompt: "template-cyberpunk_portrait.prompt",
    },
    TemplateKeys {
        id: "anime_character",
        name: "template-anime_character",
        description: "template-anime_character.description",
        prompt: "template-anime_character.prompt",
    },
    TemplateKeys {
        id: "oil_painting",
        name: "template-oil_painting",
        description: "template-oil_painting.description",
        prompt: "template-oil_painting.prompt",
    },
];

fn template_text(lang: Lang, keys: &TemplateKeys) -> TemplateText {
    TemplateText {
        id: keys.id,
        name: tr!(lang, keys.name),
        description: tr!(lang, keys.description),
        prompt: tr!(lang, keys.prompt),
    }
}

/// Every template, in the order of the list.
pub fn templates(lang: Lang) -> Vec<TemplateText> {
    TEMPLATES.iter().map(|k| template_text(lang, k)).collect()
}

/// The template `id`, if the bot has one.
pub fn template(lang: Lang, id: &str) -> Option<TemplateText> {
    TEMPLATES
        .iter()
        .find(|k| k.id == id)
        .map(|k| template_text(lang, k))
}

/// Profile and history dates: stored in UTC and shown in UTC, with the zone named, since the bot
/// does not know the user's time zone.
pub(crate) fn utc_minutes(lang: Lang, at: DateTime<Utc>) -> String {
    tr!(
        lang,
        "date-utc",
        date = at.format("%d.%m.%Y %H:%M").to_string()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_templates() {
        assert_eq!(
            model_label(Lang::Ru, "gpt-image-1"),
            "GPT Image 1 (Стандартная)"
        );
        assert_eq!(
            model_label(Lang::En, "gpt-image-1.5"),
            "GPT Image 1.5 (Improved)"
        );
        assert_eq!(model_label(Lang::En, "x<y"), "x&lt;y");
        assert_eq!(model_label_plain(Lang::En, "x<y"), "x<y");
        assert_eq!(model_name(Lang::Ru, "gpt-image-1.5"), "GPT Image 1.5");
        assert_eq!(model_description(Lang::Ru, "other"), "");
        assert_eq!(
            size_label(Lang::Ru, ImageSize::Portrait),
            "Portrait (1024×1536)"
        );
        assert_eq!(quality_label(Lang::En, Quality::Medium), "Medium");
        assert_eq!(
            task_status_label(Lang::Ru, TaskStatus::Succeeded),
            "🔄 Обработка"
        );
        assert_eq!(
            task_status_label(Lang::En, TaskStatus::Delivered),
            "✅ Done"
        );
        for lang in Lang::ALL {
            let ids: Vec<&str> = templates(lang).iter().map(|t| t.id).collect();
            assert_eq!(
                ids,
                ["cyberpunk_portrait", "anime_character", "oil_painting"]
            );
        }
        for (ru, en) in templates(Lang::Ru).iter().zip(templates(Lang::En)) {
            assert_eq!(
                ru.prompt, en.prompt,
                "OpenAI gets the English prompt in both languages"
            );
        }
        assert!(
            template(Lang::Ru, "cyberpunk_portrait").is_some_and(|t| t.name.contains("Киберпанк"))
        );
        assert!(template(Lang::En, "nope").is_none());
    }
}
