-- Passkeys (WebAuthn): an account's registered credentials, and the
-- ceremonies under way.
--
-- A passkey: its credential id (hex), the name its owner gave it, and
-- the credential as webauthn-rs keeps it (public key and signature counter,
-- JSON; nothing secret).
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- A registration or sign-in under way, for five minutes, taken once: the
-- SHA-256 of the id the browser holds, the browser it began in (the SHA-256
-- of its pre-session cookie), whose passkey it registers and under which
-- name, where to go after, and the challenge state (JSON).
CREATE TABLE passkey_ceremonies (
    id_hash      TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    kind         TEXT NOT NULL,
    user_id      TEXT,
    name         TEXT,
    next         TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
