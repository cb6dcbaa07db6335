-- Reverts: store trace context with deliveries
ALTER TABLE webhook_deliveries DROP COLUMN traceparent;
