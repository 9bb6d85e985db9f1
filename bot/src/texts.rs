//! Every user-visible string of the bot, in Russian (the original bot's texts, the default) and
//! English (for users whose Telegram language is `en*`).
//!
//! Messages are Telegram HTML unless a function says "plain text". Anything that came from a user
//! or from the database (prompts, names, usernames, model and status strings, reasons) is cut by
//! characters first and HTML-escaped second, so a prompt with `<` or `&` can never make Telegram
//! reject a message, and a cut never splits an escape sequence.
//!
//! Parameters called `model` / `model_label` take the output of [`model_label`], which is already
//! HTML-safe; toasts take [`model_name`], which is plain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokenbot_ledger::{ImageSize, Quality, TaskId, TaskKind, TaskStatus, TelegramId, Tokens};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    /// The original bot spoke only Russian, so everybody who is not clearly English gets it.
    #[default]
    Ru,
    En,
}

impl Lang {
    /// Telegram's `language_code` is an IETF tag (`en`, `en-US`, sometimes `en_GB`).
    pub fn from_code(code: Option<&str>) -> Lang {
        let Some(code) = code else { return Lang::Ru };
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Ru
        }
    }
}

/// Escapes text for Telegram's HTML parse mode (the four characters it requires plus `"`, so the
/// result is also safe inside an attribute).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The first `max_chars` characters (not bytes: a Cyrillic prompt must not be cut mid-letter),
/// with "..." appended when something was cut.
pub fn preview(s: &str, max_chars: usize) -> String {
    tokenbot_ledger::image::preview(s, max_chars)
}

/// Cut, then escape: escaping first could cut an `&amp;` in half.
fn html_preview(s: &str, max_chars: usize) -> String {
    escape(&preview(s, max_chars))
}

fn pick(lang: Lang, ru: &str, en: &str) -> String {
    match lang {
        Lang::Ru => ru.to_string(),
        Lang::En => en.to_string(),
    }
}

/// Russian agrees the noun with the last digits of the number: 1 генерация, 2 генерации,
/// 5 генераций, 11 генераций, 21 генерация.
fn ru_plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (last, last_two) = (n % 10, n % 100);
    if last == 1 && last_two != 11 {
        one
    } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
        few
    } else {
        many
    }
}

fn en_plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Profile and history dates: stored in UTC and shown in UTC, with the zone named, since the bot
/// does not know the user's time zone.
fn utc_minutes(at: DateTime<Utc>) -> String {
    format!("{} (UTC)", at.format("%d.%m.%Y %H:%M"))
}

/// `10560` -> `10,560`, as the original's `{:,}` printed the admin's total spend.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

/// The original used the same English labels in its Russian UI.
pub fn quality_label(_lang: Lang, quality: Quality) -> &'static str {
    match quality {
        Quality::Low => "Low",
        Quality::Medium => "Medium",
        Quality::High => "High",
    }
}

pub fn size_label(_lang: Lang, size: ImageSize) -> &'static str {
    match size {
        ImageSize::Square => "Square (1024×1024)",
        ImageSize::Portrait => "Portrait (1024×1536)",
        ImageSize::Landscape => "Landscape (1536×1024)",
    }
}

pub fn task_kind_label(lang: Lang, kind: TaskKind) -> &'static str {
    match (lang, kind) {
        (Lang::Ru, TaskKind::Generate) => "🎨 Генерация",
        (Lang::Ru, TaskKind::Edit) => "✏️ Редактирование",
        (Lang::En, TaskKind::Generate) => "🎨 Generation",
        (Lang::En, TaskKind::Edit) => "✏️ Edit",
    }
}

/// `Succeeded` means the image exists but is still being sent, which the user sees as still
/// processing; only `Delivered` is done.
pub fn task_status_label(lang: Lang, status: TaskStatus) -> &'static str {
    match (lang, status) {
        (Lang::Ru, TaskStatus::Pending) => "⏳ В очереди",
        (Lang::Ru, TaskStatus::Processing | TaskStatus::Succeeded) => "🔄 Обработка",
        (Lang::Ru, TaskStatus::Delivered) => "✅ Готово",
        (Lang::Ru, TaskStatus::Failed) => "❌ Ошибка",
        (Lang::En, TaskStatus::Pending) => "⏳ Queued",
        (Lang::En, TaskStatus::Processing | TaskStatus::Succeeded) => "🔄 Processing",
        (Lang::En, TaskStatus::Delivered) => "✅ Done",
        (Lang::En, TaskStatus::Failed) => "❌ Failed",
    }
}

/// The models the original offered; others come from configuration and are shown by id.
fn known_model(lang: Lang, model_id: &str) -> Option<(&'static str, &'static str)> {
    match (lang, model_id) {
        (Lang::Ru, "gpt-image-1") => Some(("GPT Image 1", "GPT Image 1 (Стандартная)")),
        (Lang::Ru, "gpt-image-1.5") => Some(("GPT Image 1.5", "GPT Image 1.5 (Улучшенная)")),
        (Lang::En, "gpt-image-1") => Some(("GPT Image 1", "GPT Image 1 (Standard)")),
        (Lang::En, "gpt-image-1.5") => Some(("GPT Image 1.5", "GPT Image 1.5 (Improved)")),
        _ => None,
    }
}

/// The model's label for HTML messages (escaped).
pub fn model_label(lang: Lang, model_id: &str) -> String {
    escape(&model_label_plain(lang, model_id))
}

/// The model's label for button texts, which Telegram shows as plain text.
pub fn model_label_plain(lang: Lang, model_id: &str) -> String {
    known_model(lang, model_id).map_or_else(|| model_id.to_string(), |(_, label)| label.to_string())
}

/// The short name used in the model page and in toasts ("GPT Image 1"); plain text.
pub fn model_name(lang: Lang, model_id: &str) -> String {
    known_model(lang, model_id).map_or_else(|| model_id.to_string(), |(name, _)| name.to_string())
}

/// Empty for models the bot has no description of. The original said gpt-image-1.5 could not
/// edit, which stopped being true when edits started using the selected model.
pub fn model_description(lang: Lang, model_id: &str) -> &'static str {
    match (lang, model_id) {
        (Lang::Ru, "gpt-image-1") => {
            "Стандартная модель. Хорошее качество, поддержка генерации и редактирования."
        }
        (Lang::Ru, "gpt-image-1.5") => {
            "Улучшенная модель. Лучшее качество, поддержка генерации и редактирования."
        }
        (Lang::En, "gpt-image-1") => {
            "Standard model. Good quality, supports generation and editing."
        }
        (Lang::En, "gpt-image-1.5") => {
            "Improved model. Best quality, supports generation and editing."
        }
        _ => "",
    }
}

// ---------------------------------------------------------------------------------------------
// Templates ("Идеи и тренды")
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateText {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Sent to OpenAI as is; English in both languages because that is what the prompts were
    /// tuned in.
    pub prompt: &'static str,
}

const CYBERPUNK_PROMPT: &str = "A stunning cyberpunk portrait, neon lights, futuristic city background, high detail, cinematic lighting, 8k quality, digital art style";
const ANIME_PROMPT: &str = "Anime style character, vibrant colors, detailed eyes, studio ghibli inspired, beautiful background, high quality illustration";
const OIL_PROMPT: &str = "Classical oil painting style, rich colors, visible brush strokes, museum quality, renaissance inspired, dramatic lighting";

static TEMPLATES_RU: [TemplateText; 3] = [
    TemplateText {
        id: "cyberpunk_portrait",
        name: "🌆 Киберпанк портрет",
        description: "Футуристический портрет в стиле Cyberpunk 2077",
        prompt: CYBERPUNK_PROMPT,
    },
    TemplateText {
        id: "anime_character",
        name: "🎌 Аниме персонаж",
        description: "Персонаж в стиле японской анимации",
        prompt: ANIME_PROMPT,
    },
    TemplateText {
        id: "oil_painting",
        name: "🎨 Масляная живопись",
        description: "Классическая картина маслом",
        prompt: OIL_PROMPT,
    },
];

