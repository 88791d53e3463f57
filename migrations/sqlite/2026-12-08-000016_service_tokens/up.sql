-- Service tokens: short-lived bearer credentials that each name one service, with which the
-- service's backends call check-token. A service may hold several at once (each instance of it
-- its own); each is kept as the SHA-256 digest of the token, never in clear, until the clean-up
-- deletes it once expired, or until its service is deleted.
CREATE TABLE service_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Deleting a service deletes its tokens: found by service.
CREATE INDEX service_tokens_service_id ON service_tokens (service_id);
-- The clean-up deletes expired tokens: found by expiry.
CREATE INDEX service_tokens_expires_at ON service_tokens (expires_at);
