-- Claims go app by app: the due deliveries of one app, in order, without walking others'.
CREATE INDEX deliveries_app_due ON deliveries (app_id, next_attempt_at) WHERE status = 'PENDING';

-- When the endpoint was last re-enabled: an attempt made before it says nothing about the
-- endpoint's health now.
ALTER TABLE apps ADD COLUMN webhook_enabled_at BIGINT;