static TEMPLATES_EN: [TemplateText; 3] = [
    TemplateText {
        id: "cyberpunk_portrait",
        name: "🌆 Cyberpunk portrait",
        description: "A futuristic portrait in the style of Cyberpunk 2077",
        prompt: CYBERPUNK_PROMPT,
    },
    TemplateText {
        id: "anime_character",
        name: "🎌 Anime character",
        description: "A character in the style of Japanese animation",
        prompt: ANIME_PROMPT,
    },
    TemplateText {
        id: "oil_painting",
        name: "🎨 Oil painting",
        description: "A classic oil painting",
        prompt: OIL_PROMPT,
    },
];

pub fn templates(lang: Lang) -> &'static [TemplateText] {
    match lang {
        Lang::Ru => &TEMPLATES_RU,
        Lang::En => &TEMPLATES_EN,
    }
}

pub fn template(lang: Lang, id: &str) -> Option<&'static TemplateText> {
    templates(lang).iter().find(|t| t.id == id)
}

// ---------------------------------------------------------------------------------------------
// Start, menu, help
// ---------------------------------------------------------------------------------------------

pub fn welcome_new(lang: Lang, balance: Tokens) -> String {
    match lang {
        Lang::Ru => format!(
            "🎨 <b>Добро пожаловать в AI Image Bot!</b>\n\n\
             Я помогу вам создавать уникальные изображения с помощью искусственного интеллекта.\n\n\
             <b>Что я умею:</b>\n\
             • 🎨 Создавать картинки по текстовому описанию\n\
             • ✏️ Редактировать ваши фотографии\n\
             • 💡 Предлагать готовые идеи для генерации\n\n\
             <b>Ваш баланс:</b> {balance} 🪙\n\n\
             Выберите действие из меню ниже:"
        ),
        Lang::En => format!(
            "🎨 <b>Welcome to AI Image Bot!</b>\n\n\
             I will help you create unique images with artificial intelligence.\n\n\
             <b>What I can do:</b>\n\
             • 🎨 Create pictures from a text description\n\
             • ✏️ Edit your photos\n\
             • 💡 Suggest ready-made ideas to generate\n\n\
             <b>Your balance:</b> {balance} 🪙\n\n\
             Choose an action from the menu below:"
        ),
    }
}

pub fn welcome_back(lang: Lang, balance: Tokens) -> String {
    match lang {
        Lang::Ru => format!(
            "👋 <b>С возвращением!</b>\n\n<b>Ваш баланс:</b> {balance} 🪙\n\nВыберите действие из меню:"
        ),
        Lang::En => format!(
            "👋 <b>Welcome back!</b>\n\n<b>Your balance:</b> {balance} 🪙\n\nChoose an action from the menu:"
        ),
    }
}

pub fn main_menu_title(lang: Lang) -> String {
    pick(
        lang,
        "🎨 <b>Главное меню</b>\n\nВыберите действие:",
        "🎨 <b>Main menu</b>\n\nChoose an action:",
    )
}

/// New: the original had no /help.
pub fn help(lang: Lang) -> String {
    pick(
        lang,
        "ℹ️ <b>Помощь</b>\n\n\
         <b>Команды:</b>\n\
         /start — главное меню и баланс\n\
         /balance — баланс и текущие настройки (также /tokens)\n\
         /guide — как пользоваться ботом\n\
         /help — эта справка\n\
         /cancel — отменить текущее действие\n\n\
         Всё остальное — через кнопки меню: создание и редактирование картинок, выбор модели, \
         личный кабинет, покупка токенов и готовые идеи.",
        "ℹ️ <b>Help</b>\n\n\
         <b>Commands:</b>\n\
         /start — main menu and balance\n\
         /balance — balance and current settings (also /tokens)\n\
         /guide — how to use the bot\n\
         /help — this help\n\
         /cancel — cancel the current action\n\n\
         Everything else is in the menu buttons: creating and editing pictures, choosing a model, \
         your account, buying tokens and ready-made ideas.",
    )
}

/// New: /cancel while a flow was in progress.
pub fn cancel_done(lang: Lang) -> String {
    pick(
        lang,
        "✅ Текущее действие отменено.\n\nВыберите действие из меню:",
        "✅ The current action has been cancelled.\n\nChoose an action from the menu:",
    )
}

/// New: /cancel with nothing in progress.
pub fn cancel_nothing(lang: Lang) -> String {
    pick(
        lang,
        "Сейчас нечего отменять.\n\nВыберите действие из меню:",
        "There is nothing to cancel right now.\n\nChoose an action from the menu:",
    )
}

pub fn unknown_command(lang: Lang) -> String {
    pick(
        lang,
        "🤔 Не понимаю эту команду.\n\nВыберите действие из меню:",
        "🤔 I don't understand this command.\n\nChoose an action from the menu:",
    )
}

/// The original's ERROR_MESSAGE.
pub fn error_generic(lang: Lang) -> String {
    pick(
        lang,
        "❌ <b>Произошла ошибка</b>\n\n\
         Что-то пошло не так. Пожалуйста, попробуйте позже.\n\n\
         Если ошибка повторяется, напишите в поддержку.",
        "❌ <b>An error occurred</b>\n\n\
         Something went wrong. Please try again later.\n\n\
         If the error persists, please contact support.",
    )
}

pub fn user_not_found(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пользователь не найден. Используйте /start",
        "❌ User not found. Use /start",
    )
}

/// The alert of the model buttons, which said it without the /start hint.
pub fn user_not_found_alert(lang: Lang) -> String {
    pick(lang, "❌ Пользователь не найден", "❌ User not found")
}

/// New: a button from a screen whose draft is gone (or from the original bot).
pub fn stale_button_toast(lang: Lang) -> String {
    pick(lang, "Эта кнопка устарела", "This button is out of date")
}

/// New: the same update or tap arrived while its first copy was still being handled.
pub fn duplicate_request_toast(lang: Lang) -> String {
    pick(
        lang,
        "⏳ Этот запрос уже обрабатывается",
        "⏳ This request is already being processed",
    )
}

