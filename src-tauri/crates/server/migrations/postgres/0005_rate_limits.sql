-- Rate limit windows, shared by every server on this database and kept
-- across restarts. `key` is the SHA-256 of what is limited ("login-ip:…",
-- "login-email:…"), so the table collects no addresses; one row per key,
-- counted by one upsert (store/sql/limits.rs).
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
CREATE INDEX rate_limits_window_end ON rate_limits (window_end);
