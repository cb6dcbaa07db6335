-- Reverts: relay jobs to redis
ALTER TABLE jobs DROP COLUMN relayed_at;