pub fn rate_limited(lang: Lang, limit: u32) -> String {
    let n = u64::from(limit);
    match lang {
        Lang::Ru => format!(
            "⚠️ <b>Превышен лимит запросов</b>\n\nМаксимум {limit} {} в час.\nПопробуйте позже.",
            ru_plural(n, "генерация", "генерации", "генераций")
        ),
        Lang::En => format!(
            "⚠️ <b>Request limit exceeded</b>\n\nAt most {limit} {} per hour.\nPlease try again later.",
            en_plural(n, "generation", "generations")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Guide and balance
// ---------------------------------------------------------------------------------------------

/// The guide. `initial_generations` is how many default (medium, square) images the starting
/// grant buys; `support` is the support contact, e.g. `@support_bot`.
pub fn guide(lang: Lang, initial_generations: u64, support: &str) -> String {
    let n = initial_generations;
    let support = escape(support.trim());
    match lang {
        Lang::Ru => {
            let grant = if n == 0 {
                String::new()
            } else {
                format!(
                    "• При регистрации вы получаете <b>{n} {}</b> (по умолчанию)\n",
                    ru_plural(
                        n,
                        "стартовую генерацию",
                        "стартовые генерации",
                        "стартовых генераций"
                    )
                )
            };
            let contact = if support.is_empty() {
                String::new()
            } else {
                format!(
                    "\n\n───────────────────\n\n<b>❓ Остались вопросы?</b>\nНапишите нам: {support}"
                )
            };
            format!(
                "📖 <b>Гайд по использованию бота</b>\n\n\
                 <b>🎨 Создание картинки</b>\n\
                 1. Нажмите «Создать картинку» в меню\n\
                 2. Опишите желаемое изображение текстом\n\
                 3. Выберите качество и формат на экране подтверждения\n\
                 4. Подтвердите генерацию\n\
                 5. Дождитесь результата (10-30 секунд)\n\n\
                 <i>💡 Совет: чем подробнее описание, тем лучше результат!</i>\n\n\
                 Примеры хороших промптов:\n\
                 • «Закат над горами, фотореалистичный стиль, тёплые цвета»\n\
                 • «Портрет кота в костюме пирата, цифровое искусство»\n\
                 • «Футуристический город ночью, неоновые огни, киберпанк»\n\n\
                 ───────────────────\n\n\
                 <b>✏️ Редактирование фото</b>\n\
                 1. Нажмите «Редактировать фото» в меню\n\
                 2. Отправьте изображение (JPG, PNG или WEBP)\n\
                 3. Опишите желаемые изменения\n\
                 4. Подтвердите редактирование\n\
                 5. Получите результат\n\n\
                 <i>💡 Совет: описывайте конкретные изменения!</i>\n\n\
                 Примеры:\n\
                 • «Сделай фон размытым»\n\
                 • «Добавь солнечные лучи»\n\
                 • «Преврати в акварельный стиль»\n\n\
                 ───────────────────\n\n\
                 <b>💰 Система токенов</b>\n\
                 • Стоимость зависит от <b>качества</b> и <b>формата</b> изображения\n\
                 • По умолчанию: Medium + Square (1024×1024)\n\
                 {grant}\
                 • Пополнить баланс можно в разделе «Купить токены»\n\n\
                 <i>Токены не сгорают — используйте когда удобно!</i>\n\n\
                 ───────────────────\n\n\
                 <b>💡 Идеи и тренды</b>\n\
                 Не знаете что создать? Загляните в раздел «Идеи и тренды» — там готовые шаблоны \
                 с оптимизированными промптами.\
                 {contact}"
            )
        }
        Lang::En => {
            let grant = if n == 0 {
                String::new()
            } else {
                format!(
                    "• When you sign up you get <b>{n} {}</b> (at the default settings)\n",
                    en_plural(n, "starter generation", "starter generations")
                )
            };
            let contact = if support.is_empty() {
                String::new()
            } else {
                format!(
                    "\n\n───────────────────\n\n<b>❓ Any questions?</b>\nWrite to us: {support}"
                )
            };
            format!(
                "📖 <b>How to use the bot</b>\n\n\
                 <b>🎨 Creating a picture</b>\n\
                 1. Tap “Create a picture” in the menu\n\
                 2. Describe the image you want in text\n\
                 3. Choose the quality and size on the confirmation screen\n\
                 4. Confirm the generation\n\
                 5. Wait for the result (10-30 seconds)\n\n\
                 <i>💡 Tip: the more detailed the description, the better the result!</i>\n\n\
                 Examples of good prompts:\n\
                 • “Sunset over the mountains, photorealistic style, warm colours”\n\
                 • “Portrait of a cat in a pirate costume, digital art”\n\
                 • “Futuristic city at night, neon lights, cyberpunk”\n\n\
                 ───────────────────\n\n\
                 <b>✏️ Editing a photo</b>\n\
                 1. Tap “Edit a photo” in the menu\n\
                 2. Send an image (JPG, PNG or WEBP)\n\
                 3. Describe the changes you want\n\
                 4. Confirm the edit\n\
                 5. Get the result\n\n\
                 <i>💡 Tip: describe specific changes!</i>\n\n\
                 Examples:\n\
                 • “Blur the background”\n\
                 • “Add sun rays”\n\
                 • “Turn it into a watercolour style”\n\n\
                 ───────────────────\n\n\
                 <b>💰 Tokens</b>\n\
                 • The cost depends on the image <b>quality</b> and <b>size</b>\n\
                 • Default: Medium + Square (1024×1024)\n\
                 {grant}\
                 • You can top up your balance in the “Buy tokens” section\n\n\
                 <i>Tokens never expire — use them whenever you like!</i>\n\n\
                 ───────────────────\n\n\
                 <b>💡 Ideas and trends</b>\n\
                 Not sure what to create? Have a look at “Ideas and trends” — it has ready-made \
                 templates with optimized prompts.\
                 {contact}"
            )
        }
    }
}

pub fn balance(
    lang: Lang,
    balance: Tokens,
    model_label: &str,
    quality: Quality,
    size: ImageSize,
) -> String {
    let (q, s) = (quality.as_str(), size.as_str());
    match lang {
        Lang::Ru => format!(
            "👛 <b>Баланс</b>\n\n\
             <b>Токены:</b> {balance} 🪙\n\n\
             <b>Модель:</b> {model_label}\n\
             <b>Качество:</b> {q}\n\
             <b>Формат:</b> {s}"
        ),
        Lang::En => format!(
            "👛 <b>Balance</b>\n\n\
             <b>Tokens:</b> {balance} 🪙\n\n\
             <b>Model:</b> {model_label}\n\
             <b>Quality:</b> {q}\n\
             <b>Size:</b> {s}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Generate and edit: asking for input
// ---------------------------------------------------------------------------------------------

pub fn generate_ask_prompt(lang: Lang) -> String {
    pick(
        lang,
        "🎨 <b>Создание картинки</b>\n\n\
         Опишите, какое изображение вы хотите создать.\n\n\
         💡 <i>Совет: чем подробнее описание, тем лучше результат!</i>",
        "🎨 <b>Create a picture</b>\n\n\
         Describe the image you want to create.\n\n\
         💡 <i>Tip: the more detailed the description, the better the result!</i>",
    )
}

/// Something other than text while a generate prompt is expected.
pub fn prompt_non_text(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пожалуйста, отправьте текстовое описание изображения.",
        "❌ Please send a text description of the image.",
    )
}

pub fn prompt_empty(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пожалуйста, введите описание изображения.",
        "❌ Please enter a description of the image.",
    )
}

pub fn edit_prompt_empty(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пожалуйста, опишите желаемые изменения.",
        "❌ Please describe the changes you want.",
    )
}

pub fn prompt_too_long(lang: Lang, max: usize) -> String {
    match lang {
        Lang::Ru => format!("❌ Описание слишком длинное. Максимум {max} символов."),
        Lang::En => format!("❌ The description is too long. Maximum {max} characters."),
    }
}

pub fn edit_ask_image(lang: Lang) -> String {
    pick(
        lang,
        "✏️ <b>Редактирование фото</b>\n\n\
         Отправьте изображение, которое хотите отредактировать.\n\n\
         📎 <i>Поддерживаемые форматы: JPG, PNG, WEBP</i>",
        "✏️ <b>Edit a photo</b>\n\n\
         Send the image you want to edit.\n\n\
         📎 <i>Supported formats: JPG, PNG, WEBP</i>",
    )
}

pub fn edit_photo_received(lang: Lang) -> String {
    pick(
        lang,
        "✅ <b>Фото получено!</b>\n\n\
         Теперь опишите, какие изменения вы хотите внести.\n\n\
         💡 <i>Примеры:</i>\n\
         • «Сделай фон размытым»\n\
         • «Добавь закат на заднем плане»\n\
         • «Преврати в мультяшный стиль»",
        "✅ <b>Photo received!</b>\n\n\
         Now describe the changes you want to make.\n\n\
         💡 <i>Examples:</i>\n\
         • “Blur the background”\n\
         • “Add a sunset in the background”\n\
         • “Turn it into a cartoon style”",
    )
}

pub fn edit_document_received(lang: Lang) -> String {
    pick(
        lang,
        "✅ <b>Изображение получено!</b>\n\n\
         Теперь опишите, какие изменения вы хотите внести.",
        "✅ <b>Image received!</b>\n\n\
         Now describe the changes you want to make.",
    )
}

pub fn edit_unsupported_format(lang: Lang) -> String {
    pick(
        lang,
        "❌ <b>Неподдерживаемый формат</b>\n\n\
         Пожалуйста, отправьте изображение в одном из форматов:\n\
         • JPG / JPEG\n\
         • PNG\n\
         • WEBP\n\n\
         Или отправьте фото напрямую (не как файл).",
        "❌ <b>Unsupported format</b>\n\n\
         Please send an image in one of these formats:\n\
         • JPG / JPEG\n\
         • PNG\n\
         • WEBP\n\n\
         Or send it as a photo (not as a file).",
    )
}

/// Anything but a photo or an image document while the image to edit is expected.
pub fn edit_need_image(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пожалуйста, отправьте изображение.\n\n\
         📎 <i>Поддерживаемые форматы: JPG, PNG, WEBP</i>",
        "❌ Please send an image.\n\n\
         📎 <i>Supported formats: JPG, PNG, WEBP</i>",
    )
}

/// Something other than text while the description of an edit is expected.
pub fn edit_ask_prompt_error_non_text(lang: Lang) -> String {
    pick(
        lang,
        "❌ Пожалуйста, отправьте текстовое описание изменений.",
        "❌ Please send a text description of the changes.",
    )
}

// ---------------------------------------------------------------------------------------------
// Confirmation
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmKind<'a> {
    Generate,
    Edit,
    Template { name: &'a str, description: &'a str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfirmView<'a> {
    pub kind: ConfirmKind<'a>,
    /// The user's prompt, or the template's.
    pub prompt: &'a str,
    /// From [`model_label`].
    pub model: &'a str,
    pub quality: Quality,
    pub size: ImageSize,
    pub cost: Tokens,
    pub balance: Tokens,
    /// The user confirmed an expensive task once; this screen asks again.
    pub second_step: bool,
    /// `cost >= high_cost_threshold`; the warning line shows on the generate screen only, as in
    /// the original.
    pub expensive: bool,
}

pub const PROMPT_PREVIEW_CHARS: usize = 500;
pub const TEMPLATE_PROMPT_PREVIEW_CHARS: usize = 300;

pub fn confirm_screen(lang: Lang, v: &ConfirmView<'_>) -> String {
    let en = lang == Lang::En;
    let mut out = String::new();
    match v.kind {
        ConfirmKind::Generate => {
            out.push_str(if en {
                "🎨 <b>Confirm generation</b>\n\n<b>Your prompt:</b>\n"
            } else {
                "🎨 <b>Подтверждение генерации</b>\n\n<b>Ваш промпт:</b>\n"
            });
            out.push_str(&format!(
                "<i>{}</i>\n\n",
                html_preview(v.prompt, PROMPT_PREVIEW_CHARS)
            ));
        }
        ConfirmKind::Edit => {
            out.push_str(if en {
                "✏️ <b>Confirm editing</b>\n\n<b>Requested changes:</b>\n"
            } else {
                "✏️ <b>Подтверждение редактирования</b>\n\n<b>Описание изменений:</b>\n"
            });
            out.push_str(&format!(
                "<i>{}</i>\n\n",
                html_preview(v.prompt, PROMPT_PREVIEW_CHARS)
            ));
        }
        ConfirmKind::Template { name, description } => {
            let (name, description) = (escape(name), escape(description));
            let prompt = html_preview(v.prompt, TEMPLATE_PROMPT_PREVIEW_CHARS);
            out.push_str(&if en {
                format!(
                    "💡 <b>{name}</b>\n\n<b>Description:</b>\n{description}\n\n\
                     <b>Prompt:</b>\n<i>{prompt}</i>\n\n"
                )
            } else {
                format!(
                    "💡 <b>{name}</b>\n\n<b>Описание:</b>\n{description}\n\n\
                     <b>Промпт:</b>\n<i>{prompt}</i>\n\n"
                )
            });
        }
    }

    let (model, q, s, cost, balance) = (
        v.model,
        v.quality.as_str(),
        v.size.as_str(),
        v.cost,
        v.balance,
    );
    out.push_str(&if en {
        format!(
            "<b>Model:</b> {model}\n<b>Quality:</b> {q}\n<b>Size:</b> {s}\n\n\
             <b>Cost:</b> {cost} 🪙\n<b>Your balance:</b> {balance} 🪙\n"
        )
    } else {
        format!(
            "<b>Модель:</b> {model}\n<b>Качество:</b> {q}\n<b>Формат:</b> {s}\n\n\
             <b>Стоимость:</b> {cost} 🪙\n<b>Ваш баланс:</b> {balance} 🪙\n"
        )
    });

    // The original printed `balance - cost` even when negative; a shortfall is stated instead
    // (the confirm itself is still refused by the ledger).
    match v.balance.checked_sub(v.cost) {
        Some(after) => {
            let label = match (v.kind, en) {
                (ConfirmKind::Edit, false) => "После редактирования",
                (_, false) => "После генерации",
                (ConfirmKind::Edit, true) => "After editing",
                (_, true) => "After generation",
            };
            out.push_str(&format!("<b>{label}:</b> {after} 🪙\n"));
        }
        None => {
            let short = v.cost.get().saturating_sub(v.balance.get());
            out.push_str(&if en {
                format!("❌ You are short of {short} 🪙\n")
            } else {
                format!("❌ Не хватает {short} 🪙\n")
            });
        }
    }

    if v.expensive && v.kind == ConfirmKind::Generate {
        out.push_str(if en {
            "\n⚠️ <b>Note:</b> this is an expensive generation.\n"
        } else {
            "\n⚠️ <b>Внимание:</b> дорогая генерация.\n"
        });
    }

    let question = match (v.kind, en, v.second_step) {
        (ConfirmKind::Generate, false, false) => "Подтвердить генерацию?",
        (ConfirmKind::Generate, false, true) => "Подтвердить генерацию ещё раз?",
        (ConfirmKind::Edit, false, false) => "Подтвердить редактирование?",
        (ConfirmKind::Edit, false, true) => "Подтвердить редактирование ещё раз?",
        (ConfirmKind::Template { .. }, false, false) => "Создать изображение по этому шаблону?",
        (ConfirmKind::Template { .. }, false, true) => {
            "Создать изображение по этому шаблону ещё раз?"
        }
        (ConfirmKind::Generate, true, false) => "Confirm generation?",
        (ConfirmKind::Generate, true, true) => "Please confirm the generation once more.",
        (ConfirmKind::Edit, true, false) => "Confirm editing?",
        (ConfirmKind::Edit, true, true) => "Please confirm the editing once more.",
        (ConfirmKind::Template { .. }, true, false) => "Create an image from this template?",
        (ConfirmKind::Template { .. }, true, true) => {
            "Please confirm once more: create an image from this template?"
        }
    };
    out.push('\n');
    out.push_str(question);
    out
}

pub fn second_confirm_toast(lang: Lang) -> String {
    pick(lang, "Подтвердите ещё раз", "Please confirm once more")
}

pub fn invalid_quality_toast(lang: Lang) -> String {
    pick(lang, "❌ Неверное качество", "❌ Invalid quality")
}

pub fn invalid_size_toast(lang: Lang) -> String {
    pick(lang, "❌ Неверный формат", "❌ Invalid size")
}

pub fn state_error_toast(lang: Lang) -> String {
    pick(lang, "❌ Ошибка состояния", "❌ State error")
}

pub fn session_lost(lang: Lang) -> String {
    pick(
        lang,
        "❌ Ошибка: данные сессии потеряны. Попробуйте снова.",
        "❌ Error: the session data was lost. Please try again.",
    )
}

pub fn insufficient(lang: Lang, required: Tokens, available: Tokens) -> String {
    match lang {
        Lang::Ru => format!(
            "❌ <b>Недостаточно токенов</b>\n\n\
             Требуется: {required} 🪙\n\
             Ваш баланс: {available} 🪙\n\n\
             Пополните баланс в разделе «Купить токены»"
        ),
        Lang::En => format!(
            "❌ <b>Not enough tokens</b>\n\n\
             Required: {required} 🪙\n\
             Your balance: {available} 🪙\n\n\
             Top up your balance in the “Buy tokens” section"
        ),
    }
}

pub fn task_created(
    lang: Lang,
    task_id: TaskId,
    kind: TaskKind,
    template_name: Option<&str>,
) -> String {
    let template_line = template_name.map(|name| match lang {
        Lang::Ru => format!("📝 Шаблон: {}\n", escape(name)),
        Lang::En => format!("📝 Template: {}\n", escape(name)),
    });
    let template_line = template_line.unwrap_or_default();
    match lang {
        Lang::Ru => {
            let doing = match kind {
                TaskKind::Generate => "генерируется",
                TaskKind::Edit => "редактируется",
            };
            format!(
                "✅ <b>Задача создана!</b>\n\n\
                 🆔 ID задачи: <code>{task_id}</code>\n\
                 {template_line}\n\
                 ⏳ Ваше изображение {doing}...\n\
                 Я отправлю результат, когда будет готово.\n\n\
                 Это может занять 10-30 секунд."
            )
        }
        Lang::En => {
            let doing = match kind {
                TaskKind::Generate => "generated",
                TaskKind::Edit => "edited",
            };
            format!(
                "✅ <b>Task created!</b>\n\n\
                 🆔 Task ID: <code>{task_id}</code>\n\
                 {template_line}\n\
                 ⏳ Your image is being {doing}...\n\
                 I will send the result as soon as it is ready.\n\n\
                 This may take 10-30 seconds."
            )
        }
    }
}

pub fn task_started_toast(lang: Lang, kind: TaskKind) -> String {
    match (lang, kind) {
        (Lang::Ru, TaskKind::Generate) => "Генерация запущена! ⏳".into(),
        (Lang::Ru, TaskKind::Edit) => "Редактирование запущено! ⏳".into(),
        (Lang::En, TaskKind::Generate) => "Generation started! ⏳".into(),
        (Lang::En, TaskKind::Edit) => "Editing started! ⏳".into(),
    }
}

/// Cancel on a generate or edit confirmation (a template's cancel shows [`template_cancelled`]).
pub fn cancelled(lang: Lang, kind: TaskKind) -> String {
    match (lang, kind) {
        (Lang::Ru, TaskKind::Generate) => "❌ Генерация отменена.\n\nВыберите действие:".into(),
        (Lang::Ru, TaskKind::Edit) => "❌ Редактирование отменено.\n\nВыберите действие:".into(),
        (Lang::En, TaskKind::Generate) => "❌ Generation cancelled.\n\nChoose an action:".into(),
        (Lang::En, TaskKind::Edit) => "❌ Editing cancelled.\n\nChoose an action:".into(),
    }
}

pub fn cancelled_toast(lang: Lang) -> String {
    pick(lang, "Отменено", "Cancelled")
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

pub fn templates_list(lang: Lang) -> String {
    pick(
        lang,
        "💡 <b>Идеи и тренды</b>\n\n\
         Выберите готовый шаблон для быстрой генерации:\n\n\
         Каждый шаблон содержит оптимизированный промпт для создания качественного изображения.",
        "💡 <b>Ideas and trends</b>\n\n\
         Choose a ready-made template for quick generation:\n\n\
         Each template contains an optimized prompt for creating a high-quality image.",
    )
}

/// Cancel on a template confirmation goes back to the (shorter) list.
pub fn template_cancelled(lang: Lang) -> String {
    pick(
        lang,
        "💡 <b>Идеи и тренды</b>\n\nВыберите готовый шаблон для быстрой генерации:",
        "💡 <b>Ideas and trends</b>\n\nChoose a ready-made template for quick generation:",
    )
}

pub fn template_not_found_toast(lang: Lang) -> String {
    pick(lang, "❌ Шаблон не найден", "❌ Template not found")
}

/// A template disappeared from configuration between its screen and the confirm.
pub fn template_not_found(lang: Lang) -> String {
    pick(lang, "❌ Шаблон не найден.", "❌ Template not found.")
}

// ---------------------------------------------------------------------------------------------
// Model selection
// ---------------------------------------------------------------------------------------------

/// `current_label` from [`model_label`].
pub fn model_screen(lang: Lang, current_label: &str) -> String {
    match lang {
        Lang::Ru => format!(
            "🤖 <b>Выбор модели</b>\n\n\
             Текущая модель: <b>{current_label}</b>\n\n\
             Выберите модель для генерации изображений:"
        ),
        Lang::En => format!(
            "🤖 <b>Choose a model</b>\n\n\
             Current model: <b>{current_label}</b>\n\n\
             Choose the model for generating images:"
        ),
    }
}

/// After a change of model. `name` from [`model_name`] (plain; escaped here), `description` from
/// [`model_description`] (empty: no description line).
pub fn model_info(lang: Lang, name: &str, description: &str) -> String {
    let name = escape(name);
    let description = if description.is_empty() {
        String::new()
    } else {
        format!("\n{}", escape(description))
    };
    match lang {
        Lang::Ru => format!(
            "🤖 <b>Выбор модели</b>\n\n\
             Текущая модель: <b>{name}</b>{description}\n\n\
             <i>Выберите модель для генерации изображений:</i>"
        ),
        Lang::En => format!(
            "🤖 <b>Choose a model</b>\n\n\
             Current model: <b>{name}</b>{description}\n\n\
             <i>Choose the model for generating images:</i>"
        ),
    }
}

/// Plain text; `name` from [`model_name`].
pub fn model_already_selected_toast(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Ru => format!("✅ {name} уже выбрана!"),
        Lang::En => format!("✅ {name} is already selected!"),
    }
}

/// Plain text; `name` from [`model_name`].
pub fn model_selected_toast(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Ru => format!("✅ Модель {name} выбрана!"),
        Lang::En => format!("✅ Model {name} selected!"),
    }
}

// ---------------------------------------------------------------------------------------------
// Profile and history
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileTask<'a> {
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub prompt: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileView<'a> {
    pub balance: Tokens,
    /// From [`model_label`].
    pub model: &'a str,
    pub quality: Quality,
    pub size: ImageSize,
    /// The user's real totals, not counted over the recent list as the original did.
    pub total_tasks: u64,
    pub done_tasks: u64,
    /// Newest first; numbered from 1 in this order.
    pub recent: &'a [ProfileTask<'a>],
}

