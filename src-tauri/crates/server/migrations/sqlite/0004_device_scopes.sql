-- The scopes a device token gets when it is redeemed: those of the token that
-- approved it through the API (NULL: the approver's full role).
ALTER TABLE device_authorizations ADD COLUMN scopes TEXT;
