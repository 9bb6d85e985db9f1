### Start, the main menu, help, cancel, the guide and the balance; errors any screen can show.

welcome-new =
    🎨 <b>Welcome to AI Image Bot!</b>

    I will help you create unique images with artificial intelligence.

    <b>What I can do:</b>
    • 🎨 Create pictures from a text description
    • ✏️ Edit your photos
    • 💡 Suggest ready-made ideas to generate

    <b>Your balance:</b> { $balance } 🪙

    Choose an action from the menu below:

welcome-back =
    👋 <b>Welcome back!</b>

    <b>Your balance:</b> { $balance } 🪙

    Choose an action from the menu:

main-menu-title =
    🎨 <b>Main menu</b>

    Choose an action:

help =
    ℹ️ <b>Help</b>

    <b>Commands:</b>
    /start — main menu and balance
    /balance — balance and current settings (also /tokens)
    /guide — how to use the bot
    /help — this help
    /cancel — cancel the current action

    Everything else is in the menu buttons: creating and editing pictures, choosing a model, your account, buying tokens and ready-made ideas.

# /cancel while a flow was in progress.
cancel-done =
    ✅ The current action has been cancelled.

    Choose an action from the menu:

# /cancel with nothing in progress.
cancel-nothing =
    There is nothing to cancel right now.

    Choose an action from the menu:

unknown-command =
    🤔 I don't understand this command.

    Choose an action from the menu:

# The original's ERROR_MESSAGE.
error-generic =
    ❌ <b>An error occurred</b>

    Something went wrong. Please try again later.

    If the error persists, please contact support.

user-not-found = ❌ User not found. Use /start
# The alert of the model buttons, which said it without the /start hint.
user-not-found-alert = ❌ User not found
# A button from a screen whose draft is gone (or from the original bot).
stale-button-toast = This button is out of date
# The same update or tap arrived while its first copy was still being handled.
duplicate-request-toast = ⏳ This request is already being processed

rate-limited =
    ⚠️ <b>Request limit exceeded</b>

    At most { $limit } { $limit ->
        [one] generation
       *[other] generations
    } per hour.
    Please try again later.

## The guide. $grant is guide-grant or nothing, $contact is guide-contact or nothing.

guide =
    📖 <b>How to use the bot</b>

    <b>🎨 Creating a picture</b>
    1. Tap “Create a picture” in the menu
    2. Describe the image you want in text
    3. Choose the quality and size on the confirmation screen
    4. Confirm the generation
    5. Wait for the result (10-30 seconds)

    <i>💡 Tip: the more detailed the description, the better the result!</i>

    Examples of good prompts:
    • “Sunset over the mountains, photorealistic style, warm colours”
    • “Portrait of a cat in a pirate costume, digital art”
    • “Futuristic city at night, neon lights, cyberpunk”

    ───────────────────

    <b>✏️ Editing a photo</b>
    1. Tap “Edit a photo” in the menu
    2. Send an image (JPG, PNG or WEBP)
    3. Describe the changes you want
    4. Confirm the edit
    5. Get the result

    <i>💡 Tip: describe specific changes!</i>

    Examples:
    • “Blur the background”
    • “Add sun rays”
    • “Turn it into a watercolour style”

    ───────────────────

    <b>💰 Tokens</b>
    • The cost depends on the image <b>quality</b> and <b>size</b>
    • Default: Medium + Square (1024×1024)
    { $grant }• You can top up your balance in the “Buy tokens” section

    <i>Tokens never expire — use them whenever you like!</i>

    ───────────────────

    <b>💡 Ideas and trends</b>
    Not sure what to create? Have a look at “Ideas and trends” — it has ready-made templates with optimized prompts.{ $contact }

# How many default (medium, square) images the welcome grant buys; shown when it buys any.
guide-grant =
    • When you sign up you get <b>{ $count } { $count ->
        [one] starter generation
       *[other] starter generations
    }</b> (at the default settings)
    {""}

# $support: the support contact, e.g. @support_bot; shown when one is configured.
guide-contact =
    {""}

    ───────────────────

    <b>❓ Any questions?</b>
    Write to us: { $support }

balance =
    👛 <b>Balance</b>

    <b>Tokens:</b> { $balance } 🪙

    <b>Model:</b> { $model }
    <b>Quality:</b> { $quality }
    <b>Size:</b> { $size }
