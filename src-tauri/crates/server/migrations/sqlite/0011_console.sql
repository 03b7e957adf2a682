-- The org a device asked to be signed in to (`org` on the device
-- authorization request, an extension): the confirm page picks it and warns
-- before an approval into another.
ALTER TABLE device_authorizations ADD COLUMN org_hint TEXT;

-- The `User-Agent` of a token's last use, beside its address in the lists.
ALTER TABLE tokens ADD COLUMN last_used_agent TEXT;
