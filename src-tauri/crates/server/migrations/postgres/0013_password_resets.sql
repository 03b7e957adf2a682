-- One-time password reset links an owner or admin made for a member (or the
-- admin CLI, created_by empty): the secret stored only as its SHA-256, for
-- an hour, used once.
CREATE TABLE password_resets (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_by  TEXT REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_resets_user ON password_resets(user_id);
