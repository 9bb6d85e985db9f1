### Admin commands for ADMIN_IDS: /admin, /stats, /addtokens, /userinfo.

no-access = ❌ У вас нет доступа к этой команде.
no-access-toast = ❌ Нет доступа

admin-panel =
    🔐 <b>Админ-панель</b>

    Выберите действие:

# $statuses: one admin-stats-status a line, or admin-stats-no-statuses; $spent has its
# thousands grouped; $updated is a UTC time of day.
admin-stats =
    📊 <b>Статистика бота</b>

    <b>Пользователи:</b>
    {"  "}• Всего: { $total_users }
    {"  "}• Новых сегодня: { $users_today }
    {"  "}• Активных сегодня: { $active_users_today }

    <b>Задачи:</b>
    {"  "}• Всего: { $total_tasks }
    {"  "}• Сегодня: { $tasks_today }

    <b>По статусам:</b>
    { $statuses }

    <b>Оплаты (Telegram Stars):</b>
    {"  "}• Выручка: { $stars } ⭐ (сегодня: { $stars_today } ⭐)
    {"  "}• Платящих пользователей: { $paying_users }

    <b>Токены:</b>
    {"  "}• Потрачено всего: { $spent } 🪙

    <i>Обновлено: { $updated } UTC</i>
admin-stats-status = {"  "}• { $status }: { $count }
admin-stats-no-statuses = {"  "}Нет данных
stats-refreshed-toast = Статистика обновлена

# $users: one top-users-line a line.
top-users =
    👥 <b>Топ 10 пользователей</b>

    { $users }
top-users-line = { $number }. { $name } — { $count } { $count ->
        [one] задача
        [few] задачи
        [many] задач
       *[other] задачи
    }
top-users-empty =
    👥 <b>Топ пользователей</b>

    Нет данных

# $models: one model-usage-line a line, most used first.
model-usage =
    { model-usage-title }

    { $models }

    Всего: { $total }
model-usage-title = 📈 <b>Использование моделей</b>
model-usage-line = {"  "}• { $model }: { $count } ({ $percent }%)
model-usage-empty =
    { model-usage-title }

    Нет данных

addtokens-usage =
    ❌ <b>Неверный формат</b>

    Использование: <code>/addtokens &lt;telegram_id&gt; &lt;amount&gt;</code>

    Пример: <code>/addtokens 123456789 1000</code>
addtokens-not-numbers = ❌ telegram_id и amount должны быть числами
addtokens-not-positive = ❌ Количество токенов должно быть положительным
# The configured cap on one grant, so that a typo cannot mint billions.
addtokens-too-large = ❌ Слишком много токенов за один раз. Максимум: { $max } 🪙
# $id as the admin typed it.
user-not-found-id = ❌ Пользователь с ID { $id } не найден

tokens-added =
    ✅ <b>Токены добавлены</b>

    Пользователь: { $name }
    Telegram ID: <code>{ $id }</code>
    Было: { $before } 🪙
    Добавлено: +{ $added } 🪙
    Стало: { $after } 🪙

userinfo-usage =
    ❌ <b>Неверный формат</b>

    Использование: <code>/userinfo &lt;telegram_id&gt;</code>
userinfo-not-number = ❌ telegram_id должен быть числом

# $username is userinfo-username or userinfo-none; $first_name is the name or userinfo-none.
userinfo =
    👤 <b>Информация о пользователе</b>

    <b>Telegram ID:</b> <code>{ $id }</code>
    <b>Username:</b> { $username }
    <b>Имя:</b> { $first_name }
    <b>Баланс:</b> { $balance } 🪙
    <b>Модель:</b> { $model }
    <b>Качество:</b> { $quality }
    <b>Размер:</b> { $size }

    <b>Задачи:</b>
    {"  "}• Всего: { $total }
    {"  "}• Успешных: { $done }
    {"  "}• Неудачных: { $failed }

    <b>Регистрация:</b> { $registered }
userinfo-username = @{ $username }
userinfo-none = —
