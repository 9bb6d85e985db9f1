-- Long polling's inbox: updates the bot confirmed to Telegram before it had handled them.
--
-- getUpdates answers at most 100 updates from the offset, and the offset confirms every update
-- below it, so an update still being handled (a chat whose replies are slow, or waiting on
-- Telegram's per-chat limit) would otherwise hold back every newer update of every chat. When
-- that lasts (bot/src/polling.rs), the updates in hand are written here, then confirmed; a
-- restarted bot handles what is left here before it polls. A row goes once its update is
-- handled (`bot.handled_updates` makes a second handling a no-op should it come back anyway).
CREATE TABLE bot.inbox (
    bot_id    bigint NOT NULL,
    update_id bigint NOT NULL,
    payload   jsonb  NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (bot_id, update_id)
);
