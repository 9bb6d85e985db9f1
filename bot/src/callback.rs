//! Typed inline-button payloads. Telegram hands callback data back verbatim and anyone can forge
//! it, so every payload is parsed into [`CallbackData`] once, at the edge, and anything that does
//! not parse is a stale or foreign button rather than something to guess about.
//!
//! Wire strings keep the original bot's shapes (`menu:generate`, `img:quality:high`, ...). The
//! buttons of a confirmation screen additionally carry the id of the draft they were drawn for, so
//! a tap on an old screen can never act on a newer draft.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokenbot_ledger::{ImageSize, Quality, TaskId};
use uuid::Uuid;

/// Telegram rejects a whole keyboard when one button's callback data exceeds 64 bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// The longest free-form id (template, model, package) that is accepted on the wire; with the
/// longest prefix (`template:`) it keeps the payload within [`MAX_CALLBACK_BYTES`].
pub const MAX_ID_BYTES: usize = MAX_CALLBACK_BYTES - "template:".len();

/// One pending confirmation screen. Random (v4) rather than time-ordered so that a forged
/// callback cannot guess another draft's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DraftId(pub Uuid);

impl DraftId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for DraftId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for DraftId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.simple(), f)
    }
}

impl FromStr for DraftId {
    type Err = UnknownCallback;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_simple_uuid(s)
            .map(DraftId)
            .ok_or_else(|| UnknownCallback::new(s))
    }
}

/// A button of the main menu (`menu:<target>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MenuTarget {
    /// "🎨 Создать картинку".
    Generate,
    /// "✏️ Редактировать фото".
    Edit,
    /// The model choice.
    Model,
    /// "👤 Личный кабинет": balance and history.
    Profile,
    /// Buying tokens.
    Tokens,
    /// Templates ("trends").
    Trends,
    /// The guide.
    Guide,
}

impl MenuTarget {
    /// Every target.
    pub const ALL: [MenuTarget; 7] = [
        MenuTarget::Generate,
        MenuTarget::Edit,
        MenuTarget::Model,
        MenuTarget::Profile,
        MenuTarget::Tokens,
        MenuTarget::Trends,
        MenuTarget::Guide,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MenuTarget::Generate => "generate",
            MenuTarget::Edit => "edit",
            MenuTarget::Model => "model",
            MenuTarget::Profile => "profile",
            MenuTarget::Tokens => "tokens",
            MenuTarget::Trends => "trends",
            MenuTarget::Guide => "guide",
        }
    }
}

/// A button of the admin panel (`admin:<action>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminAction {
    /// Show the statistics.
    Stats,
    /// Show them again, fresh.
    Refresh,
    /// Back to the panel.
    Back,
    /// The users with the most tasks.
    TopUsers,
    /// Tasks per model.
    ModelUsage,
}

impl AdminAction {
    /// Every action.
    pub const ALL: [AdminAction; 5] = [
        AdminAction::Stats,
        AdminAction::Refresh,
        AdminAction::Back,
        AdminAction::TopUsers,
        AdminAction::ModelUsage,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Stats => "stats",
            AdminAction::Refresh => "refresh",
            AdminAction::Back => "back",
            AdminAction::TopUsers => "top_users",
            AdminAction::ModelUsage => "model_usage",
        }
    }
}

/// What a button asks for. The confirmation screen's buttons name the draft they were drawn for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallbackData {
    /// A main menu button.
    Menu(MenuTarget),
    /// Back to the main menu.
    NavMenu,
    /// Change the quality of a draft.
    Quality {
        /// The draft on screen.
        draft: DraftId,
        /// The quality chosen.
        quality: Quality,
    },
    /// Change the size of a draft.
    Size {
        /// The draft on screen.
        draft: DraftId,
        /// The size chosen.
        size: ImageSize,
    },
    /// "Подтвердить": pay for the draft (or, when it is expensive, ask once more).
    Confirm {
        /// The draft on screen.
        draft: DraftId,
    },
    /// The second confirmation of an expensive draft.
    ConfirmExpensive {
        /// The draft on screen.
        draft: DraftId,
    },
    /// Drop the draft.
    Cancel {
        /// The draft on screen.
        draft: DraftId,
    },
    /// Start from a template (its id).
    Template(String),
    /// Choose a model (its id).
    Model(String),
    /// Show a finished task's picture again.
    HistoryShow(TaskId),
    /// Back from the history.
    HistoryBack,
    /// "Payments are coming soon".
    TokensComingSoon,
    /// Buy a token package (its id; payments are not built yet).
    TokensBuy(String),
    /// An admin panel button.
    Admin(AdminAction),
}

