-- store trace context with deliveries
-- The W3C traceparent of the request that caused the delivery, when that
-- request was traced: the delivery's client span links back to it. NULL
-- when traces are off or the request was not sampled.
ALTER TABLE webhook_deliveries ADD COLUMN traceparent text;
