-- Reverts: create webhooks and jobs
DROP TABLE webhook_deliveries;
DROP TABLE jobs;
DROP TABLE webhooks;
DROP FUNCTION uuid_v7();
