-- A pending user code belongs to one request only, so a flood of requests
-- cannot make a victim's code name another device. Older duplicates, if a
-- database has any, are expired first.
UPDATE device_authorizations SET status = 'expired'
 WHERE status = 'pending' AND EXISTS (
   SELECT 1 FROM device_authorizations AS newer
    WHERE newer.user_code_hash = device_authorizations.user_code_hash
      AND newer.status = 'pending'
      AND (newer.created_at > device_authorizations.created_at
           OR (newer.created_at = device_authorizations.created_at
               AND newer.id > device_authorizations.id)));
-- Two partial indexes take the place of the one on every code: a new request
-- (always pending) updates only the unique one, as many indexes as before.
DROP INDEX device_authorizations_user_code;
CREATE UNIQUE INDEX device_authorizations_live_user_code
    ON device_authorizations(user_code_hash) WHERE status = 'pending';
CREATE INDEX device_authorizations_decided_user_code
    ON device_authorizations(user_code_hash, created_at) WHERE status <> 'pending';