/// Callback data this bot did not produce (or no longer produces, such as the original bot's
/// draft-less `confirm:yes`). Carries the raw payload for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown callback data {0:?}")]
pub struct UnknownCallback(pub String);

impl UnknownCallback {
    fn new(raw: &str) -> Self {
        // Telegram caps real payloads at 64 bytes; a forged one should not bloat the logs.
        Self(tokenbot_ledger::image::preview(raw, MAX_CALLBACK_BYTES))
    }
}

impl CallbackData {
    /// Its wire string.
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Menu(target) => format!("menu:{}", target.as_str()),
            CallbackData::NavMenu => "nav:menu".to_string(),
            CallbackData::Quality { draft, quality } => {
                format!("img:quality:{}:{draft}", quality.as_str())
            }
            CallbackData::Size { draft, size } => format!("img:size:{}:{draft}", size.as_str()),
            CallbackData::Confirm { draft } => format!("confirm:yes:{draft}"),
            CallbackData::ConfirmExpensive { draft } => format!("confirm:expensive:{draft}"),
            CallbackData::Cancel { draft } => format!("confirm:no:{draft}"),
            CallbackData::Template(id) => format!("template:{id}"),
            CallbackData::Model(id) => format!("model:{id}"),
            CallbackData::HistoryShow(task) => {
                format!("history:show:{}", task.as_uuid().simple())
            }
            CallbackData::HistoryBack => "history:back".to_string(),
            CallbackData::TokensComingSoon => "tokens:coming_soon".to_string(),
            CallbackData::TokensBuy(package) => format!("tokens:buy:{package}"),
            CallbackData::Admin(action) => format!("admin:{}", action.as_str()),
        }
    }

    /// Whether Telegram will accept [`Self::encode`] as a button payload. Only the free-form ids
    /// can make it too long; keyboards leave such a button out rather than have the whole
    /// message rejected.
    pub fn fits(&self) -> bool {
        self.encode().len() <= MAX_CALLBACK_BYTES
    }

    /// Reads a wire string; anything this bot does not produce is [`UnknownCallback`].
    pub fn parse(s: &str) -> Result<CallbackData, UnknownCallback> {
        let unknown = || UnknownCallback::new(s);
        if s.len() > MAX_CALLBACK_BYTES {
            return Err(unknown());
        }
        let (head, rest) = s.split_once(':').ok_or_else(unknown)?;
        let parsed = match head {
            "menu" => MenuTarget::ALL
                .into_iter()
                .find(|t| t.as_str() == rest)
                .map(CallbackData::Menu),
            "nav" => (rest == "menu").then_some(CallbackData::NavMenu),
            "img" => parse_img(rest),
            "confirm" => parse_confirm(rest),
            "template" => valid_id(rest).map(|id| CallbackData::Template(id.to_string())),
            "model" => valid_id(rest).map(|id| CallbackData::Model(id.to_string())),
            "history" => match rest {
                "back" => Some(CallbackData::HistoryBack),
                _ => rest
                    .strip_prefix("show:")
                    .and_then(parse_simple_uuid)
                    .map(|u| CallbackData::HistoryShow(TaskId::from_uuid(u))),
            },
            "tokens" => match rest {
                "coming_soon" => Some(CallbackData::TokensComingSoon),
                _ => rest
                    .strip_prefix("buy:")
                    .and_then(valid_id)
                    .map(|p| CallbackData::TokensBuy(p.to_string())),
            },
            "admin" => AdminAction::ALL
                .into_iter()
                .find(|a| a.as_str() == rest)
                .map(CallbackData::Admin),
            _ => None,
        };
        parsed.ok_or_else(unknown)
    }
}