pub const PROFILE_PROMPT_PREVIEW_CHARS: usize = 30;

pub fn profile(lang: Lang, v: &ProfileView<'_>) -> String {
    let (balance, total, done, model, q, s) = (
        v.balance,
        v.total_tasks,
        v.done_tasks,
        v.model,
        v.quality.as_str(),
        v.size.as_str(),
    );
    let mut out = match lang {
        Lang::Ru => format!(
            "👤 <b>Личный кабинет</b>\n\n\
             <b>Баланс:</b> {balance} 🪙\n\
             <b>Всего генераций:</b> {total}\n\
             <b>Успешных:</b> {done}\n\
             <b>Модель:</b> {model}\n\
             <b>Качество:</b> {q}\n\
             <b>Формат:</b> {s}\n\n"
        ),
        Lang::En => format!(
            "👤 <b>My account</b>\n\n\
             <b>Balance:</b> {balance} 🪙\n\
             <b>Total generations:</b> {total}\n\
             <b>Successful:</b> {done}\n\
             <b>Model:</b> {model}\n\
             <b>Quality:</b> {q}\n\
             <b>Size:</b> {s}\n\n"
        ),
    };
    if v.recent.is_empty() {
        out.push_str(&pick(
            lang,
            "<i>У вас пока нет генераций.</i>\n\n\
             Создайте первое изображение в разделе «Создать картинку»!",
            "<i>You have no generations yet.</i>\n\n\
             Create your first image in the “Create a picture” section!",
        ));
        return out;
    }
    out.push_str(match lang {
        Lang::Ru => "<b>📋 Последние генерации:</b>\n",
        Lang::En => "<b>📋 Recent generations:</b>\n",
    });
    for (i, task) in v.recent.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {}\n   {} | {}\n   <i>{}</i>\n",
            i + 1,
            task_kind_label(lang, task.kind),
            task_status_label(lang, task.status),
            utc_minutes(task.created_at),
            html_preview(task.prompt, PROFILE_PROMPT_PREVIEW_CHARS),
        ));
    }
    out.truncate(out.trim_end().len());
    out
}

