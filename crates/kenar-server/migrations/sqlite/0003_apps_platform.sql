-- Send-event feeds, OAuth (redirect URIs, client secrets, sessions, codes), rate limits.

ALTER TABLE apps ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN client_secret_hash TEXT;
-- NULL: the server's default.
ALTER TABLE apps ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE apps ADD COLUMN daily_quota BIGINT;

-- Fixed-window request counters, shared by every server process: kind 'minute' or 'day'.
CREATE TABLE rate_counters (
    app_id       BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (app_id, kind, window_start)
);

-- Events apps send to users (contract 1.2), as a Divar client shows them (contract 3.4).
CREATE TABLE feed_events (
    id          INTEGER PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES apps (id),
    -- The platform id of the user the event is for (the token's user).
    user_id     TEXT NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('USER', 'POST')),
    post_token  TEXT,
    message     TEXT NOT NULL,
    -- The buttons' items as JSON, or NULL.
    buttons     TEXT,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT
);
CREATE INDEX feed_events_user ON feed_events (user_id, id);
CREATE INDEX feed_events_post ON feed_events (post_token, id);

-- Signed-in users of the built-in authorization server (the dev login).
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    lookup      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Authorization codes: single use, short-lived, bound to client, redirect URI and PKCE.
CREATE TABLE authorization_codes (
    id             INTEGER PRIMARY KEY,
    lookup         TEXT NOT NULL UNIQUE,
    secret_hash    TEXT NOT NULL,
    app_id         BIGINT NOT NULL REFERENCES apps (id),
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    code_challenge TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    -- The grant the code was exchanged for; a second use revokes it.
    grant_id       BIGINT
);
