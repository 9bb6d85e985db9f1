//! What the worker sends: plain text (it sends without a parse mode), so nothing is escaped.

use tokenbot_ledger::{ImageSize, Quality, TaskKind, Tokens};

use crate::browse::CAPTION_PROMPT_PREVIEW_CHARS;
use crate::bundle::tr;
use crate::labels::kind_selector;
use crate::lang::Lang;
use crate::markup::preview;

/// The caption of the delivered document. Plain text, so the prompt is not escaped.
pub fn result_caption(
    lang: Lang,
    kind: TaskKind,
    prompt: &str,
    quality: Quality,
    size: ImageSize,
    charged: Tokens,
) -> String {
    tr!(
        lang,
        "result-caption",
        kind = kind_selector(kind),
        prompt = preview(prompt, CAPTION_PROMPT_PREVIEW_CHARS),
        quality = quality.as_str(),
        size = size.as_str(),
        charged = charged,
    )
}

/// Error texts can be long (provider messages); the user needs the gist, not the whole body.
pub const FAILURE_REASON_CHARS: usize = 300;

/// The final failure notice, plain text. `reason`: what the user can do about it, if anything
/// (see [`refusal_reason`]).
pub fn failure_refunded(lang: Lang, refunded: Tokens, reason: Option<&str>) -> String {
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map_or_else(String::new, |r| {
            tr!(
                lang,
                "failure-reason",
                reason = preview(r, FAILURE_REASON_CHARS)
            )
        });
    tr!(
        lang,
        "failure-refunded",
        refunded = refunded,
        reason = reason
    )
}

/// Why the image service refused a task for good, as far as the user is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The provider's safety system refused the prompt or the image.
    Moderation,
    /// The source image of an edit cannot be used.
    InvalidImage,
    /// The provider refused the request for another reason.
    BadRequest,
    /// The worker's own configuration (key, model) is wrong.
    Configuration,
}

/// The reason line of [`failure_refunded`] for a refusal.
pub fn refusal_reason(lang: Lang, refusal: Refusal) -> String {
    let key = match refusal {
        Refusal::Moderation => "refusal-moderation",
        Refusal::InvalidImage => "refusal-invalid-image",
        Refusal::BadRequest => "refusal-bad-request",
        Refusal::Configuration => "refusal-configuration",
    };
    tr!(lang, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_texts_are_plain() {
        let prompt = format!("<{}", "a".repeat(300));
        let caption = result_caption(
            Lang::Ru,
            TaskKind::Edit,
            &prompt,
            Quality::Low,
            ImageSize::Landscape,
            Tokens::from_const(400),
        );
        assert_eq!(
            caption,
            format!(
                "✅ Фото отредактировано!\n\nПромпт: <{}...\n\nКачество: low\nФормат: 1536x1024\nСписано: 400 🪙",
                "a".repeat(199)
            )
        );
        assert_eq!(
            failure_refunded(Lang::Ru, Tokens::from_const(1056), None),
            "❌ К сожалению, генерация не удалась.\n\nТокены (1056) возвращены на ваш баланс.\n\n\
             Попробуйте ещё раз или измените промпт."
        );
        assert_eq!(
            failure_refunded(Lang::En, Tokens::from_const(5), Some("content policy")),
            "❌ Unfortunately, the generation failed.\n\nThe tokens (5) have been returned to your balance.\n\n\
             Reason: content policy\n\nPlease try again or change the prompt."
        );
        assert!(
            failure_refunded(Lang::Ru, Tokens::ZERO, Some("a<b"))
                .contains("Причина: a<b\n\nПопробуйте")
        );
        assert_eq!(
            refusal_reason(Lang::Ru, Refusal::BadRequest),
            "сервис генерации отклонил запрос"
        );
    }
}
