### Buying tokens with Telegram Stars: the buy screen, invoices, pre-checkout answers, receipts,
### refunds and /paysupport.

## The buy screen. $packages: one buy-package-line a line.
buy-tokens =
    💰 <b>Buy tokens</b>

    Your current balance: <b>{ $balance }</b> 🪙

    Token packages (paid in Telegram Stars ⭐):
    { $packages }

    Tap a package to get an invoice. Tokens arrive as soon as you pay.
buy-package-line = • { $tokens } 🪙 — { $stars } ⭐
# A button (plain text).
button-buy-package = { $tokens } 🪙 — { $stars } ⭐

## The invoice (plain text; Telegram limits the title to 32 and the description to 255 characters).
invoice-title = { $tokens } tokens
invoice-description = A package of { $tokens } tokens for generating and editing pictures. The tokens arrive as soon as you pay.
invoice-price-label = { $tokens } tokens
# Plain text (an alert): the package of an old button is no longer sold.
package-unavailable-alert = This package is no longer on sale. Open “Buy tokens” again.

## Pre-checkout refusals (plain text, shown by Telegram in the payment form).
precheckout-expired = This invoice has expired. Open “Buy tokens” and choose a package again.
precheckout-already-paid = This invoice is already paid. No need to pay again: the tokens are on your balance.
precheckout-invalid = This invoice is not valid. Open “Buy tokens” and choose a package again.
precheckout-unavailable = Payments are unavailable for a moment. Please try again in a minute; you have not been charged.

## After a payment (HTML).
payment-receipt =
    ✅ <b>Payment received!</b>

    Added: <b>{ $tokens }</b> 🪙
    Paid: { $stars } ⭐
    Your balance: <b>{ $balance }</b> 🪙

    Payment id: <code>{ $charge }</code>
    Keep it: support needs it for questions about the payment (/paysupport).
payment-returned =
    ↩️ This payment could not be credited (the invoice is already paid or not valid), so your { $stars } ⭐ have been returned.

    Payment id: <code>{ $charge }</code>
payment-stuck =
    ⚠️ Your payment arrived but could not be credited just now. Please write to support (/paysupport) with the payment id: <code>{ $charge }</code>
payment-refunded-notice =
    ↩️ Payment <code>{ $charge }</code> was refunded: { $stars } ⭐ go back to your Telegram account and { $tokens } 🪙 were taken back.
    Your balance: <b>{ $balance }</b> 🪙

## /paysupport (HTML); $support: the support contact.
paysupport =
    💳 <b>Payment support</b>

    If something went wrong with a payment, write to { $support } with the payment id from your receipt (after “Payment id”).

    Stars can be refunded as long as the tokens bought are not spent: the tokens are taken back and the Stars return to your Telegram account.

## /refund <charge_id> for admins (HTML).
refund-usage = Usage: <code>/refund &lt;payment id&gt;</code>
refund-done =
    ✅ Refunded: { $stars } ⭐ to user <code>{ $user }</code>, { $tokens } 🪙 taken back.
    The user's balance: { $balance } 🪙
refund-already =
    ℹ️ This payment was already refunded: { $stars } ⭐ to user <code>{ $user }</code>.
refund-spent =
    ❌ Cannot refund: the purchase gave { $granted } 🪙 but the user's balance is { $balance } 🪙; the tokens are already spent.
refund-not-found = ❌ Payment <code>{ $charge }</code> not found.
refund-telegram-failed =
    ⚠️ The tokens were taken back but Telegram did not return the Stars: { $error }
    Run <code>/refund { $charge }</code> again: a repeat does not take the tokens twice.
