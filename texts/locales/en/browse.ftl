### The screens that show things: model choice, profile and history, buying tokens.

# $current: the model's label.
model-screen =
    🤖 <b>Choose a model</b>

    Current model: <b>{ $current }</b>

    Choose the model for generating images:

# After a change of model; $description: model-info-description or nothing.
model-info =
    🤖 <b>Choose a model</b>

    Current model: <b>{ $name }</b>{ $description }

    <i>Choose the model for generating images:</i>
model-info-description =
    {""}
    { $description }

# Plain text.
model-already-selected-toast = ✅ { $name } is already selected!
# Plain text.
model-selected-toast = ✅ Model { $name } selected!

## The profile: the head, then either profile-empty or the title and one profile-task each.

profile =
    👤 <b>My account</b>

    <b>Balance:</b> { $balance } 🪙
    <b>Total generations:</b> { $total }
    <b>Successful:</b> { $done }
    <b>Model:</b> { $model }
    <b>Quality:</b> { $quality }
    <b>Size:</b> { $size }
profile-empty =
    <i>You have no generations yet.</i>

    Create your first image in the “Create a picture” section!
profile-recent = <b>📋 Recent generations:</b>
profile-task =
    { $number }. { $kind }
    {"   "}{ $status } | { $date }
    {"   "}<i>{ $prompt }</i>

history-bad-id-toast = ❌ Error: invalid task ID
history-not-found = ❌ Task not found
history-unavailable = ❌ Image unavailable
history-send-failed-toast = ❌ Could not load the image
# The caption of a result sent again from the history.
history-caption =
    🖼 <b>Result</b>

    <b>Prompt:</b> <i>{ $prompt }</i>
    <b>Quality:</b> { $quality }
    <b>Size:</b> { $size }
    <b>Date:</b> { $date }
