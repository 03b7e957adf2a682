-- Keys every server on this database shares (CSRF tokens, known-browser
-- cookies), created by the first server that needs one. Hex, 256 bits.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
