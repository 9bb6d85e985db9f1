### Buying tokens with Telegram Stars: the buy screen, invoices, pre-checkout answers, receipts,
### refunds and /paysupport.

## The buy screen. $packages: one buy-package-line a line.
buy-tokens =
    💰 <b>Купить токены</b>

    Ваш текущий баланс: <b>{ $balance }</b> 🪙

    Пакеты токенов (оплата в Telegram Stars ⭐):
    { $packages }

    Нажмите на пакет, чтобы получить счёт. Токены зачисляются сразу после оплаты.
buy-package-line = • { $tokens } 🪙 — { $stars } ⭐
# A button (plain text).
button-buy-package = { $tokens } 🪙 — { $stars } ⭐

## The invoice (plain text; Telegram limits the title to 32 and the description to 255 characters).
invoice-title = { $tokens } токенов
invoice-description = Пакет из { $tokens } токенов для генерации и редактирования картинок. Токены зачисляются сразу после оплаты.
invoice-price-label = { $tokens } токенов
# Plain text (an alert): the package of an old button is no longer sold.
package-unavailable-alert = Этого пакета больше нет в продаже. Откройте «Купить токены» заново.

## Pre-checkout refusals (plain text, shown by Telegram in the payment form).
precheckout-expired = Этот счёт устарел. Откройте «Купить токены» и выберите пакет заново.
precheckout-already-paid = Этот счёт уже оплачен. Повторно платить не нужно — токены уже на вашем балансе.
precheckout-invalid = Этот счёт недействителен. Откройте «Купить токены» и выберите пакет заново.
precheckout-unavailable = Оплата временно недоступна. Попробуйте ещё раз через минуту — деньги не списаны.

## After a payment (HTML).
payment-receipt =
    ✅ <b>Оплата получена!</b>

    Начислено: <b>{ $tokens }</b> 🪙
    Оплачено: { $stars } ⭐
    Ваш баланс: <b>{ $balance }</b> 🪙

    Номер платежа: <code>{ $charge }</code>
    Сохраните его: он нужен для вопросов об оплате (/paysupport).
payment-returned =
    ↩️ Этот платёж не удалось зачислить (счёт уже оплачен или недействителен), поэтому { $stars } ⭐ возвращены вам.

    Номер платежа: <code>{ $charge }</code>
payment-stuck =
    ⚠️ Платёж получен, но зачислить его сейчас не удалось. Напишите в поддержку (/paysupport) и укажите номер платежа: <code>{ $charge }</code>
payment-refunded-notice =
    ↩️ Платёж <code>{ $charge }</code> возвращён: { $stars } ⭐ вернутся на ваш счёт Telegram, { $tokens } 🪙 списаны.
    Ваш баланс: <b>{ $balance }</b> 🪙

## /paysupport (HTML); $support: the support contact.
paysupport =
    💳 <b>Поддержка по оплате</b>

    Если с оплатой что-то пошло не так, напишите { $support } и укажите номер платежа из чека (он начинается после «Номер платежа»).

    Возврат Stars возможен, пока купленные токены не потрачены: тогда токены списываются, а Stars возвращаются на ваш счёт Telegram.

## /refund <charge_id> for admins (HTML).
refund-usage = Использование: <code>/refund &lt;номер платежа&gt;</code>
refund-done =
    ✅ Возврат выполнен: { $stars } ⭐ пользователю <code>{ $user }</code>, списано { $tokens } 🪙.
    Баланс пользователя: { $balance } 🪙
refund-already =
    ℹ️ Этот платёж уже возвращён ранее: { $stars } ⭐ пользователю <code>{ $user }</code>.
refund-spent =
    ❌ Возврат невозможен: покупка дала { $granted } 🪙, а на балансе пользователя { $balance } 🪙 — токены уже потрачены.
refund-not-found = ❌ Платёж <code>{ $charge }</code> не найден.
refund-telegram-failed =
    ⚠️ Токены списаны, но Telegram не вернул Stars: { $error }
    Повторите <code>/refund { $charge }</code> — повтор не спишет токены второй раз.
