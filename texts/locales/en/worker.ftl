### What the worker sends: plain text (it sends without a parse mode), so nothing is escaped.

# The caption of the delivered picture; $kind: generate or edit.
result-caption =
    ✅ { $kind ->
        [edit] Photo edited
       *[other] Picture created
    }!

    Prompt: { $prompt }

    Quality: { $quality }
    Size: { $size }
    Charged: { $charged } 🪙

# The final failure; $reason: failure-reason or nothing.
failure-refunded =
    ❌ Unfortunately, the generation failed.

    The tokens ({ $refunded }) have been returned to your balance.

    { $reason }Please try again or change the prompt.
failure-reason =
    Reason: { $reason }
    {""}
    {""}

## Why the image service refused, for failure-reason.

refusal-moderation = OpenAI's safety system rejected the request; try a different description
refusal-invalid-image = the source image cannot be used (format or size)
refusal-bad-request = the image service rejected the request
refusal-configuration = the image service is not available right now
