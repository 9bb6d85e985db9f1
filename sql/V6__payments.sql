-- Payments in Telegram Stars (ledger/src/purchase.rs, docs/architecture.md, "Payments").
--
-- A paid purchase is found by Telegram's charge id (refunds by `/refund <charge_id>` and
-- POST /admin/payments/{charge_id}/refund), and the database refuses a second `PurchasePaid`
-- with the same charge id: a second line behind the ledger's idempotency key
-- `payment:<charge id>` and the purchase stream's own rule (one payment per offer).
CREATE UNIQUE INDEX events_purchase_charge
    ON ledger.events ((data->>'telegram_payment_charge_id'))
    WHERE event_type = 'PurchasePaid';

-- One row per purchase offer (projection "purchases", from the purchase streams only): offered,
-- paid, refunded. Revenue and paying users are queries over it.
CREATE TABLE projections.purchases (
    purchase_id        uuid PRIMARY KEY,
    telegram_id        bigint NOT NULL,
    package            text   NOT NULL,
    tokens             bigint NOT NULL CHECK (tokens > 0),
    stars              bigint NOT NULL CHECK (stars > 0),
    status             text   NOT NULL,
    charge_id          text,
    provider_charge_id text,
    offered_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    paid_at            timestamptz,
    refunded_at        timestamptz,
    refund_reason      text
);
CREATE INDEX purchases_by_user ON projections.purchases (telegram_id, offered_at DESC);
CREATE INDEX purchases_paid_at ON projections.purchases (paid_at DESC) WHERE paid_at IS NOT NULL;
CREATE UNIQUE INDEX purchases_charge ON projections.purchases (charge_id)
    WHERE charge_id IS NOT NULL;
