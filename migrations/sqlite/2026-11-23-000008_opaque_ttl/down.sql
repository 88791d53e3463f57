ALTER TABLE opaque_tokens DROP COLUMN ttl;
