-- Invitations to join an org: the link's secret is stored only as its
-- SHA-256; an invitation is used once, withdrawn, or expires. `invited_by`
-- is empty for one made with the admin CLI.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    invited_by   TEXT REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT REFERENCES users(id),
    withdrawn_at BIGINT
);
CREATE INDEX invitations_org ON invitations(org_id);
