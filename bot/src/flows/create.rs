//! Making a picture: generate, edit and templates share one confirmation screen with live
//! quality and size selectors, the high-cost second confirmation, and the charge.

use teloxide::types::{InlineKeyboardMarkup, Message};
use tokenbot_ledger::events::SettingsChanged;
use tokenbot_ledger::{
    Account, DomainError, IdempotencyKey, LedgerError, Prompt, TaskKind, TaskRequest, Tokens,
};
use tokenbot_texts::{self as texts, ConfirmKind, ConfirmView};

use super::commands::account_of;
use super::tap::Tap;
use crate::callback::{CallbackData, DraftId};
use crate::dialogue::{Draft, DraftKind, State};
use crate::error::BotError;
use crate::keyboards;
use crate::turn::Turn;

/// The longest prompt accepted (the original's limit; OpenAI allows more).
pub const MAX_PROMPT_CHARS: usize = 2000;
/// Telegram's Bot API serves files up to 20 MB; a larger source could never be edited.
const MAX_SOURCE_BYTES: u32 = 20 * 1024 * 1024;

/// "🎨 Создать картинку" / "✏️ Редактировать фото".
pub(crate) async fn start(turn: &Turn<'_>, tap: &Tap<'_>, edit: bool) -> Result<State, BotError> {
    let lang = turn.lang;
    let (text, next) = if edit {
        (texts::edit_ask_image(lang), State::AwaitingImage)
    } else {
        (texts::generate_ask_prompt(lang), State::AwaitingPrompt)
    };
    turn.reply()
        .edit(tap.message, text, Some(keyboards::back_to_menu(lang)))
        .await?;
    tap.done(turn).await?;
    Ok(next)
}

/// A picture (or something else) while an edit waits for one.
pub(crate) async fn on_image(turn: &Turn<'_>, message: &Message) -> Result<State, BotError> {
    let lang = turn.lang;
    let back = Some(keyboards::back_to_menu(lang));
    if let Some(sizes) = message.photo()
        && let Some(largest) = sizes
            .iter()
            .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
    {
        turn.reply()
            .send(texts::edit_photo_received(lang), back)
            .await?;
        return Ok(State::AwaitingEditPrompt {
            source_file_id: largest.file.id.0.clone(),
        });
    }
    if let Some(doc) = message.document() {
        if is_supported_image(doc) && doc.file.size <= MAX_SOURCE_BYTES {
            turn.reply()
                .send(texts::edit_document_received(lang), back)
                .await?;
            return Ok(State::AwaitingEditPrompt {
                source_file_id: doc.file.id.0.clone(),
            });
        }
        turn.reply()
            .send(texts::edit_unsupported_format(lang), back)
            .await?;
        return Ok(State::AwaitingImage);
    }
    turn.reply()
        .send(texts::edit_need_image(lang), back)
        .await?;
    Ok(State::AwaitingImage)
}

fn is_supported_image(doc: &teloxide::types::Document) -> bool {
    const TYPES: [&str; 4] = ["image/jpeg", "image/jpg", "image/png", "image/webp"];
    const EXTENSIONS: [&str; 4] = [".jpg", ".jpeg", ".png", ".webp"];
    let by_type = doc
        .mime_type
        .as_ref()
        .is_some_and(|m| TYPES.contains(&m.essence_str()));
    let by_name = doc.file_name.as_ref().is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        EXTENSIONS.iter().any(|e| n.ends_with(e))
    });
    by_type || by_name
}

/// The description of a new picture or of an edit.
pub(crate) async fn on_prompt(
    turn: &Turn<'_>,
    state: State,
    message: &Message,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let back = Some(keyboards::back_to_menu(lang));
    let edit_source = match &state {
        State::AwaitingEditPrompt { source_file_id } => Some(source_file_id.clone()),
        _ => None,
    };
    let Some(text) = message.text() else {
        let error = if edit_source.is_some() {
            texts::edit_ask_prompt_error_non_text(lang)
        } else {
            texts::prompt_non_text(lang)
        };
        turn.reply().send(error, back).await?;
        return Ok(state);
    };
    let prompt = text.trim();
    if prompt.is_empty() {
        let error = if edit_source.is_some() {
            texts::edit_prompt_empty(lang)
        } else {
            texts::prompt_empty(lang)
        };
        turn.reply().send(error, back).await?;
        return Ok(state);
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        turn.reply()
            .send(texts::prompt_too_long(lang, MAX_PROMPT_CHARS), back)
            .await?;
        return Ok(state);
    }
    let Some(account) = account_of(turn).await? else {
        turn.reply().send(texts::user_not_found(lang), back).await?;
        return Ok(State::Idle);
    };
    let kind = match edit_source {
        Some(source_file_id) => DraftKind::Edit { source_file_id },
        None => DraftKind::Generate,
    };
    let draft = new_draft(turn, kind, prompt, &account);
    let (text, keyboard) = screen(turn, &draft, account.balance)?;
    turn.reply().send(text, Some(keyboard)).await?;
    Ok(State::Confirming(draft))
}

