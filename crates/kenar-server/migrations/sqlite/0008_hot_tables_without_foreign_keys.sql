-- Deliveries and attempts are the rows written for every event and every webhook. Their foreign
-- keys cost a lookup in the parent per row written, and guard nothing the store does not
-- already: a delivery is written in the transaction that writes its event, an attempt only for
-- a delivery just read, and apps, events and deliveries are never deleted. SQLite cannot drop
-- a constraint, so both tables are rebuilt (children first, then renamed into place).
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    event_id        BIGINT NOT NULL,
    app_id          BIGINT NOT NULL,
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
INSERT INTO deliveries_new (id, event_id, app_id, event_type, body, status, attempts,
        schedule_step, next_attempt_at, lease_until, lease_owner, last_status, last_error,
        created_at, updated_at)
    SELECT id, event_id, app_id, event_type, body, status, attempts, schedule_step,
        next_attempt_at, lease_until, lease_owner, last_status, last_error, created_at, updated_at
    FROM deliveries;

CREATE TABLE delivery_attempts_new (
    id            INTEGER PRIMARY KEY,
    delivery_id   BIGINT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    latency_ms    BIGINT NOT NULL,
    response_body TEXT,
    error         TEXT
);
INSERT INTO delivery_attempts_new (id, delivery_id, attempted_at, status_code, latency_ms,
        response_body, error)
    SELECT id, delivery_id, attempted_at, status_code, latency_ms, response_body, error
    FROM delivery_attempts;

DROP TABLE delivery_attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE delivery_attempts_new RENAME TO delivery_attempts;

CREATE INDEX deliveries_app ON deliveries (app_id, created_at);
CREATE INDEX deliveries_app_due ON deliveries (app_id, next_attempt_at)
    WHERE status = 'PENDING' AND lease_until IS NULL;
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
