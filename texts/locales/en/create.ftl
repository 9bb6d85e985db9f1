### Making a picture: asking for the prompt or the photo, the confirmation screen, the charge.

generate-ask-prompt =
    🎨 <b>Create a picture</b>

    Describe the image you want to create.

    💡 <i>Tip: the more detailed the description, the better the result!</i>

# Something other than text while a generate prompt is expected.
prompt-non-text = ❌ Please send a text description of the image.
prompt-empty = ❌ Please enter a description of the image.
edit-prompt-empty = ❌ Please describe the changes you want.
prompt-too-long = ❌ The description is too long. Maximum { $max } characters.

edit-ask-image =
    ✏️ <b>Edit a photo</b>

    Send the image you want to edit.

    📎 <i>Supported formats: JPG, PNG, WEBP</i>

edit-photo-received =
    ✅ <b>Photo received!</b>

    Now describe the changes you want to make.

    💡 <i>Examples:</i>
    • “Blur the background”
    • “Add a sunset in the background”
    • “Turn it into a cartoon style”

edit-document-received =
    ✅ <b>Image received!</b>

    Now describe the changes you want to make.

edit-unsupported-format =
    ❌ <b>Unsupported format</b>

    Please send an image in one of these formats:
    • JPG / JPEG
    • PNG
    • WEBP

    Or send it as a photo (not as a file).

# Anything but a photo or an image document while the image to edit is expected.
edit-need-image =
    ❌ Please send an image.

    📎 <i>Supported formats: JPG, PNG, WEBP</i>

# Something other than text while the description of an edit is expected.
edit-prompt-non-text = ❌ Please send a text description of the changes.

## The confirmation screen: a head, the details, the balance after (or the shortfall), the
## warning for an expensive generation, the question. .again is the question of the second
## confirmation of an expensive task.

confirm-head-generate =
    🎨 <b>Confirm generation</b>

    <b>Your prompt:</b>
    <i>{ $prompt }</i>
confirm-head-edit =
    ✏️ <b>Confirm editing</b>

    <b>Requested changes:</b>
    <i>{ $prompt }</i>
confirm-head-template =
    💡 <b>{ $name }</b>

    <b>Description:</b>
    { $description }

    <b>Prompt:</b>
    <i>{ $prompt }</i>

confirm-details =
    <b>Model:</b> { $model }
    <b>Quality:</b> { $quality }
    <b>Size:</b> { $size }

    <b>Cost:</b> { $cost } 🪙
    <b>Your balance:</b> { $balance } 🪙

# $kind: generate, edit or template.
confirm-balance-after = <b>{ $kind ->
        [edit] After editing
       *[other] After generation
    }:</b> { $after } 🪙
# Instead of a negative balance after (the ledger refuses the charge anyway).
confirm-shortfall = ❌ You are short of { $short } 🪙
confirm-expensive = ⚠️ <b>Note:</b> this is an expensive generation.

confirm-question-generate = Confirm generation?
    .again = Please confirm the generation once more.
confirm-question-edit = Confirm editing?
    .again = Please confirm the editing once more.
confirm-question-template = Create an image from this template?
    .again = Please confirm once more: create an image from this template?

second-confirm-toast = Please confirm once more
invalid-quality-toast = ❌ Invalid quality
invalid-size-toast = ❌ Invalid size
state-error-toast = ❌ State error
session-lost = ❌ Error: the session data was lost. Please try again.

insufficient =
    ❌ <b>Not enough tokens</b>

    Required: { $required } 🪙
    Your balance: { $available } 🪙

    Top up your balance in the “Buy tokens” section

# $template: task-created-template or nothing; $kind: generate or edit.
task-created =
    ✅ <b>Task created!</b>

    🆔 Task ID: <code>{ $task_id }</code>
    { $template }
    ⏳ Your image is being { $kind ->
        [edit] edited
       *[other] generated
    }...
    I will send the result as soon as it is ready.

    This may take 10-30 seconds.
task-created-template =
    📝 Template: { $name }
    {""}

# $kind: generate or edit.
task-started-toast = { $kind ->
        [edit] Editing started! ⏳
       *[other] Generation started! ⏳
    }

# Cancel on a generate or edit confirmation; $kind: generate or edit.
cancelled =
    { $kind ->
        [edit] ❌ Editing cancelled.
       *[other] ❌ Generation cancelled.
    }

    Choose an action:
cancelled-toast = Cancelled

## Templates ("Ideas and trends").

templates-list =
    💡 <b>Ideas and trends</b>

    Choose a ready-made template for quick generation:

    Each template contains an optimized prompt for creating a high-quality image.
# Cancel on a template confirmation goes back to the (shorter) list.
template-cancelled =
    💡 <b>Ideas and trends</b>

    Choose a ready-made template for quick generation:
template-not-found-toast = ❌ Template not found
# A template disappeared from configuration between its screen and the confirm.
template-not-found = ❌ Template not found.
