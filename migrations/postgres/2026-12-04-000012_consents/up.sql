-- Users' consents to OpenID Connect clients, as migrations/sqlite/2026-12-04-000012_consents
-- (which explains the columns).

CREATE TABLE consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_pk BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_pk)
);

CREATE INDEX consents_client_pk ON consents (client_pk);
