//! Telegram Stars payments as the Bot API shows them to a bot: `sendInvoice` (currency `XTR`,
//! no provider token, one price), a payment played by the test (a `pre_checkout_query` update;
//! after an `answerPreCheckoutQuery` with `ok=true`, the `successful_payment` message; after
//! `ok=false`, nothing), and `refundStarPayment`.

use serde_json::json;

use crate::messages;
use crate::payment_records::{Invoice, Payment, PreCheckoutAnswer};
use crate::request::Request;
use crate::state::Inner;
use crate::updates::Update;
use crate::wire::{ApiError, Reply};

pub(crate) fn send_invoice(inner: &mut Inner, req: &Request) -> Reply {
    let chat_id = messages::target_chat(inner, req)?;
    let text = |key: &str, max: usize| -> Result<String, ApiError> {
        let v = req.str(key).unwrap_or_default();
        if v.is_empty() || v.chars().count() > max {
            return Err(ApiError::bad_request(format!(
                "{} is invalid",
                key.to_uppercase()
            )));
        }
        Ok(v.to_owned())
    };
    let title = text("title", 32)?;
    let description = text("description", 255)?;
    let payload = req.str("payload").unwrap_or_default().to_owned();
    if payload.is_empty() || payload.len() > 128 {
        return Err(ApiError::bad_request("PAYLOAD_INVALID"));
    }
    let currency = req.str("currency").unwrap_or_default().to_owned();
    if currency != "XTR" {
        return Err(ApiError::bad_request(
            "CURRENCY_INVALID: the fake sells in Stars only",
        ));
    }
    if req.str("provider_token").is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_request(
            "STARS_INVOICE_INVALID: provider_token must be empty",
        ));
    }
    let prices = req
        .json("prices")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let [price] = &prices[..] else {
        return Err(ApiError::bad_request(
            "STARS_INVOICE_INVALID: exactly one price",
        ));
    };
    let total_amount = price["amount"]
        .as_u64()
        .and_then(|a| u32::try_from(a).ok())
        .filter(|a| (1..=10_000).contains(a))
        .ok_or_else(|| ApiError::bad_request("STARS_INVOICE_INVALID: amount 1..10000"))?;
    let mut message = inner.new_bot_message(chat_id);
    message["invoice"] = json!({
        "title": title,
        "description": description,
        "start_parameter": "",
        "currency": currency,
        "total_amount": total_amount,
    });
    inner.store_message(chat_id, &message);
    inner.payments.invoices.push(Invoice {
        chat_id,
        message_id: message["message_id"].as_i64().unwrap_or_default(),
        title,
        description,
        payload,
        currency,
        total_amount,
    });
    Ok(message)
}

pub(crate) fn answer_pre_checkout(inner: &mut Inner, req: &Request) -> Reply {
    let id = req.str("pre_checkout_query_id").unwrap_or_default();
    let ok = req.bool("ok");
    let error_message = req.str("error_message").map(str::to_owned);
    if !ok && error_message.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("ERROR_MESSAGE_EMPTY"));
    }
    let Some(query) = inner.payments.queries.get_mut(id) else {
        return Err(ApiError::bad_request("QUERY_ID_INVALID"));
    };
    if query.answer.is_some() {
        return Err(ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    query.answer = Some(PreCheckoutAnswer { ok, error_message });
    if ok {
        let (user, payload, currency, total_amount) = (
            query.user.clone(),
            query.payload.clone(),
            query.currency.clone(),
            query.total_amount,
        );
        inner.payments.seq += 1;
        let charge_id = format!("stxFake{:010}{}", inner.payments.seq, user.id);
        let content = json!({
            "successful_payment": {
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }
        });
        let body = inner.deliver(&Update::message_of(&user, content));
        inner.payments.payments.push(Payment {
            user_id: user.id,
            charge_id,
            payload,
            total_amount,
            refunded: false,
            message: body["message"].clone(),
        });
        inner.queue.push_back(body);
    }
    Ok(json!(true))
}

pub(crate) fn refund_star_payment(inner: &mut Inner, req: &Request) -> Reply {
    let user_id = req.i64("user_id").unwrap_or_default();
    let charge = req.str("telegram_payment_charge_id").unwrap_or_default();
    let Some(payment) = inner
        .payments
        .payments
        .iter_mut()
        .find(|p| p.charge_id == charge && p.user_id == user_id)
    else {
        return Err(ApiError::bad_request("CHARGE_NOT_FOUND"));
    };
    if payment.refunded {
        return Err(ApiError::bad_request("CHARGE_ALREADY_REFUNDED"));
    }
    payment.refunded = true;
    Ok(json!(true))
}
