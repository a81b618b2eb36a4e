-- A claim takes an app's due deliveries in (next_attempt_at, id) order. Without id in the
-- index PostgreSQL reads and sorts every due delivery of the app to return the first few
-- (33 ms with 40,000 due, measured); with it the LIMIT stops the index scan.
DROP INDEX deliveries_app_due;
CREATE INDEX deliveries_app_due ON deliveries (app_id, next_attempt_at, id) WHERE status = 'PENDING';
