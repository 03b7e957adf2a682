-- devauth schema (SQLite). Times are Unix seconds; secrets are stored only as SHA-256 hex.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT,
    disabled_at   INTEGER,
    created_at    INTEGER NOT NULL
);

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE tokens (
    id             TEXT PRIMARY KEY,
    hash           TEXT NOT NULL UNIQUE,
    hint           TEXT NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('device', 'personal', 'service')),
    user_id        TEXT REFERENCES users(id),
    org_id         TEXT NOT NULL REFERENCES orgs(id),
    scopes         TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    last_used_at   INTEGER,
    last_used_ip   TEXT,
    revoked_at     INTEGER,
    revoked_by     TEXT,
    revoked_reason TEXT
);
CREATE INDEX tokens_user ON tokens(user_id, org_id);
CREATE INDEX tokens_org ON tokens(org_id);

CREATE TABLE token_ips (
    token_id   TEXT NOT NULL REFERENCES tokens(id),
    ip         TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (token_id, ip)
);

CREATE TABLE device_authorizations (
    id               TEXT PRIMARY KEY,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code_hash   TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    device_name      TEXT,
    requester_ip     TEXT,
    user_agent       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'redeemed')),
    interval_secs    INTEGER NOT NULL,
    last_poll_at     INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    approved_by      TEXT REFERENCES users(id),
    org_id           TEXT REFERENCES orgs(id),
    decided_at       INTEGER,
    redeemed_at      INTEGER,
    token_id         TEXT REFERENCES tokens(id)
);
CREATE INDEX device_authorizations_user_code ON device_authorizations(user_code_hash, created_at);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    org_id     TEXT,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_org ON audit_events(org_id, id);

CREATE TABLE setup_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    claimed_at INTEGER,
    claimed_by TEXT
);
INSERT INTO setup_state (id) VALUES (1);
