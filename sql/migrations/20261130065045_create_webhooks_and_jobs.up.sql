-- create webhooks and jobs
--
-- webhooks: the subscriptions. jobs: the generic queue every job kind shares
-- (claim, lease, retry, dead letter). webhook_deliveries: what is specific
-- to a delivery, keyed by its job's id (the webhook-id sent).

-- A UUIDv7 (RFC 9562) from the clock, for ids made inside INSERT … SELECT:
-- PostgreSQL before 18 has no uuidv7(). The random bits of a v4 with the
-- Unix milliseconds laid over the first 48 and the version set to 7.
CREATE FUNCTION uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE TABLE webhooks (
    id          uuid        PRIMARY KEY,
    url         text        NOT NULL CHECK (octet_length(url) BETWEEN 1 AND 2048),
    events      text[]      NOT NULL CHECK (cardinality(events) >= 1),
    description text        CHECK (char_length(description) BETWEEN 1 AND 255),
    is_active   boolean     NOT NULL DEFAULT true,
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The outbox insert finds the active subscriptions of an event type.
CREATE INDEX webhooks_events_idx ON webhooks USING gin (events) WHERE is_active;

CREATE TABLE jobs (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    run_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    locked_by       text,
    locked_until    timestamptz,
    last_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Claiming walks the pending jobs in due order.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state = 'pending';

CREATE TABLE webhook_deliveries (
    id                   uuid    PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    webhook_id           uuid    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type           text    NOT NULL,
    -- The request body, fixed when the event was written: byte-identical on
    -- every attempt (text, not jsonb, which would reorder it).
    body                 text    NOT NULL,
    request_id           text,
    last_response_status integer
);

-- The deliveries of one subscription, newest first.
CREATE INDEX webhook_deliveries_webhook_id_idx ON webhook_deliveries (webhook_id, id DESC);
