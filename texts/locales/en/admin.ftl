### Admin commands for ADMIN_IDS: /admin, /stats, /addtokens, /userinfo.

no-access = ❌ You do not have access to this command.
no-access-toast = ❌ No access

admin-panel =
    🔐 <b>Admin panel</b>

    Choose an action:

# $statuses: one admin-stats-status a line, or admin-stats-no-statuses; $spent has its
# thousands grouped; $updated is a UTC time of day.
admin-stats =
    📊 <b>Bot statistics</b>

    <b>Users:</b>
    {"  "}• Total: { $total_users }
    {"  "}• New today: { $users_today }
    {"  "}• Active today: { $active_users_today }

    <b>Tasks:</b>
    {"  "}• Total: { $total_tasks }
    {"  "}• Today: { $tasks_today }

    <b>By status:</b>
    { $statuses }

    <b>Payments (Telegram Stars):</b>
    {"  "}• Revenue: { $stars } ⭐ (today: { $stars_today } ⭐)
    {"  "}• Paying users: { $paying_users }

    <b>Tokens:</b>
    {"  "}• Spent in total: { $spent } 🪙

    <i>Updated: { $updated } UTC</i>
admin-stats-status = {"  "}• { $status }: { $count }
admin-stats-no-statuses = {"  "}No data
stats-refreshed-toast = Statistics updated

# $users: one top-users-line a line.
top-users =
    👥 <b>Top 10 users</b>

    { $users }
top-users-line = { $number }. { $name } — { $count } { $count ->
        [one] task
       *[other] tasks
    }
top-users-empty =
    👥 <b>Top users</b>

    No data

# $models: one model-usage-line a line, most used first.
model-usage =
    { model-usage-title }

    { $models }

    Total: { $total }
model-usage-title = 📈 <b>Model usage</b>
model-usage-line = {"  "}• { $model }: { $count } ({ $percent }%)
model-usage-empty =
    { model-usage-title }

    No data

addtokens-usage =
    ❌ <b>Invalid format</b>

    Usage: <code>/addtokens &lt;telegram_id&gt; &lt;amount&gt;</code>

    Example: <code>/addtokens 123456789 1000</code>
addtokens-not-numbers = ❌ telegram_id and amount must be numbers
addtokens-not-positive = ❌ The number of tokens must be positive
# The configured cap on one grant, so that a typo cannot mint billions.
addtokens-too-large = ❌ Too many tokens at once. Maximum: { $max } 🪙
# $id as the admin typed it.
user-not-found-id = ❌ User with ID { $id } not found

tokens-added =
    ✅ <b>Tokens added</b>

    User: { $name }
    Telegram ID: <code>{ $id }</code>
    Before: { $before } 🪙
    Added: +{ $added } 🪙
    Now: { $after } 🪙

userinfo-usage =
    ❌ <b>Invalid format</b>

    Usage: <code>/userinfo &lt;telegram_id&gt;</code>
userinfo-not-number = ❌ telegram_id must be a number

# $username is userinfo-username or userinfo-none; $first_name is the name or userinfo-none.
userinfo =
    👤 <b>User information</b>

    <b>Telegram ID:</b> <code>{ $id }</code>
    <b>Username:</b> { $username }
    <b>Name:</b> { $first_name }
    <b>Balance:</b> { $balance } 🪙
    <b>Model:</b> { $model }
    <b>Quality:</b> { $quality }
    <b>Size:</b> { $size }

    <b>Tasks:</b>
    {"  "}• Total: { $total }
    {"  "}• Successful: { $done }
    {"  "}• Failed: { $failed }

    <b>Registered:</b> { $registered }
userinfo-username = @{ $username }
userinfo-none = —
