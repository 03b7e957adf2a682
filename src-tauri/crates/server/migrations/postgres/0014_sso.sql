-- Single sign-on through the team's OpenID Connect providers.
--
-- How a browser session was signed in: `password` or `sso` (an org's
-- `sign_in` policy names which may approve devices into it).
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';

-- Which methods may approve devices into the org (comma-separated); NULL:
-- every method.
ALTER TABLE org_policies ADD COLUMN sign_in TEXT;

-- An account's identity at a provider: the provider's id in the server's
-- configuration and the ID token's `sub`, which stays the same when the
-- person's email changes there.
CREATE TABLE sso_identities (
    provider     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id),
    email        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX sso_identities_user ON sso_identities(user_id);

-- A sign-in through a provider under way, for ten minutes, taken once: the
-- SHA-256 of its `state`, the browser it began in (the SHA-256 of its
-- pre-session cookie), the nonce and PKCE verifier the answer must match,
-- where to go after, and the invitation it accepts (the SHA-256 of the
-- link's secret). After the provider answered for an account that exists
-- but is not linked yet, the row waits for the password as proof, with the
-- identity it would link (subject set).
CREATE TABLE sso_attempts (
    id_hash       TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next          TEXT NOT NULL,
    invite_hash   TEXT,
    fresh         BIGINT NOT NULL DEFAULT 0,
    subject       TEXT,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sso_attempts_browser ON sso_attempts(browser_hash);
