-- Core schema: apps and keys, users and posts, grants and tokens, subscriptions.
-- Times are milliseconds since the Unix epoch. Lists (permissions, scopes) are space-separated.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id                 INTEGER PRIMARY KEY,
    slug               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    webhook_url        TEXT,
    identification_key TEXT NOT NULL,
    dynamic_action_url TEXT,
    signing_secret     TEXT,
    kind               TEXT NOT NULL CHECK (kind IN ('TEST', 'PRODUCTION')),
    granted_scopes     TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES apps (id),
    lookup      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_app ON api_keys (app_id);

CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);

CREATE TABLE posts (
    token      TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX posts_owner ON posts (owner_id);

-- A grant is one user's consent to one app for a set of scopes; access and refresh tokens
-- descend from it, and revoking it ends them all.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    app_id     BIGINT NOT NULL REFERENCES apps (id),
    user_id    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_app_user ON grants (app_id, user_id);

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY,
    lookup      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    grant_id    BIGINT NOT NULL REFERENCES grants (id),
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);

-- Refresh tokens rotate: using one marks it used and issues a successor in the same grant.
CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    lookup      TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    grant_id    BIGINT NOT NULL REFERENCES grants (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- One row per (app, user, event type, resource); resource '' means all of the user's posts.
-- It lives as long as the access token that last registered it.
CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY,
    app_id          BIGINT NOT NULL REFERENCES apps (id),
    user_id         TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    resource        TEXT NOT NULL,
    metadata        TEXT,
    access_token_id BIGINT NOT NULL REFERENCES access_tokens (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (app_id, user_id, event_type, resource)
);
CREATE INDEX subscriptions_route ON subscriptions (user_id, event_type, resource);
