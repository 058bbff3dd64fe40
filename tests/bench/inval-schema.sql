-- SPDX-License-Identifier: MIT
-- The invalidation benchmark's addition to fetch-schema.sql (both are
-- loaded by tests/bench/run-invalidation.sh): every UPDATE of an item
-- notifies the broker, which LISTENs on cb_bench and applies the event
-- like EventService/Publish (its [event items.updated] rule invalidates
-- bench:item:{id}). The notification is sent when the transaction commits.

CREATE FUNCTION bench.items_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('cb_bench', json_build_object(
        'event', 'items.updated',
        'params', json_build_object('id', NEW.id))::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER items_notify AFTER UPDATE ON bench.items
    FOR EACH ROW EXECUTE FUNCTION bench.items_notify();
