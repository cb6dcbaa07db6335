-- relay jobs to redis
-- JOBS_BROKER=redis: when the relay last added the job to the Redis stream.
-- NULL: not relayed since it last became due (new, retried, released), so
-- the relay adds it. A job still pending and unleased a lease after it was
-- relayed is relayed again (its stream entry was lost, e.g. Redis restarted
-- without persistence). Unused with JOBS_BROKER=postgres.
ALTER TABLE jobs ADD COLUMN relayed_at timestamptz;
