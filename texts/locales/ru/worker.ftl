### What the worker sends: plain text (it sends without a parse mode), so nothing is escaped.

# The caption of the delivered picture; $kind: generate or edit.
result-caption =
    ✅ { $kind ->
        [edit] Фото отредактировано
       *[other] Картинка создана
    }!

    Промпт: { $prompt }

    Качество: { $quality }
    Формат: { $size }
    Списано: { $charged } 🪙

# The final failure; $reason: failure-reason or nothing.
failure-refunded =
    ❌ К сожалению, генерация не удалась.

    Токены ({ $refunded }) возвращены на ваш баланс.

    { $reason }Попробуйте ещё раз или измените промпт.
failure-reason =
    Причина: { $reason }
    {""}
    {""}

## Why the image service refused, for failure-reason.

refusal-moderation = запрос отклонён системой безопасности OpenAI; измените описание
refusal-invalid-image = исходное изображение не подходит (формат или размер)
refusal-bad-request = сервис генерации отклонил запрос
refusal-configuration = сервис генерации временно недоступен
