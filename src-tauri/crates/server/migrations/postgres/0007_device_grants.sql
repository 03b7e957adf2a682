-- The lifetime, in days, the approver chose for the device token (NULL: the
-- server's default).
ALTER TABLE device_authorizations ADD COLUMN token_days BIGINT;
