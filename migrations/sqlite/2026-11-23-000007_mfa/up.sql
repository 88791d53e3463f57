-- Second factors. The TOTP secret is never returned after enrolment.
CREATE TABLE user_mfa (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- The last TOTP time step accepted: codes of it or earlier are refused (no replay).
    last_step BIGINT,
    created_at BIGINT NOT NULL,
    enabled_at BIGINT
);

-- Single-use backup codes, as HMAC-SHA-256 digests under the server key.
CREATE TABLE backup_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT
);

CREATE INDEX backup_codes_user_id ON backup_codes (user_id);

-- Pending logins waiting for their second factor: single use, five minutes.
CREATE TABLE mfa_challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);
