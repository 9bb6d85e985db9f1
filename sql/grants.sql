-- Runtime roles and their rights. Not a numbered migration: `tokenbot migrate` (and every start
-- that migrates) applies this file after the migrations, as the owner, under the migration lock,
-- so the rights are always exactly what this file says, for every table that exists, whichever
-- migration created it. Why a re-applied file rather than ALTER DEFAULT PRIVILEGES, and how the
-- processes connect as these roles: docs/operations.md, "Database roles".
--
-- Rights are granted per schema, so a table a later migration adds gets the rights of its schema
-- without a line here. A new table in `ledger` that the writer must UPDATE or DELETE needs a
-- line below (append-only is the default there).
--
-- tokenbot_writer: what the running system needs, found by reading every query of the code.
-- tokenbot_reader: auditors and read-only admin tools: reads the ledger and the read models.

-- Roles are cluster-wide while this runs per database, possibly in several databases at once:
-- a concurrent creation of the same role surfaces as duplicate_object or unique_violation.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tokenbot_writer', 'tokenbot_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                -- LOGIN without a password: under trust auth (a development machine) it connects
                -- as is; elsewhere `tokenbot migrate` sets DATABASE_WRITER_PASSWORD /
                -- DATABASE_READER_PASSWORD.
                EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO tokenbot_writer, tokenbot_reader',
                   current_database());
END;
$$;

-- Start from nothing, so a right removed from this file is removed from the database too.
REVOKE ALL ON ALL TABLES IN SCHEMA ledger, projections, worker, bot
    FROM tokenbot_writer, tokenbot_reader;
REVOKE ALL ON SCHEMA ledger, projections, worker, bot FROM tokenbot_writer, tokenbot_reader;

GRANT USAGE ON SCHEMA ledger, projections TO tokenbot_writer, tokenbot_reader;
GRANT USAGE ON SCHEMA worker, bot TO tokenbot_writer;

-- ledger: append-only for the writer. events and chain: SELECT, INSERT, nothing else (no
-- UPDATE, DELETE, TRUNCATE; not the owner, so no ALTER TABLE, DISABLE TRIGGER or DROP).
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ledger TO tokenbot_writer;
-- Stream heads and snapshots are rewritten at every append; the relay moves its checkpoint.
GRANT UPDATE ON ledger.streams, ledger.relay_checkpoint TO tokenbot_writer;
-- A claimed key gets its result; a refused command releases its key.
GRANT UPDATE, DELETE ON ledger.idempotency_keys TO tokenbot_writer;

-- projections: rows upserted and checkpoints moved (FOR UPDATE needs UPDATE); a rebuild swaps
-- tables as the owner.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA projections TO tokenbot_writer;

-- worker and bot: the front doors' own state (results kept until delivered, dialogues, handled
-- update ids pruned daily); nothing there is ledger history.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA worker, bot TO tokenbot_writer;

-- The reader reads the ledger and the read models, not the bot's conversations or the images.
GRANT SELECT ON ALL TABLES IN SCHEMA ledger, projections TO tokenbot_reader;

-- Serial columns a later migration may add (identity columns need no grant).
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ledger, projections, worker, bot TO tokenbot_writer;

-- Processes that cannot migrate check that the schema is current.
GRANT SELECT ON public.ledger_schema_history TO tokenbot_writer, tokenbot_reader;
