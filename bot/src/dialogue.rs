//! Where a chat is in a conversation. Stored as JSON in `bot.dialogues` (see [`crate::storage`]);
//! every variant must stay decodable across releases, so fields are only ever added with defaults.

use serde::{Deserialize, Serialize};
use tokenbot_ledger::{ImageSize, ModelId, Quality};

use crate::callback::DraftId;

/// A chat's place in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Nothing under way.
    #[default]
    Idle,
    /// "🎨 Создать картинку": waiting for the description.
    AwaitingPrompt,
    /// "✏️ Редактировать фото": waiting for the picture.
    AwaitingImage,
    /// Picture received; waiting for what to change.
    AwaitingEditPrompt {
        /// Telegram's file id of the picture.
        source_file_id: String,
    },
    /// The confirmation screen is up.
    Confirming(Draft),
}

/// What the confirmation screen offers. Its id is on every button of that screen and becomes
/// the idempotency key of the debit, so a double tap or a redelivered callback pays once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// On every button of the screen; the debit's idempotency key.
    pub id: DraftId,
    /// What the task will do.
    pub kind: DraftKind,
    /// The user's description.
    pub prompt: String,
    /// The image model.
    pub model: ModelId,
    /// The quality chosen.
    pub quality: Quality,
    /// The size chosen.
    pub size: ImageSize,
    /// The first "Подтвердить" of an expensive task was tapped; the next one charges.
    #[serde(default)]
    pub expensive_confirmed: bool,
}

/// What a draft's task does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DraftKind {
    /// A picture from the description.
    Generate,
    /// A change to the user's picture.
    Edit {
        /// Telegram's file id of the picture.
        source_file_id: String,
    },
    /// A picture from a template's prompt.
    Template {
        /// The template's id.
        template_id: String,
    },
}

impl Draft {
    /// The template it came from, if any.
    pub fn template_id(&self) -> Option<&str> {
        match &self.kind {
            DraftKind::Template { template_id } => Some(template_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_json() {
        let states = [
            State::Idle,
            State::AwaitingPrompt,
            State::AwaitingImage,
            State::AwaitingEditPrompt {
                source_file_id: "f".into(),
            },
            State::Confirming(Draft {
                id: DraftId::new(),
                kind: DraftKind::Edit {
                    source_file_id: "f".into(),
                },
                prompt: "p".into(),
                model: ModelId::parse("gpt-image-1").expect("model"),
                quality: Quality::High,
                size: ImageSize::Portrait,
                expensive_confirmed: true,
            }),
        ];
        for s in states {
            let json = serde_json::to_value(&s).expect("encode");
            assert_eq!(serde_json::from_value::<State>(json).expect("decode"), s);
        }
    }
}
