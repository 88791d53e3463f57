-- What each user has consented to give each OpenID Connect client: the scopes granted,
-- space-separated, the union of every consent the user gave that client. A first-party client is
-- never asked, so it has no row. Revoking a consent deletes its row (and ends the sessions opened
-- for the client); deleting the user or the client deletes it too.
CREATE TABLE consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_pk BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_pk)
);

-- Deleting a client deletes its consents: found by client.
CREATE INDEX consents_client_pk ON consents (client_pk);
