-- Each org's device policy, set by its owners. No row: the default, which
-- allows every approval, from any network, for the server's token lifetime.
CREATE TABLE org_policies (
    org_id            TEXT PRIMARY KEY REFERENCES orgs(id),
    device_flow       TEXT NOT NULL,
    device_networks   TEXT NOT NULL,
    device_token_days INTEGER,
    mode              TEXT NOT NULL,
    updated_at        INTEGER NOT NULL
);