/// A fresh confirmation screen with the user's remembered model, quality and size.
fn new_draft(turn: &Turn<'_>, kind: DraftKind, prompt: &str, account: &Account) -> Draft {
    Draft {
        id: DraftId::new(),
        kind,
        prompt: prompt.to_string(),
        model: turn.model_of(Some(account)),
        quality: account.settings.quality,
        size: account.settings.size,
        expensive_confirmed: false,
    }
}

/// A template from "💡 Идеи и тренды": straight to its confirmation screen.
pub(crate) async fn template(turn: &Turn<'_>, tap: &Tap<'_>, id: &str) -> Result<State, BotError> {
    let lang = turn.lang;
    let Some(template) =
        texts::template(lang, id).filter(|_| turn.app.ledger.config().templates.contains_key(id))
    else {
        tap.toast(turn, texts::template_not_found_toast(lang))
            .await?;
        return Ok(State::Idle);
    };
    let Some(account) = account_of(turn).await? else {
        turn.reply()
            .edit(
                tap.message,
                texts::user_not_found(lang),
                Some(keyboards::back_to_menu(lang)),
            )
            .await?;
        tap.done(turn).await?;
        return Ok(State::Idle);
    };
    let kind = DraftKind::Template {
        template_id: template.id.to_string(),
    };
    let draft = new_draft(turn, kind, &template.prompt, &account);
    let (text, keyboard) = screen(turn, &draft, account.balance)?;
    turn.reply().edit(tap.message, text, Some(keyboard)).await?;
    tap.done(turn).await?;
    Ok(State::Confirming(draft))
}

fn task_kind(draft: &Draft) -> TaskKind {
    match draft.kind {
        DraftKind::Edit { .. } => TaskKind::Edit,
        _ => TaskKind::Generate,
    }
}

/// The confirmation screen of a draft and its keyboard.
fn screen(
    turn: &Turn<'_>,
    draft: &Draft,
    balance: Tokens,
) -> Result<(String, InlineKeyboardMarkup), BotError> {
    let lang = turn.lang;
    let config = turn.app.ledger.config();
    let cost = config
        .cost(draft.quality, draft.size, draft.template_id())
        .map_err(LedgerError::from)?;
    let template = draft.template_id().and_then(|id| texts::template(lang, id));
    let kind = match (&draft.kind, &template) {
        (DraftKind::Template { .. }, Some(t)) => ConfirmKind::Template {
            name: &t.name,
            description: &t.description,
        },
        (DraftKind::Edit { .. }, _) => ConfirmKind::Edit,
        _ => ConfirmKind::Generate,
    };
    let model = texts::model_label(lang, draft.model.as_str());
    let view = ConfirmView {
        kind,
        prompt: &draft.prompt,
        model: &model,
        quality: draft.quality,
        size: draft.size,
        cost,
        balance,
        second_step: draft.expensive_confirmed,
        expensive: cost >= config.high_cost_threshold,
    };
    let keyboard = keyboards::confirm(
        lang,
        draft.id,
        draft.quality,
        draft.size,
        draft.expensive_confirmed,
    );
    Ok((texts::confirm_screen(lang, &view), keyboard))
}

/// The draft a button belongs to, if it is the one on screen.
fn current(state: &State, id: DraftId) -> Option<Draft> {
    match state {
        State::Confirming(d) if d.id == id => Some(d.clone()),
        _ => None,
    }
}

/// Quality or size tapped on the confirmation screen: re-render, and remember the choice as the
/// user's default (as the original did).
pub(crate) async fn on_option(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    data: CallbackData,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let (id, change) = match data {
        CallbackData::Quality { draft, quality } => (
            draft,
            SettingsChanged {
                quality: Some(quality),
                ..Default::default()
            },
        ),
        CallbackData::Size { draft, size } => (
            draft,
            SettingsChanged {
                size: Some(size),
                ..Default::default()
            },
        ),
        _ => return Ok(state),
    };
    let Some(mut draft) = current(&state, id) else {
        tap.toast(turn, texts::stale_button_toast(lang)).await?;
        return Ok(state);
    };
    let before = (draft.quality, draft.size);
    draft.quality = change.quality.unwrap_or(draft.quality);
    draft.size = change.size.unwrap_or(draft.size);
    if (draft.quality, draft.size) == before {
        tap.done(turn).await?; // Already selected: nothing to change.
        return Ok(state);
    }
    draft.expensive_confirmed = false;
    let settings = turn
        .app
        .ledger
        .change_settings(&turn.command(), turn.telegram_id, change)
        .await;
    if let Err(e) = settings {
        // The draft still changes; only the remembered default is not updated.
        tracing::warn!(error = %e, "settings not saved");
    }
    let balance = account_of(turn).await?.map_or(Tokens::ZERO, |a| a.balance);
    let (text, keyboard) = screen(turn, &draft, balance)?;
    turn.reply().edit(tap.message, text, Some(keyboard)).await?;
    tap.done(turn).await?;
    Ok(State::Confirming(draft))
}

