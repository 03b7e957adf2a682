-- Budgets for guessable attempts (passwords, setup tokens, user codes),
-- shared by every server on this database and kept across restarts. `key`
-- is the SHA-256 of what is limited ("login-ip" and an address, …), so the
-- table collects no addresses or emails. An attempt counts in `inflight`
-- while it is checked, then moves to `failures` or goes away
-- (store/sql/limits.rs, rate_limit.rs).
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    inflight     BIGINT NOT NULL
);
CREATE INDEX rate_limits_window_end ON rate_limits (window_end);
