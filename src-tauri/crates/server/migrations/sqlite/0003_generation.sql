-- Bumped in the same transaction as every change that can invalidate a token
-- (revocation, role change, member removal, user disabled), so a server can
-- tell whether its cached validations are still good.
CREATE TABLE generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);
