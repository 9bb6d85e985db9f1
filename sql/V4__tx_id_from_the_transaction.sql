-- The global order is (tx_id, position), and readers follow it below the oldest running
-- transaction. With tx_id a plain DEFAULT, a writer could choose a small tx_id: its row would land
-- behind every reader's cursor and never be published, projected or sealed. The id of the
-- transaction that writes the row is a fact about the write, not a value the writer supplies.
CREATE FUNCTION ledger.stamp_tx_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tx_id := pg_current_xact_id();
    RETURN NEW;
END;
$$;

CREATE TRIGGER events_tx_id
    BEFORE INSERT ON ledger.events
    FOR EACH ROW EXECUTE FUNCTION ledger.stamp_tx_id();
