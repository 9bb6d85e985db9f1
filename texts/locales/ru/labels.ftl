### Labels shared by many screens: quality, size, task kinds and statuses, models, templates.
###
### Conventions of every file here: messages are Telegram HTML unless their comment says "plain
### text"; values that come from users or the database arrive already escaped; a line that must
### begin with spaces starts with {"  "}, and a message that must begin or end with a line break
### has a {""} line there (Fluent trims both ends of a message otherwise).

## The original used the same English quality and size labels in its Russian UI.

quality-low = Low
quality-medium = Medium
quality-high = High

size-square = Square (1024×1024)
size-portrait = Portrait (1024×1536)
size-landscape = Landscape (1536×1024)

task-kind-generate = 🎨 Генерация
task-kind-edit = ✏️ Редактирование

# "Succeeded" (the image exists but is still being sent) is shown as processing too.
task-status-pending = ⏳ В очереди
task-status-processing = 🔄 Обработка
task-status-delivered = ✅ Готово
task-status-failed = ❌ Ошибка

## The models the original offered. The message is the short name (toasts, the model page),
## .label the name on buttons and screens, .description the line under it after a change.

model-gpt-image-1 = GPT Image 1
    .label = GPT Image 1 (Стандартная)
    .description = Стандартная модель. Хорошее качество, поддержка генерации и редактирования.
model-gpt-image-1_5 = GPT Image 1.5
    .label = GPT Image 1.5 (Улучшенная)
    .description = Улучшенная модель. Лучшее качество, поддержка генерации и редактирования.

## Templates ("Идеи и тренды"). The message is the button and the title; .prompt is sent to
## OpenAI as it is and stays English in every language (the prompts were tuned in English).

template-cyberpunk_portrait = 🌆 Киберпанк портрет
    .description = Футуристический портрет в стиле Cyberpunk 2077
    .prompt = A stunning cyberpunk portrait, neon lights, futuristic city background, high detail, cinematic lighting, 8k quality, digital art style
template-anime_character = 🎌 Аниме персонаж
    .description = Персонаж в стиле японской анимации
    .prompt = Anime style character, vibrant colors, detailed eyes, studio ghibli inspired, beautiful background, high quality illustration
template-oil_painting = 🎨 Масляная живопись
    .description = Классическая картина маслом
    .prompt = Classical oil painting style, rich colors, visible brush strokes, museum quality, renaissance inspired, dramatic lighting

# Profile and history dates: stored and shown in UTC, with the zone named.
date-utc = { $date } (UTC)
