### The screens that show things: model choice, profile and history, buying tokens.

# $current: the model's label.
model-screen =
    🤖 <b>Выбор модели</b>

    Текущая модель: <b>{ $current }</b>

    Выберите модель для генерации изображений:

# After a change of model; $description: model-info-description or nothing.
model-info =
    🤖 <b>Выбор модели</b>

    Текущая модель: <b>{ $name }</b>{ $description }

    <i>Выберите модель для генерации изображений:</i>
model-info-description =
    {""}
    { $description }

# Plain text.
model-already-selected-toast = ✅ { $name } уже выбрана!
# Plain text.
model-selected-toast = ✅ Модель { $name } выбрана!

## The profile: the head, then either profile-empty or the title and one profile-task each.

profile =
    👤 <b>Личный кабинет</b>

    <b>Баланс:</b> { $balance } 🪙
    <b>Всего генераций:</b> { $total }
    <b>Успешных:</b> { $done }
    <b>Модель:</b> { $model }
    <b>Качество:</b> { $quality }
    <b>Формат:</b> { $size }
profile-empty =
    <i>У вас пока нет генераций.</i>

    Создайте первое изображение в разделе «Создать картинку»!
profile-recent = <b>📋 Последние генерации:</b>
profile-task =
    { $number }. { $kind }
    {"   "}{ $status } | { $date }
    {"   "}<i>{ $prompt }</i>

history-bad-id-toast = ❌ Ошибка: неверный ID задачи
history-not-found = ❌ Задача не найдена
history-unavailable = ❌ Изображение недоступно
history-send-failed-toast = ❌ Не удалось загрузить изображение
# The caption of a result sent again from the history.
history-caption =
    🖼 <b>Результат</b>

    <b>Промпт:</b> <i>{ $prompt }</i>
    <b>Качество:</b> { $quality }
    <b>Формат:</b> { $size }
    <b>Дата:</b> { $date }
