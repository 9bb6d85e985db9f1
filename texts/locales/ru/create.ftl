### Making a picture: asking for the prompt or the photo, the confirmation screen, the charge.

generate-ask-prompt =
    🎨 <b>Создание картинки</b>

    Опишите, какое изображение вы хотите создать.

    💡 <i>Совет: чем подробнее описание, тем лучше результат!</i>

# Something other than text while a generate prompt is expected.
prompt-non-text = ❌ Пожалуйста, отправьте текстовое описание изображения.
prompt-empty = ❌ Пожалуйста, введите описание изображения.
edit-prompt-empty = ❌ Пожалуйста, опишите желаемые изменения.
prompt-too-long = ❌ Описание слишком длинное. Максимум { $max } символов.

edit-ask-image =
    ✏️ <b>Редактирование фото</b>

    Отправьте изображение, которое хотите отредактировать.

    📎 <i>Поддерживаемые форматы: JPG, PNG, WEBP</i>

edit-photo-received =
    ✅ <b>Фото получено!</b>

    Теперь опишите, какие изменения вы хотите внести.

    💡 <i>Примеры:</i>
    • «Сделай фон размытым»
    • «Добавь закат на заднем плане»
    • «Преврати в мультяшный стиль»

edit-document-received =
    ✅ <b>Изображение получено!</b>

    Теперь опишите, какие изменения вы хотите внести.

edit-unsupported-format =
    ❌ <b>Неподдерживаемый формат</b>

    Пожалуйста, отправьте изображение в одном из форматов:
    • JPG / JPEG
    • PNG
    • WEBP

    Или отправьте фото напрямую (не как файл).

# Anything but a photo or an image document while the image to edit is expected.
edit-need-image =
    ❌ Пожалуйста, отправьте изображение.

    📎 <i>Поддерживаемые форматы: JPG, PNG, WEBP</i>

# Something other than text while the description of an edit is expected.
edit-prompt-non-text = ❌ Пожалуйста, отправьте текстовое описание изменений.

## The confirmation screen: a head, the details, the balance after (or the shortfall), the
## warning for an expensive generation, the question. .again is the question of the second
## confirmation of an expensive task.

confirm-head-generate =
    🎨 <b>Подтверждение генерации</b>

    <b>Ваш промпт:</b>
    <i>{ $prompt }</i>
confirm-head-edit =
    ✏️ <b>Подтверждение редактирования</b>

    <b>Описание изменений:</b>
    <i>{ $prompt }</i>
confirm-head-template =
    💡 <b>{ $name }</b>

    <b>Описание:</b>
    { $description }

    <b>Промпт:</b>
    <i>{ $prompt }</i>

confirm-details =
    <b>Модель:</b> { $model }
    <b>Качество:</b> { $quality }
    <b>Формат:</b> { $size }

    <b>Стоимость:</b> { $cost } 🪙
    <b>Ваш баланс:</b> { $balance } 🪙

# $kind: generate, edit or template.
confirm-balance-after = <b>{ $kind ->
        [edit] После редактирования
       *[other] После генерации
    }:</b> { $after } 🪙
# Instead of a negative balance after (the ledger refuses the charge anyway).
confirm-shortfall = ❌ Не хватает { $short } 🪙
confirm-expensive = ⚠️ <b>Внимание:</b> дорогая генерация.

confirm-question-generate = Подтвердить генерацию?
    .again = Подтвердить генерацию ещё раз?
confirm-question-edit = Подтвердить редактирование?
    .again = Подтвердить редактирование ещё раз?
confirm-question-template = Создать изображение по этому шаблону?
    .again = Создать изображение по этому шаблону ещё раз?

second-confirm-toast = Подтвердите ещё раз
invalid-quality-toast = ❌ Неверное качество
invalid-size-toast = ❌ Неверный формат
state-error-toast = ❌ Ошибка состояния
session-lost = ❌ Ошибка: данные сессии потеряны. Попробуйте снова.

insufficient =
    ❌ <b>Недостаточно токенов</b>

    Требуется: { $required } 🪙
    Ваш баланс: { $available } 🪙

    Пополните баланс в разделе «Купить токены»

# $template: task-created-template or nothing; $kind: generate or edit.
task-created =
    ✅ <b>Задача создана!</b>

    🆔 ID задачи: <code>{ $task_id }</code>
    { $template }
    ⏳ Ваше изображение { $kind ->
        [edit] редактируется
       *[other] генерируется
    }...
    Я отправлю результат, когда будет готово.

    Это может занять 10-30 секунд.
task-created-template =
    📝 Шаблон: { $name }
    {""}

# $kind: generate or edit.
task-started-toast = { $kind ->
        [edit] Редактирование запущено! ⏳
       *[other] Генерация запущена! ⏳
    }

# Cancel on a generate or edit confirmation; $kind: generate or edit.
cancelled =
    { $kind ->
        [edit] ❌ Редактирование отменено.
       *[other] ❌ Генерация отменена.
    }

    Выберите действие:
cancelled-toast = Отменено

## Templates ("Идеи и тренды").

templates-list =
    💡 <b>Идеи и тренды</b>

    Выберите готовый шаблон для быстрой генерации:

    Каждый шаблон содержит оптимизированный промпт для создания качественного изображения.
# Cancel on a template confirmation goes back to the (shorter) list.
template-cancelled =
    💡 <b>Идеи и тренды</b>

    Выберите готовый шаблон для быстрой генерации:
template-not-found-toast = ❌ Шаблон не найден
# A template disappeared from configuration between its screen and the confirm.
template-not-found = ❌ Шаблон не найден.
