-- State of the front doors that is not ledger history: nothing here moves a token, and the
-- ledger never reads it.

CREATE SCHEMA IF NOT EXISTS worker;

-- A generated image between TaskSucceeded and TaskDelivered. Written before TaskSucceeded is
-- appended, so any worker can finish a delivery its predecessor started (the original lost the
-- picture, and billed OpenAI again, whenever sending failed). Deleted once TaskDelivered is in.
CREATE TABLE worker.results (
    task_id    uuid PRIMARY KEY,
    attempt    integer NOT NULL CHECK (attempt > 0),
    png        bytea   NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE SCHEMA IF NOT EXISTS bot;

-- Each chat's place in a conversation (teloxide dialogue storage), so that a restart in the
-- middle of a flow loses nothing (the original kept it in memory).
CREATE TABLE bot.dialogues (
    chat_id    bigint PRIMARY KEY,
    dialogue   jsonb  NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Updates whose handling finished: Telegram redelivers an update when it did not see our answer,
-- and a redelivered update must have no second effect. Update ids are per bot, hence the bot id
-- (the number before the colon of BOT_TOKEN). Rows older than a day are pruned (Telegram gives up
-- on an update long before that).
CREATE TABLE bot.handled_updates (
    bot_id     bigint NOT NULL,
    update_id  bigint NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX handled_updates_by_time ON bot.handled_updates (handled_at);
