-- The event store: the single source of truth of tokenbot.
-- Everything else (projections, balances shown to users, stats) is derived from ledger.events.
CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.events (
    -- Identity, not a dense counter: sequence values commit out of order, so readers follow
    -- (tx_id, position) below the oldest running transaction instead (see global_order.rs).
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    schema_version  smallint    NOT NULL CHECK (schema_version >= 1),
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (stream_id, stream_version),
    -- Second line of defence behind the domain rule: no money event may leave a balance below zero.
    CONSTRAINT balance_never_negative
        CHECK (NOT (data ? 'balance_after') OR (data->>'balance_after')::numeric >= 0)
);

CREATE INDEX events_global_order ON ledger.events (tx_id, position);

-- Append-only is a property of the database, not a convention of the code.
CREATE FUNCTION ledger.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON ledger.events
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON ledger.events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();
REVOKE UPDATE, DELETE, TRUNCATE ON ledger.events FROM PUBLIC;

-- Stream heads: the row a writer locks to serialize appends to one stream, plus a snapshot of the
-- aggregate at that version so that deciding a command does not refold a long stream.
-- The snapshot is a cache: `ledger verify` recomputes it from the events and reports any drift.
CREATE TABLE ledger.streams (
    stream_id        text   PRIMARY KEY,
    version          bigint NOT NULL CHECK (version >= 1),
    snapshot         jsonb,
    snapshot_version integer
);

-- Idempotency: a command key, the fingerprint of the command it was first used with, and the
-- result handed back to every repeat.
CREATE TABLE ledger.idempotency_keys (
    key          text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    fingerprint  bytea       NOT NULL,
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The hash chain over the global order, sealed after commit by one sealer at a time.
-- seq is dense (1, 2, 3, ...) in global order; hash = sha256(previous hash || canonical event bytes).
CREATE TABLE ledger.chain (
    seq       bigint PRIMARY KEY CHECK (seq >= 1),
    position  bigint NOT NULL UNIQUE,
    tx_id     xid8   NOT NULL,
    hash      bytea  NOT NULL CHECK (length(hash) = 32),
    sealed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER chain_append_only
    BEFORE UPDATE OR DELETE ON ledger.chain
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
CREATE TRIGGER chain_no_truncate
    BEFORE TRUNCATE ON ledger.chain
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();
REVOKE UPDATE, DELETE, TRUNCATE ON ledger.chain FROM PUBLIC;
