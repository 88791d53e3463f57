-- The OpenID Connect provider: registered clients, single-use authorization codes, and what a
-- session records of how it was opened (its authentication methods and its OAuth client).

CREATE TABLE oauth_clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Public and generated: `tc_` and 128 random bits; never reused.
    client_id TEXT NOT NULL UNIQUE,
    tenant_id BIGINT REFERENCES tenants (id),
    client_name TEXT NOT NULL,
    -- SHA-256 of the `tsc_` secret of a confidential client; NULL for a public client.
    secret_hash TEXT UNIQUE,
    -- client_secret_basic, client_secret_post or none.
    token_endpoint_auth_method TEXT NOT NULL,
    -- Newline-separated absolute URIs, matched exactly.
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    -- Space-separated.
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    scope TEXT NOT NULL,
    first_party BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX oauth_clients_tenant_id ON oauth_clients (tenant_id);

-- Codes live a minute and are redeemed once: `used_at` is set by one conditional update. A code
-- presented again revokes the session its first redemption opened (`issued_session_id`). The
-- sessions are not foreign keys: a session row may be pruned while its revocation stays.
CREATE TABLE authorization_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash TEXT NOT NULL UNIQUE,
    client_pk BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sso_session_id BIGINT,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    -- BASE64URL(SHA-256(code_verifier)): PKCE S256 only.
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    -- Space-separated RFC 8176 methods: `pwd`, `pwd otp`.
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    issued_session_id BIGINT
);

CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_client_pk ON authorization_codes (client_pk);
CREATE INDEX authorization_codes_user_id ON authorization_codes (user_id);

-- How the session's user authenticated (space-separated RFC 8176 methods); NULL for sessions of
-- API keys and for sessions opened before this migration.
ALTER TABLE sessions ADD COLUMN amr TEXT;
-- The OAuth client whose code exchange opened the session; NULL: Tessera's own public client.
ALTER TABLE sessions ADD COLUMN client_id TEXT;
