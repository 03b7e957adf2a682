-- Browser sessions for the pages. The cookie value is never stored, only its SHA-256.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
