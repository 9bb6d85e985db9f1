-- Open tasks, findable without reading every task ever requested: the worker's sweeper
-- (worker/src/sweeper.rs) and the open-task age gauge look for paid tasks that are not finished.
--
-- The task's status is copied out of the stream head's snapshot into a generated column, and a
-- partial index holds only the heads of open tasks, so it stays as small as the work in hand.
-- A generated column rather than an index over `snapshot->>'status'`: an index whose expression
-- or predicate reads `snapshot` makes every head update that changes the snapshot (every append,
-- accounts included) a non-HOT update; account heads keep a NULL status here, so their updates
-- stay HOT. Like the snapshot, this is a cache: the sweeper re-reads each task through the ledger
-- before acting on it.
ALTER TABLE ledger.streams
    ADD COLUMN task_status text
    GENERATED ALWAYS AS (
        CASE WHEN stream_id LIKE 'task-%' THEN snapshot->>'status' END
    ) STORED;

CREATE INDEX streams_open_tasks ON ledger.streams (stream_id)
    WHERE task_status IN ('pending', 'processing', 'succeeded');