pub fn history_bad_id_toast(lang: Lang) -> String {
    pick(
        lang,
        "❌ Ошибка: неверный ID задачи",
        "❌ Error: invalid task ID",
    )
}

pub fn history_not_found(lang: Lang) -> String {
    pick(lang, "❌ Задача не найдена", "❌ Task not found")
}

pub fn history_unavailable(lang: Lang) -> String {
    pick(lang, "❌ Изображение недоступно", "❌ Image unavailable")
}

pub fn history_send_failed_toast(lang: Lang) -> String {
    pick(
        lang,
        "❌ Не удалось загрузить изображение",
        "❌ Could not load the image",
    )
}

pub const CAPTION_PROMPT_PREVIEW_CHARS: usize = 200;

/// The HTML caption of a result sent again from the history.
pub fn history_caption(
    lang: Lang,
    prompt: &str,
    quality: Quality,
    size: ImageSize,
    created_at: DateTime<Utc>,
) -> String {
    let prompt = html_preview(prompt, CAPTION_PROMPT_PREVIEW_CHARS);
    let (q, s, date) = (quality.as_str(), size.as_str(), utc_minutes(created_at));
    match lang {
        Lang::Ru => format!(
            "🖼 <b>Результат</b>\n\n\
             <b>Промпт:</b> <i>{prompt}</i>\n\
             <b>Качество:</b> {q}\n\
             <b>Формат:</b> {s}\n\
             <b>Дата:</b> {date}"
        ),
        Lang::En => format!(
            "🖼 <b>Result</b>\n\n\
             <b>Prompt:</b> <i>{prompt}</i>\n\
             <b>Quality:</b> {q}\n\
             <b>Size:</b> {s}\n\
             <b>Date:</b> {date}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Buying tokens (placeholder, as in the original)
// ---------------------------------------------------------------------------------------------

pub fn buy_tokens(lang: Lang, balance: Tokens) -> String {
    match lang {
        Lang::Ru => format!(
            "💰 <b>Купить токены</b>\n\n\
             Ваш текущий баланс: <b>{balance}</b> 🪙\n\n\
             Пакеты токенов:\n\
             • 50 000 🪙 — 99 ₽\n\
             • 150 000 🪙 — 249 ₽\n\
             • 500 000 🪙 — 699 ₽\n\n\
             🔜 <i>Оплата скоро будет доступна</i>"
        ),
        Lang::En => format!(
            "💰 <b>Buy tokens</b>\n\n\
             Your current balance: <b>{balance}</b> 🪙\n\n\
             Token packages:\n\
             • 50,000 🪙 — 99 ₽\n\
             • 150,000 🪙 — 249 ₽\n\
             • 500,000 🪙 — 699 ₽\n\n\
             🔜 <i>Payments are coming soon</i>"
        ),
    }
}

/// Plain text (an alert).
pub fn payments_coming_soon_alert(lang: Lang) -> String {
    pick(
        lang,
        "💳 Оплата скоро будет доступна!\n\nМы работаем над интеграцией платежей.",
        "💳 Payments are coming soon!\n\nWe are working on the payment integration.",
    )
}

/// Plain text (an alert) for `tokens:buy:<package>`.
pub fn package_coming_soon_alert(lang: Lang, package: &str) -> String {
    match lang {
        Lang::Ru => format!("💳 Покупка пакета «{package}» скоро будет доступна!"),
        Lang::En => format!("💳 Buying the “{package}” package will be available soon!"),
    }
}

// ---------------------------------------------------------------------------------------------
// Worker messages (plain text: the worker sends without a parse mode)
// ---------------------------------------------------------------------------------------------

/// The caption of the delivered document. Plain text, so the prompt is not escaped.
pub fn result_caption(
    lang: Lang,
    kind: TaskKind,
    prompt: &str,
    quality: Quality,
    size: ImageSize,
    charged: Tokens,
) -> String {
    let prompt = preview(prompt, CAPTION_PROMPT_PREVIEW_CHARS);
    let (q, s) = (quality.as_str(), size.as_str());
    match lang {
        Lang::Ru => {
            let done = match kind {
                TaskKind::Generate => "Картинка создана",
                TaskKind::Edit => "Фото отредактировано",
            };
            format!(
                "✅ {done}!\n\n\
                 Промпт: {prompt}\n\n\
                 Качество: {q}\n\
                 Формат: {s}\n\
                 Списано: {charged} 🪙"
            )
        }
        Lang::En => {
            let done = match kind {
                TaskKind::Generate => "Picture created",
                TaskKind::Edit => "Photo edited",
            };
            format!(
                "✅ {done}!\n\n\
                 Prompt: {prompt}\n\n\
                 Quality: {q}\n\
                 Size: {s}\n\
                 Charged: {charged} 🪙"
            )
        }
    }
}

/// Error texts can be long (provider messages); the user needs the gist, not the whole body.
pub const FAILURE_REASON_CHARS: usize = 300;

/// The final failure notice, plain text.
pub fn failure_refunded(lang: Lang, refunded: Tokens, reason: Option<&str>) -> String {
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| preview(r, FAILURE_REASON_CHARS));
    match lang {
        Lang::Ru => {
            let reason = reason
                .map(|r| format!("Причина: {r}\n\n"))
                .unwrap_or_default();
            format!(
                "❌ К сожалению, генерация не удалась.\n\n\
                 Токены ({refunded}) возвращены на ваш баланс.\n\n\
                 {reason}\
                 Попробуйте ещё раз или измените промпт."
            )
        }
        Lang::En => {
            let reason = reason
                .map(|r| format!("Reason: {r}\n\n"))
                .unwrap_or_default();
            format!(
                "❌ Unfortunately, the generation failed.\n\n\
                 The tokens ({refunded}) have been returned to your balance.\n\n\
                 {reason}\
                 Please try again or change the prompt."
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------------------------

pub fn no_access(lang: Lang) -> String {
    pick(
        lang,
        "❌ У вас нет доступа к этой команде.",
        "❌ You do not have access to this command.",
    )
}

pub fn no_access_toast(lang: Lang) -> String {
    pick(lang, "❌ Нет доступа", "❌ No access")
}

pub fn admin_panel(lang: Lang) -> String {
    pick(
        lang,
        "🔐 <b>Админ-панель</b>\n\nВыберите действие:",
        "🔐 <b>Admin panel</b>\n\nChoose an action:",
    )
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminStatsView<'a> {
    pub total_users: u64,
    pub users_today: u64,
    pub active_users_today: u64,
    pub total_tasks: u64,
    pub tasks_today: u64,
    /// Status name and count, in display order.
    pub tasks_by_status: &'a [(String, u64)],
    pub total_tokens_spent: u64,
    pub updated_at: DateTime<Utc>,
}

pub fn admin_stats(lang: Lang, v: &AdminStatsView<'_>) -> String {
    let statuses = if v.tasks_by_status.is_empty() {
        pick(lang, "  Нет данных", "  No data")
    } else {
        v.tasks_by_status
            .iter()
            .map(|(status, count)| format!("  • {}: {count}", escape(status)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let spent = group_thousands(v.total_tokens_spent);
    let updated = v.updated_at.format("%H:%M:%S");
    let AdminStatsView {
        total_users,
        users_today,
        active_users_today,
        total_tasks,
        tasks_today,
        ..
    } = *v;
    match lang {
        Lang::Ru => format!(
            "📊 <b>Статистика бота</b>\n\n\
             <b>Пользователи:</b>\n\
             \x20 • Всего: {total_users}\n\
             \x20 • Новых сегодня: {users_today}\n\
             \x20 • Активных сегодня: {active_users_today}\n\n\
             <b>Задачи:</b>\n\
             \x20 • Всего: {total_tasks}\n\
             \x20 • Сегодня: {tasks_today}\n\n\
             <b>По статусам:</b>\n{statuses}\n\n\
             <b>Токены:</b>\n\
             \x20 • Потрачено всего: {spent} 🪙\n\n\
             <i>Обновлено: {updated} UTC</i>"
        ),
        Lang::En => format!(
            "📊 <b>Bot statistics</b>\n\n\
             <b>Users:</b>\n\
             \x20 • Total: {total_users}\n\
             \x20 • New today: {users_today}\n\
             \x20 • Active today: {active_users_today}\n\n\
             <b>Tasks:</b>\n\
             \x20 • Total: {total_tasks}\n\
             \x20 • Today: {tasks_today}\n\n\
             <b>By status:</b>\n{statuses}\n\n\
             <b>Tokens:</b>\n\
             \x20 • Spent in total: {spent} 🪙\n\n\
             <i>Updated: {updated} UTC</i>"
        ),
    }
}

pub fn stats_refreshed_toast(lang: Lang) -> String {
    pick(lang, "Статистика обновлена", "Statistics updated")
}

/// `users`: display name (already chosen: first name, username or id) and task count, best
/// first.
pub fn top_users(lang: Lang, users: &[(String, u64)]) -> String {
    if users.is_empty() {
        return pick(
            lang,
            "👥 <b>Топ пользователей</b>\n\nНет данных",
            "👥 <b>Top users</b>\n\nNo data",
        );
    }
    let lines = users
        .iter()
        .enumerate()
        .map(|(i, (name, n))| {
            let tasks = match lang {
                Lang::Ru => ru_plural(*n, "задача", "задачи", "задач"),
                Lang::En => en_plural(*n, "task", "tasks"),
            };
            format!("{}. {} — {n} {tasks}", i + 1, escape(name))
        })
        .collect::<Vec<_>>()
        .join("\n");
    match lang {
        Lang::Ru => format!("👥 <b>Топ 10 пользователей</b>\n\n{lines}"),
        Lang::En => format!("👥 <b>Top 10 users</b>\n\n{lines}"),
    }
}

/// `usage`: model id and number of tasks; shown most used first with its share.
pub fn model_usage(lang: Lang, usage: &[(String, u64)]) -> String {
    let title = pick(
        lang,
        "📈 <b>Использование моделей</b>",
        "📈 <b>Model usage</b>",
    );
    let total: u64 = usage.iter().map(|(_, n)| *n).sum();
    if usage.is_empty() || total == 0 {
        let none = pick(lang, "Нет данных", "No data");
        return format!("{title}\n\n{none}");
    }
    let mut sorted: Vec<&(String, u64)> = usage.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let lines = sorted
        .iter()
        .map(|(model, n)| {
            // u128: n * 100 cannot overflow even for absurd counts.
            let pct = u128::from(*n) * 100 / u128::from(total);
            format!("  • {}: {n} ({pct}%)", escape(model))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let total_label = pick(lang, "Всего", "Total");
    format!("{title}\n\n{lines}\n\n{total_label}: {total}")
}

pub fn addtokens_usage(lang: Lang) -> String {
    pick(
        lang,
        "❌ <b>Неверный формат</b>\n\n\
         Использование: <code>/addtokens &lt;telegram_id&gt; &lt;amount&gt;</code>\n\n\
         Пример: <code>/addtokens 123456789 1000</code>",
        "❌ <b>Invalid format</b>\n\n\
         Usage: <code>/addtokens &lt;telegram_id&gt; &lt;amount&gt;</code>\n\n\
         Example: <code>/addtokens 123456789 1000</code>",
    )
}

pub fn addtokens_not_numbers(lang: Lang) -> String {
    pick(
        lang,
        "❌ telegram_id и amount должны быть числами",
        "❌ telegram_id and amount must be numbers",
    )
}

pub fn addtokens_not_positive(lang: Lang) -> String {
    pick(
        lang,
        "❌ Количество токенов должно быть положительным",
        "❌ The number of tokens must be positive",
    )
}

/// New: the configured cap on one grant, so that a typo cannot mint billions.
pub fn addtokens_too_large(lang: Lang, max: Tokens) -> String {
    match lang {
        Lang::Ru => format!("❌ Слишком много токенов за один раз. Максимум: {max} 🪙"),
        Lang::En => format!("❌ Too many tokens at once. Maximum: {max} 🪙"),
    }
}

/// `id` as the admin typed it (parsed as a number, possibly not a valid Telegram id).
pub fn user_not_found_id(lang: Lang, id: i64) -> String {
    match lang {
        Lang::Ru => format!("❌ Пользователь с ID {id} не найден"),
        Lang::En => format!("❌ User with ID {id} not found"),
    }
}

/// `name`: first name, username or id, already chosen by the caller.
pub fn tokens_added(
    lang: Lang,
    name: &str,
    id: TelegramId,
    before: Tokens,
    added: Tokens,
    after: Tokens,
) -> String {
    let name = escape(name);
    match lang {
        Lang::Ru => format!(
            "✅ <b>Токены добавлены</b>\n\n\
             Пользователь: {name}\n\
             Telegram ID: <code>{id}</code>\n\
             Было: {before} 🪙\n\
             Добавлено: +{added} 🪙\n\
             Стало: {after} 🪙"
        ),
        Lang::En => format!(
            "✅ <b>Tokens added</b>\n\n\
             User: {name}\n\
             Telegram ID: <code>{id}</code>\n\
             Before: {before} 🪙\n\
             Added: +{added} 🪙\n\
             Now: {after} 🪙"
        ),
    }
}

pub fn userinfo_usage(lang: Lang) -> String {
    pick(
        lang,
        "❌ <b>Неверный формат</b>\n\n\
         Использование: <code>/userinfo &lt;telegram_id&gt;</code>",
        "❌ <b>Invalid format</b>\n\n\
         Usage: <code>/userinfo &lt;telegram_id&gt;</code>",
    )
}

pub fn userinfo_not_number(lang: Lang) -> String {
    pick(
        lang,
        "❌ telegram_id должен быть числом",
        "❌ telegram_id must be a number",
    )
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfoView<'a> {
    pub telegram_id: TelegramId,
    pub username: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub balance: Tokens,
    /// From [`model_label`].
    pub model: &'a str,
    pub quality: Quality,
    pub size: ImageSize,
    pub tasks_total: u64,
    pub tasks_done: u64,
    pub tasks_failed: u64,
    pub registered_at: DateTime<Utc>,
}

pub fn userinfo(lang: Lang, v: &UserInfoView<'_>) -> String {
    // The original printed "@—" for a user without a username.
    let username = v
        .username
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map_or_else(|| "—".to_string(), |u| format!("@{}", escape(u)));
    let first_name = v
        .first_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| "—".to_string(), escape);
    let (id, balance, model, q, s) = (
        v.telegram_id,
        v.balance,
        v.model,
        v.quality.as_str(),
        v.size.as_str(),
    );
    let (total, done, failed) = (v.tasks_total, v.tasks_done, v.tasks_failed);
    let registered = utc_minutes(v.registered_at);
    match lang {
        Lang::Ru => format!(
            "👤 <b>Информация о пользователе</b>\n\n\
             <b>Telegram ID:</b> <code>{id}</code>\n\
             <b>Username:</b> {username}\n\
             <b>Имя:</b> {first_name}\n\
             <b>Баланс:</b> {balance} 🪙\n\
             <b>Модель:</b> {model}\n\
             <b>Качество:</b> {q}\n\
             <b>Размер:</b> {s}\n\n\
             <b>Задачи:</b>\n\
             \x20 • Всего: {total}\n\
             \x20 • Успешных: {done}\n\
             \x20 • Неудачных: {failed}\n\n\
             <b>Регистрация:</b> {registered}"
        ),
        Lang::En => format!(
            "👤 <b>User information</b>\n\n\
             <b>Telegram ID:</b> <code>{id}</code>\n\
             <b>Username:</b> {username}\n\
             <b>Name:</b> {first_name}\n\
             <b>Balance:</b> {balance} 🪙\n\
             <b>Model:</b> {model}\n\
             <b>Quality:</b> {q}\n\
             <b>Size:</b> {s}\n\n\
             <b>Tasks:</b>\n\
             \x20 • Total: {total}\n\
             \x20 • Successful: {done}\n\
             \x20 • Failed: {failed}\n\n\
             <b>Registered:</b> {registered}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const LANGS: [Lang; 2] = [Lang::Ru, Lang::En];
    const HOSTILE: &str = "<b>x</b> & \"q\" <script>";

    /// Telegram rejects a message whose HTML does not parse; this accepts exactly the tags the
    /// bot uses, properly nested, and only the four entities `escape` writes.
    fn assert_valid_html(text: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = text;
        while let Some(pos) = rest.find(['<', '&', '>']) {
            let tail = &rest[pos..];
            if let Some(after) = tail.strip_prefix('&') {
                let ok = ["&amp;", "&lt;", "&gt;", "&quot;"]
                    .iter()
                    .any(|e| tail.starts_with(e));
                assert!(ok, "stray & in {text:?}");
                rest = after;
                continue;
            }
            assert!(!tail.starts_with('>'), "stray > in {text:?}");
            let end = tail
                .find('>')
                .unwrap_or_else(|| panic!("unclosed < in {text:?}"));
            let tag = &tail[1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "misnested </{name}> in {text:?}");
            } else {
                assert!(
                    matches!(tag, "b" | "i" | "code"),
                    "unexpected <{tag}> in {text:?}"
                );
                open.push(tag);
            }
            rest = &tail[end + 1..];
        }
        assert!(open.is_empty(), "unclosed {open:?} in {text:?}");
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
            .single()
            .expect("a valid date")
    }

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
    fn language_from_telegram_code() {
        assert_eq!(Lang::from_code(Some("en")), Lang::En);
        assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_code(Some("EN_gb")), Lang::En);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("de")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("eng")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("")), Lang::Ru);
        assert_eq!(Lang::from_code(None), Lang::Ru);
    }

    #[test]
    fn escaping_and_char_safe_previews() {
        assert_eq!(escape(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
        assert_eq!(
            preview(&"я".repeat(501), 500),
            format!("{}...", "я".repeat(500))
        );
        assert_eq!(preview(&"я".repeat(500), 500), "я".repeat(500));
        // Cutting before escaping keeps entities whole.
        assert_eq!(html_preview("&&&&", 2), "&amp;&amp;...");
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
        for lang in LANGS {
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
    }

    #[test]
    fn admin_texts() {
        let statuses = [("delivered".to_string(), 3), ("<failed>".to_string(), 1)];
        let v = AdminStatsView {
            total_users: 2,
            users_today: 1,
            active_users_today: 1,
            total_tasks: 4,
            tasks_today: 4,
            tasks_by_status: &statuses,
            total_tokens_spent: 10560,
            updated_at: at(),
        };
        let text = admin_stats(Lang::Ru, &v);
        assert_valid_html(&text);
        assert!(text.contains("<b>По статусам:</b>\n  • delivered: 3\n  • &lt;failed&gt;: 1\n\n"));
        assert!(text.contains("  • Потрачено всего: 10,560 🪙\n\n<i>Обновлено: 03:04:05 UTC</i>"));
        let none = AdminStatsView {
            tasks_by_status: &[],
            ..v
        };
        assert!(admin_stats(Lang::En, &none).contains("<b>By status:</b>\n  No data\n\n"));
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");

        let top = top_users(
            Lang::Ru,
            &[("<Ann>".into(), 21), ("bob".into(), 3), ("42".into(), 5)],
        );
        assert_eq!(
            top,
            "👥 <b>Топ 10 пользователей</b>\n\n1. &lt;Ann&gt; — 21 задача\n2. bob — 3 задачи\n3. 42 — 5 задач"
        );
        assert_eq!(
            top_users(Lang::Ru, &[]),
            "👥 <b>Топ пользователей</b>\n\nНет данных"
        );

        let usage = model_usage(
            Lang::Ru,
            &[("gpt-image-1".into(), 1), ("gpt-image-1.5".into(), 2)],
        );
        assert_eq!(
            usage,
            "📈 <b>Использование моделей</b>\n\n  • gpt-image-1.5: 2 (66%)\n  • gpt-image-1: 1 (33%)\n\nВсего: 3"
        );
        assert_eq!(
            model_usage(Lang::En, &[]),
            "📈 <b>Model usage</b>\n\nNo data"
        );

        let id = TelegramId::new(123).expect("valid");
        let added = tokens_added(
            Lang::Ru,
            "<Ann & Co>",
            id,
            Tokens::from_const(10),
            Tokens::from_const(5),
            Tokens::from_const(15),
        );
        assert_valid_html(&added);
        assert!(added.contains("Пользователь: &lt;Ann &amp; Co&gt;\nTelegram ID: <code>123</code>\nБыло: 10 🪙\nДобавлено: +5 🪙\nСтало: 15 🪙"));

        let info = UserInfoView {
            telegram_id: id,
            username: None,
            first_name: Some("<Ann>"),
            balance: Tokens::from_const(7),
            model: "GPT Image 1 (Standard)",
            quality: Quality::Low,
            size: ImageSize::Portrait,
            tasks_total: 3,
            tasks_done: 2,
            tasks_failed: 1,
            registered_at: at(),
        };
        let text = userinfo(Lang::Ru, &info);
        assert_valid_html(&text);
        assert!(text.contains("<b>Username:</b> —\n<b>Имя:</b> &lt;Ann&gt;\n"));
        assert!(text.ends_with("<b>Регистрация:</b> 02.01.2025 03:04 (UTC)"));
        let named = UserInfoView {
            username: Some("ann_"),
            ..info
        };
        assert!(userinfo(Lang::En, &named).contains("<b>Username:</b> @ann_\n"));
    }

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
    fn plurals() {
        let f = |n| ru_plural(n, "1", "2", "5");
        let got: Vec<&str> = [1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 0]
            .into_iter()
            .map(f)
            .collect();
        assert_eq!(
            got,
            [
                "1", "2", "2", "5", "5", "5", "5", "1", "2", "5", "1", "5", "5"
            ]
        );
        assert!(rate_limited(Lang::Ru, 20).contains("Максимум 20 генераций в час."));
        assert!(rate_limited(Lang::En, 1).contains("At most 1 generation per hour."));
    }

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
        for lang in LANGS {
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
        let info = model_info(
            Lang::Ru,
            "GPT Image 1",
            model_description(Lang::Ru, "gpt-image-1"),
        );
        assert_eq!(
            info,
            "🤖 <b>Выбор модели</b>\n\nТекущая модель: <b>GPT Image 1</b>\n\
             Стандартная модель. Хорошее качество, поддержка генерации и редактирования.\n\n\
             <i>Выберите модель для генерации изображений:</i>"
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

    #[test]
    fn every_html_text_is_well_formed_in_both_languages() {
        let t = Tokens::from_const(1056);
        let id = TaskId::from_uuid(uuid::Uuid::from_u128(7));
        for lang in LANGS {
            let texts = [
                welcome_new(lang, t),
                welcome_back(lang, t),
                main_menu_title(lang),
                help(lang),
                cancel_done(lang),
                cancel_nothing(lang),
                unknown_command(lang),
                error_generic(lang),
                user_not_found(lang),
                rate_limited(lang, 20),
                guide(lang, 10, HOSTILE),
                balance(
                    lang,
                    t,
                    &model_label(lang, "gpt-image-1"),
                    Quality::Medium,
                    ImageSize::Square,
                ),
                generate_ask_prompt(lang),
                prompt_non_text(lang),
                prompt_empty(lang),
                edit_prompt_empty(lang),
                prompt_too_long(lang, 2000),
                edit_ask_image(lang),
                edit_photo_received(lang),
                edit_document_received(lang),
                edit_unsupported_format(lang),
                edit_need_image(lang),
                edit_ask_prompt_error_non_text(lang),
                session_lost(lang),
                insufficient(lang, t, Tokens::ZERO),
                task_created(lang, id, TaskKind::Generate, Some(HOSTILE)),
                cancelled(lang, TaskKind::Generate),
                cancelled(lang, TaskKind::Edit),
                templates_list(lang),
                template_cancelled(lang),
                template_not_found(lang),
                model_screen(lang, &model_label(lang, "gpt-image-1.5")),
                model_info(lang, HOSTILE, HOSTILE),
                history_caption(lang, HOSTILE, Quality::High, ImageSize::Portrait, at()),
                buy_tokens(lang, t),
                no_access(lang),
                admin_panel(lang),
                addtokens_usage(lang),
                addtokens_not_numbers(lang),
                addtokens_not_positive(lang),
                addtokens_too_large(lang, t),
                user_not_found_id(lang, -5),
                userinfo_usage(lang),
                userinfo_not_number(lang),
                top_users(lang, &[(HOSTILE.into(), 1)]),
                model_usage(lang, &[(HOSTILE.into(), 1)]),
            ];
            for text in texts {
                assert!(!text.trim().is_empty());
                assert_eq!(text.trim(), text, "no stray outer whitespace: {text:?}");
                assert_valid_html(&text);
            }
            let toasts = [
                user_not_found_alert(lang),
                stale_button_toast(lang),
                duplicate_request_toast(lang),
                second_confirm_toast(lang),
                invalid_quality_toast(lang),
                invalid_size_toast(lang),
                state_error_toast(lang),
                task_started_toast(lang, TaskKind::Generate),
                task_started_toast(lang, TaskKind::Edit),
                cancelled_toast(lang),
                template_not_found_toast(lang),
                model_already_selected_toast(lang, "GPT Image 1"),
                model_selected_toast(lang, "GPT Image 1"),
                history_bad_id_toast(lang),
                history_not_found(lang),
                history_unavailable(lang),
                history_send_failed_toast(lang),
                payments_coming_soon_alert(lang),
                package_coming_soon_alert(lang, "pack_50k"),
                no_access_toast(lang),
                stats_refreshed_toast(lang),
            ];
            for toast in toasts {
                // Telegram cuts callback answers at 200 characters.
                assert!((1..=200).contains(&toast.chars().count()), "{toast}");
            }
        }
        assert_ne!(help(Lang::Ru), help(Lang::En));
    }
}