/// "✅ Подтвердить": the second step for an expensive task, else the charge. The draft id is the
/// idempotency key, so a double tap, a redelivered callback or a retry after a crash charges once.
pub(crate) async fn confirm(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    id: DraftId,
    second_button: bool,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let Some(mut draft) = current(&state, id) else {
        tap.toast(turn, texts::stale_button_toast(lang)).await?;
        return Ok(state);
    };
    let config = turn.app.ledger.config();
    let cost = config
        .cost(draft.quality, draft.size, draft.template_id())
        .map_err(LedgerError::from)?;
    let confirmed = draft.expensive_confirmed && second_button;
    if cost >= config.high_cost_threshold && !confirmed {
        draft.expensive_confirmed = true;
        let balance = account_of(turn).await?.map_or(Tokens::ZERO, |a| a.balance);
        let (text, keyboard) = screen(turn, &draft, balance)?;
        turn.reply().edit(tap.message, text, Some(keyboard)).await?;
        tap.toast(turn, texts::second_confirm_toast(lang)).await?;
        return Ok(State::Confirming(draft));
    }
    // Checked when the draft was made; a draft stored by an older release may not pass.
    let Ok(prompt) = Prompt::parse(&draft.prompt) else {
        tap.toast(turn, texts::state_error_toast(lang)).await?;
        return Ok(State::Idle);
    };
    let kind = task_kind(&draft);
    let request = task_request(turn, &draft, kind, prompt);
    let key = IdempotencyKey::derived("draft", draft.id)
        .map_err(|e| BotError::Internal(e.to_string()))?;
    let requested = turn
        .app
        .ledger
        .request_task(&turn.command().with_key(key), request)
        .await;
    match requested {
        Ok(receipt) => {
            let template = draft
                .template_id()
                .and_then(|t| texts::template(lang, t))
                .map(|t| t.name);
            let text = texts::task_created(lang, receipt.value.task_id, kind, template.as_deref());
            turn.reply()
                .edit(tap.message, text, Some(keyboards::main_menu(lang)))
                .await?;
            tap.toast(turn, texts::task_started_toast(lang, kind))
                .await?;
            metrics::counter!("tokenbot_bot_tasks_requested_total").increment(1);
            Ok(State::Idle)
        }
        Err(e) => refused(turn, tap, draft, e).await,
    }
}

/// The task a confirmed draft asks for.
fn task_request(turn: &Turn<'_>, draft: &Draft, kind: TaskKind, prompt: Prompt) -> TaskRequest {
    TaskRequest {
        telegram_id: turn.telegram_id,
        kind,
        prompt,
        model: Some(draft.model.clone()),
        quality: draft.quality,
        size: draft.size,
        template_id: draft.template_id().map(str::to_string),
        source_file_id: match &draft.kind {
            DraftKind::Edit { source_file_id } => Some(source_file_id.clone()),
            _ => None,
        },
    }
}

/// A debit the ledger refused: says why, and keeps the draft when another choice on the same
/// screen can still help. Any other error is the caller's.
async fn refused(
    turn: &Turn<'_>,
    tap: &Tap<'_>,
    mut draft: Draft,
    error: LedgerError,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let (text, next) = match error {
        LedgerError::Domain(DomainError::InsufficientBalance {
            required,
            available,
        }) => {
            // The draft stays, so a cheaper quality can still be picked on the same screen.
            draft.expensive_confirmed = false;
            (
                texts::insufficient(lang, required, available),
                State::Confirming(draft),
            )
        }
        LedgerError::Domain(DomainError::RateLimited { limit }) => {
            (texts::rate_limited(lang, limit), State::Confirming(draft))
        }
        LedgerError::Domain(DomainError::AccountNotFound(_)) => {
            (texts::user_not_found(lang), State::Idle)
        }
        e => return Err(e.into()),
    };
    turn.reply()
        .send(text, Some(keyboards::main_menu(lang)))
        .await?;
    tap.done(turn).await?;
    Ok(next)
}

/// "❌ Отмена".
pub(crate) async fn cancel(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    id: DraftId,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let Some(draft) = current(&state, id) else {
        tap.toast(turn, texts::stale_button_toast(lang)).await?;
        return Ok(state);
    };
    let (text, keyboard) = match draft.kind {
        DraftKind::Template { .. } => (texts::template_cancelled(lang), keyboards::templates(lang)),
        _ => (
            texts::cancelled(lang, task_kind(&draft)),
            keyboards::main_menu(lang),
        ),
    };
    turn.reply().edit(tap.message, text, Some(keyboard)).await?;
    tap.toast(turn, texts::cancelled_toast(lang)).await?;
    Ok(State::Idle)
}
