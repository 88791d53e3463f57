-- Each opaque token renews by its own lifetime: API tokens and browser sessions differ.
ALTER TABLE opaque_tokens ADD COLUMN ttl BIGINT NOT NULL DEFAULT 300;