impl fmt::Display for CallbackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for CallbackData {
    type Err = UnknownCallback;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn parse_img(rest: &str) -> Option<CallbackData> {
    let (what, rest) = rest.split_once(':')?;
    let (value, draft) = rest.split_once(':')?;
    let draft = DraftId(parse_simple_uuid(draft)?);
    match what {
        "quality" => value
            .parse::<Quality>()
            .ok()
            .map(|quality| CallbackData::Quality { draft, quality }),
        "size" => value
            .parse::<ImageSize>()
            .ok()
            .map(|size| CallbackData::Size { draft, size }),
        _ => None,
    }
}

fn parse_confirm(rest: &str) -> Option<CallbackData> {
    let (action, draft) = rest.split_once(':')?;
    let draft = DraftId(parse_simple_uuid(draft)?);
    match action {
        "yes" => Some(CallbackData::Confirm { draft }),
        "expensive" => Some(CallbackData::ConfirmExpensive { draft }),
        "no" => Some(CallbackData::Cancel { draft }),
        _ => None,
    }
}

/// Only the canonical form `encode` writes (32 lowercase hex digits), so that every accepted
/// payload is exactly one that this bot could have sent.
fn parse_simple_uuid(s: &str) -> Option<Uuid> {
    let canonical = s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if canonical {
        Uuid::try_parse(s).ok()
    } else {
        None
    }
}

/// Template, model and package ids are echoed into messages and looked up in configuration, so
/// only the characters a model id may have are let through.
fn valid_id(s: &str) -> Option<&str> {
    let ok = (1..=MAX_ID_BYTES).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> DraftId {
        DraftId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))
    }

    fn every_variant() -> Vec<CallbackData> {
        let d = draft();
        let mut all: Vec<CallbackData> = MenuTarget::ALL
            .into_iter()
            .map(CallbackData::Menu)
            .collect();
        all.push(CallbackData::NavMenu);
        all.extend(
            Quality::ALL
                .into_iter()
                .map(|quality| CallbackData::Quality { draft: d, quality }),
        );
        all.extend(
            ImageSize::ALL
                .into_iter()
                .map(|size| CallbackData::Size { draft: d, size }),
        );
        all.extend([
            CallbackData::Confirm { draft: d },
            CallbackData::ConfirmExpensive { draft: d },
            CallbackData::Cancel { draft: d },
            CallbackData::Template("cyberpunk_portrait".into()),
            CallbackData::Model("gpt-image-1.5".into()),
            CallbackData::HistoryShow(TaskId::from_uuid(Uuid::from_u128(u128::MAX))),
            CallbackData::HistoryBack,
            CallbackData::TokensComingSoon,
            CallbackData::TokensBuy("pack_150k".into()),
        ]);
        all.extend(AdminAction::ALL.into_iter().map(CallbackData::Admin));
        all
    }

    #[test]
    fn every_variant_round_trips_and_fits() {
        for cb in every_variant() {
            let wire = cb.encode();
            assert!(wire.len() <= MAX_CALLBACK_BYTES, "{wire} is too long");
            assert_eq!(CallbackData::parse(&wire), Ok(cb.clone()), "{wire}");
            assert!(cb.fits());
        }
    }

    #[test]
    fn wire_strings_follow_the_original() {
        let d = draft();
        let hex = "0123456789abcdef0123456789abcdef";
        let cases = [
            (
                CallbackData::Menu(MenuTarget::Generate),
                "menu:generate".to_string(),
            ),
            (
                CallbackData::Menu(MenuTarget::Guide),
                "menu:guide".to_string(),
            ),
            (CallbackData::NavMenu, "nav:menu".to_string()),
            (
                CallbackData::Quality {
                    draft: d,
                    quality: Quality::High,
                },
                format!("img:quality:high:{hex}"),
            ),
            (
                CallbackData::Size {
                    draft: d,
                    size: ImageSize::Portrait,
                },
                format!("img:size:1024x1536:{hex}"),
            ),
            (
                CallbackData::Confirm { draft: d },
                format!("confirm:yes:{hex}"),
            ),
            (
                CallbackData::ConfirmExpensive { draft: d },
                format!("confirm:expensive:{hex}"),
            ),
            (
                CallbackData::Cancel { draft: d },
                format!("confirm:no:{hex}"),
            ),
            (
                CallbackData::Template("oil_painting".into()),
                "template:oil_painting".to_string(),
            ),
            (
                CallbackData::Model("gpt-image-1".into()),
                "model:gpt-image-1".to_string(),
            ),
            (CallbackData::HistoryBack, "history:back".to_string()),
            (
                CallbackData::TokensComingSoon,
                "tokens:coming_soon".to_string(),
            ),
            (
                CallbackData::Admin(AdminAction::TopUsers),
                "admin:top_users".to_string(),
            ),
            (
                CallbackData::Admin(AdminAction::ModelUsage),
                "admin:model_usage".to_string(),
            ),
        ];
        for (cb, wire) in cases {
            assert_eq!(cb.encode(), wire);
        }
    }

    #[test]
    fn the_longest_payloads_fit() {
        let d = DraftId::new();
        let longest = [
            CallbackData::ConfirmExpensive { draft: d },
            CallbackData::Quality {
                draft: d,
                quality: Quality::Medium,
            },
            CallbackData::Size {
                draft: d,
                size: ImageSize::Landscape,
            },
            CallbackData::HistoryShow(TaskId::new()),
            CallbackData::Template("t".repeat(MAX_ID_BYTES)),
        ];
        for cb in longest {
            let wire = cb.encode();
            assert!(wire.len() <= MAX_CALLBACK_BYTES, "{wire}: {}", wire.len());
            assert_eq!(CallbackData::parse(&wire), Ok(cb));
        }
        assert_eq!(
            CallbackData::ConfirmExpensive { draft: d }.encode().len(),
            "confirm:expensive:".len() + 32
        );
    }

    #[test]
    fn overlong_ids_are_flagged() {
        let long = CallbackData::Model("m".repeat(64));
        assert!(!long.fits());
        assert!(CallbackData::parse(&long.encode()).is_err());
    }

    #[test]
    fn garbage_is_rejected() {
        let hex = "0123456789abcdef0123456789abcdef";
        let bad = [
            "",
            ":",
            "menu",
            "menu:",
            "menu:settings",
            "nav:home",
            "confirm:yes",
            "confirm:expensive",
            "confirm:no",
            "confirm:maybe:0123456789abcdef0123456789abcdef",
            "img:quality:ultra:0123456789abcdef0123456789abcdef",
            "img:quality:high",
            "img:size:512x512:0123456789abcdef0123456789abcdef",
            "img:size:1024x1024:0123456789ABCDEF0123456789ABCDEF",
            "img:size:1024x1024:01234567-89ab-cdef-0123-456789abcdef",
            "img:size:1024x1024:0123456789abcdef0123456789abcde",
            "img:colour:red:0123456789abcdef0123456789abcdef",
            "history:show:42",
            "history:show:",
            "history:front",
            "template:",
            "template:<b>",
            "template:a b",
            "model:gpt image",
            "tokens:buy:",
            "tokens:buy:a:b",
            "tokens:later",
            "admin:delete_all",
            "unknown:thing",
            "MENU:generate",
            "menu:generate:extra",
        ];
        for s in bad {
            assert!(CallbackData::parse(s).is_err(), "{s:?} parsed");
        }
        let too_long = format!("confirm:yes:{hex}{}", "x".repeat(40));
        assert!(CallbackData::parse(&too_long).is_err());
        assert_eq!(
            CallbackData::parse("nope"),
            Err(UnknownCallback("nope".into()))
        );
    }

    #[test]
    fn draft_ids_print_as_simple_hex() {
        let d = draft();
        assert_eq!(d.to_string(), "0123456789abcdef0123456789abcdef");
        assert_eq!(d.to_string().parse::<DraftId>(), Ok(d));
        assert!("not-a-draft".parse::<DraftId>().is_err());
        assert_ne!(DraftId::new(), DraftId::new());
    }
}
