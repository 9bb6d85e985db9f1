//! The parts of the menu that show things: model choice, profile and history, the shop
//! placeholder, templates and the guide.

use tokenbot_ledger::events::SettingsChanged;
use tokenbot_ledger::{ImageSize, ModelId, Quality, TaskId, TaskKind, TaskStatus, Tokens};
use tokenbot_projections::queries;
use tokenbot_texts::{self as texts, ProfileTask, ProfileView};

use super::commands::account_of;
use super::tap::Tap;
use crate::callback::MenuTarget;
use crate::dialogue::State;
use crate::error::BotError;
use crate::keyboards;
use crate::turn::Turn;

/// How many tasks the profile lists (the original's 10).
const PROFILE_TASKS: i64 = 10;

pub(crate) async fn menu(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    target: MenuTarget,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let (text, keyboard, next) = match target {
        MenuTarget::Model => {
            let (text, keyboard) = model_screen(turn).await?;
            (text, keyboard, State::Idle)
        }
        MenuTarget::Profile => {
            let (text, keyboard) = profile(turn).await?;
            // Looking at the profile does not abandon a flow (as in the original).
            (text, keyboard, state)
        }
        MenuTarget::Tokens => {
            let balance = account_of(turn).await?.map_or(Tokens::ZERO, |a| a.balance);
            let packages = &turn.app.config.packages;
            (
                texts::buy_tokens(lang, balance, packages),
                keyboards::buy_tokens(lang, packages),
                State::Idle,
            )
        }
        MenuTarget::Trends => (
            texts::templates_list(lang),
            keyboards::templates(lang),
            State::Idle,
        ),
        MenuTarget::Guide => (
            super::commands::guide(turn),
            keyboards::back_to_menu(lang),
            state,
        ),
        // Routed elsewhere; kept total so a new target cannot be forgotten silently.
        MenuTarget::Generate | MenuTarget::Edit => return Ok(state),
    };
    turn.reply().edit(tap.message, text, Some(keyboard)).await?;
    tap.done(turn).await?;
    Ok(next)
}

async fn model_screen(
    turn: &Turn<'_>,
) -> Result<(String, teloxide::types::InlineKeyboardMarkup), BotError> {
    let lang = turn.lang;
    let account = account_of(turn).await?;
    let current = turn.model_of(account.as_ref());
    let offered: Vec<&str> = turn
        .app
        .ledger
        .config()
        .models
        .iter()
        .map(ModelId::as_str)
        .collect();
    Ok((
        texts::model_screen(lang, &texts::model_label(lang, current.as_str())),
        keyboards::models(lang, &offered, current.as_str()),
    ))
}

pub(crate) async fn choose_model(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    id: &str,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let config = turn.app.ledger.config();
    let Some(model) = config.models.iter().find(|m| m.as_str() == id).cloned() else {
        tap.toast(turn, texts::stale_button_toast(lang)).await?;
        return Ok(state);
    };
    let Some(account) = account_of(turn).await? else {
        tap.alert(turn, texts::user_not_found_alert(lang)).await?;
        return Ok(state);
    };
    let name = texts::model_name(lang, model.as_str());
    if turn.model_of(Some(&account)) == model {
        tap.toast(turn, texts::model_already_selected_toast(lang, &name))
            .await?;
        return Ok(state);
    }
    let change = SettingsChanged {
        model: Some(model.clone()),
        ..Default::default()
    };
    turn.app
        .ledger
        .change_settings(&turn.command(), turn.telegram_id, change)
        .await?;
    let offered: Vec<&str> = config.models.iter().map(ModelId::as_str).collect();
    turn.reply()
        .edit(
            tap.message,
            texts::model_info(lang, &name, &texts::model_description(lang, model.as_str())),
            Some(keyboards::models(lang, &offered, model.as_str())),
        )
        .await?;
    tap.toast(turn, texts::model_selected_toast(lang, &name))
        .await?;
    Ok(state)
}

fn status_of(raw: &str) -> TaskStatus {
    match raw {
        "processing" => TaskStatus::Processing,
        "succeeded" => TaskStatus::Succeeded,
        // The read model uses the seed's names: "done" is a delivered task.
        "done" => TaskStatus::Delivered,
        "failed" => TaskStatus::Failed,
        _ => TaskStatus::Pending,
    }
}

fn kind_of(raw: &str) -> TaskKind {
    if raw == "edit" {
        TaskKind::Edit
    } else {
        TaskKind::Generate
    }
}

/// "👤 Личный кабинет": balance from the ledger (never stale), history from the projections.
async fn profile(
    turn: &Turn<'_>,
) -> Result<(String, teloxide::types::InlineKeyboardMarkup), BotError> {
    let lang = turn.lang;
    let Some(account) = account_of(turn).await? else {
        return Ok((texts::user_not_found(lang), keyboards::back_to_menu(lang)));
    };
    let client = turn.app.pool.get().await?;
    let id = turn.telegram_id.get();
    let view = queries::user(&client, id).await?;
    let recent = queries::recent_tasks(&client, id, PROFILE_TASKS).await?;
    let items: Vec<ProfileTask<'_>> = recent
        .iter()
        .map(|t| ProfileTask {
            kind: kind_of(&t.kind),
            status: status_of(&t.status),
            created_at: t.created_at,
            prompt: &t.prompt,
        })
        .collect();
    let done: Vec<(usize, TaskKind, TaskId)> = recent
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status == "done" && t.result_file_id.is_some())
        .map(|(i, t)| (i + 1, kind_of(&t.kind), TaskId::from_uuid(t.task_id)))
        .collect();
    let model = texts::model_label(lang, turn.model_of(Some(&account)).as_str());
    let (total, finished) = view.map_or((0, 0), |v| (v.user.tasks_total, v.tasks_done));
    let text = texts::profile(
        lang,
        &ProfileView {
            balance: account.balance,
            model: &model,
            quality: account.settings.quality,
            size: account.settings.size,
            total_tasks: u64::try_from(total).unwrap_or(0),
            done_tasks: u64::try_from(finished).unwrap_or(0),
            recent: &items,
        },
    );
    Ok((text, keyboards::profile(lang, &done)))
}

/// "🖼 1. Генерация": the finished picture again, by its Telegram file id. Only the owner's
/// tasks can be shown (the original showed anyone's task to whoever guessed its id).
pub(crate) async fn show_result(
    turn: &Turn<'_>,
    state: State,
    tap: &Tap<'_>,
    task: TaskId,
) -> Result<State, BotError> {
    let lang = turn.lang;
    let client = turn.app.pool.get().await?;
    let view = queries::owned_task(&client, turn.telegram_id.get(), task.as_uuid()).await?;
    let Some(view) = view else {
        tap.toast(turn, texts::history_not_found(lang)).await?;
        return Ok(state);
    };
    let Some(file_id) = view
        .result_file_id
        .clone()
        .filter(|_| view.status == "done")
    else {
        tap.toast(turn, texts::history_unavailable(lang)).await?;
        return Ok(state);
    };
    let quality = view.quality.parse::<Quality>().unwrap_or(Quality::Medium);
    let size = view.size.parse::<ImageSize>().unwrap_or(ImageSize::Square);
    let caption = texts::history_caption(lang, &view.prompt, quality, size, view.created_at);
    match turn.reply().document(file_id, caption).await {
        Ok(()) => tap.done(turn).await?,
        Err(e) => {
            tracing::warn!(error = %e, "result re-send failed");
            tap.toast(turn, texts::history_send_failed_toast(lang))
                .await?;
        }
    }
    Ok(state)
}
