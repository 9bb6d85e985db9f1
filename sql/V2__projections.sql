-- Read models. Everything here is derived from ledger.events and can be rebuilt from it
-- (`tokenbot projections rebuild`); nothing here is a source of truth.
CREATE SCHEMA IF NOT EXISTS projections;

-- Where each projection has got to in the global order. Written in the same transaction as the
-- read-model change it describes, so a crash can never apply an event twice or skip one.
CREATE TABLE projections.checkpoints (
    name       text PRIMARY KEY,
    tx_id      xid8   NOT NULL,
    position   bigint NOT NULL,
    events     bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per Telegram user (projection "users").
CREATE TABLE projections.users (
    telegram_id    bigint PRIMARY KEY,
    username       text,
    first_name     text,
    language_code  text,
    balance        bigint NOT NULL CHECK (balance >= 0),
    model          text,
    quality        text   NOT NULL,
    size           text   NOT NULL,
    -- Tasks requested (one debit each). Done/failed counts come from projections.tasks, so that
    -- this projection needs nothing but the account stream.
    tasks_total    bigint NOT NULL DEFAULT 0,
    tokens_spent   bigint NOT NULL DEFAULT 0,  -- debits minus refunds
    tokens_granted bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    -- Last thing the user did (registration, a task, a settings change); admin grants do not count.
    last_seen_at   timestamptz NOT NULL
);
CREATE INDEX users_created_at ON projections.users (created_at);
CREATE INDEX users_last_seen_at ON projections.users (last_seen_at);
CREATE INDEX users_tasks_total ON projections.users (tasks_total DESC, telegram_id);

-- One row per task (projection "tasks"). Status names follow the original:
-- pending, processing, done, failed (plus succeeded: generated, delivery under way).
CREATE TABLE projections.tasks (
    task_id        uuid PRIMARY KEY,
    telegram_id    bigint NOT NULL,
    kind           text   NOT NULL,
    status         text   NOT NULL,
    prompt         text   NOT NULL,
    model          text   NOT NULL,
    quality        text   NOT NULL,
    size           text   NOT NULL,
    cost           bigint NOT NULL,
    refunded       bigint NOT NULL DEFAULT 0,
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    template_id    text,
    source_file_id text,
    result_file_id text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    finished_at    timestamptz
);
CREATE INDEX tasks_by_user ON projections.tasks (telegram_id, created_at DESC);
CREATE INDEX tasks_by_status ON projections.tasks (status, created_at);
CREATE INDEX tasks_created_at ON projections.tasks (created_at);
CREATE INDEX tasks_by_model ON projections.tasks (model);

-- The relay's place in the global order: advanced only after JetStream acknowledged.
CREATE TABLE ledger.relay_checkpoint (
    name       text PRIMARY KEY,
    tx_id      xid8   NOT NULL,
    position   bigint NOT NULL,
    event_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
