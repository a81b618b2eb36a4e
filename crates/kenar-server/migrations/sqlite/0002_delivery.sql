-- The delivery engine: ingested events, one delivery per (event, app), every attempt.

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,
    -- The ingested item as the platform sent it (platform user ids, routing facts).
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- status: PENDING (due at next_attempt_at), SUCCEEDED, FAILED (schedule exhausted).
-- A worker owns a pending delivery while lease_until is in the future; an expired lease makes
-- it claimable again, which is how work survives a crash.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_id        BIGINT NOT NULL REFERENCES events (id),
    app_id          BIGINT NOT NULL REFERENCES apps (id),
    event_type      TEXT NOT NULL,
    -- The webhook body exactly as sent: metadata and per-app user ids already applied.
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- Position in the retry schedule; redelivery resets it without forgetting attempts.
    schedule_step   BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (event_id, app_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX deliveries_app ON deliveries (app_id, created_at);

CREATE TABLE delivery_attempts (
    id            INTEGER PRIMARY KEY,
    delivery_id   BIGINT NOT NULL REFERENCES deliveries (id),
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    latency_ms    BIGINT NOT NULL,
    response_body TEXT,
    error         TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- Endpoint health: failing since when (NULL while healthy), disabled when (NULL while enabled).
ALTER TABLE apps ADD COLUMN webhook_failing_since BIGINT;
ALTER TABLE apps ADD COLUMN webhook_disabled_at BIGINT;
