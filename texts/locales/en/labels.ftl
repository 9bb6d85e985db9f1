### Labels shared by many screens: quality, size, task kinds and statuses, models, templates.
###
### Conventions of every file here: messages are Telegram HTML unless their comment says "plain
### text"; values that come from users or the database arrive already escaped; a line that must
### begin with spaces starts with {"  "}, and a message that must begin or end with a line break
### has a {""} line there (Fluent trims both ends of a message otherwise).

quality-low = Low
quality-medium = Medium
quality-high = High

size-square = Square (1024×1024)
size-portrait = Portrait (1024×1536)
size-landscape = Landscape (1536×1024)

task-kind-generate = 🎨 Generation
task-kind-edit = ✏️ Edit

# "Succeeded" (the image exists but is still being sent) is shown as processing too.
task-status-pending = ⏳ Queued
task-status-processing = 🔄 Processing
task-status-delivered = ✅ Done
task-status-failed = ❌ Failed

## The models the original offered. The message is the short name (toasts, the model page),
## .label the name on buttons and screens, .description the line under it after a change.

model-gpt-image-1 = GPT Image 1
    .label = GPT Image 1 (Standard)
    .description = Standard model. Good quality, supports generation and editing.
model-gpt-image-1_5 = GPT Image 1.5
    .label = GPT Image 1.5 (Improved)
    .description = Improved model. Best quality, supports generation and editing.

## Templates ("Ideas and trends"). The message is the button and the title; .prompt is sent to
## OpenAI as it is and stays English in every language (the prompts were tuned in English).

template-cyberpunk_portrait = 🌆 Cyberpunk portrait
    .description = A futuristic portrait in the style of Cyberpunk 2077
    .prompt = A stunning cyberpunk portrait, neon lights, futuristic city background, high detail, cinematic lighting, 8k quality, digital art style
template-anime_character = 🎌 Anime character
    .description = A character in the style of Japanese animation
    .prompt = Anime style character, vibrant colors, detailed eyes, studio ghibli inspired, beautiful background, high quality illustration
template-oil_painting = 🎨 Oil painting
    .description = A classic oil painting
    .prompt = Classical oil painting style, rich colors, visible brush strokes, museum quality, renaissance inspired, dramatic lighting

# Profile and history dates: stored and shown in UTC, with the zone named.
date-utc = { $date } (UTC)
