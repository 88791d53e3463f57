-- The authorization model (services, roles, permissions, their links and grants),
-- service credentials, API keys and opaque access tokens.

CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- SHA-256 of the service's current secret; NULL when it has none.
    secret_hash TEXT UNIQUE,
    secret_created_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A role scoped to one person and one service holds that person's direct permission grants
-- there; it is hidden from the roles list. Its name starts with '~', which visible names cannot.
CREATE TABLE roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    scope_person_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scope_service_id BIGINT REFERENCES services (id) ON DELETE CASCADE,
    -- Always TRUE: only services can be disabled; the column lets one query shape serve all three kinds.
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    -- Always TRUE, as for roles.
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE role_permissions (
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id BIGINT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE INDEX role_permissions_permission ON role_permissions (permission_id);

CREATE TABLE service_roles (
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (service_id, role_id)
);

CREATE INDEX service_roles_role ON service_roles (role_id);

CREATE TABLE person_service_roles (
    person_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, service_id, role_id)
);

CREATE INDEX person_service_roles_service_role ON person_service_roles (service_id, role_id);
CREATE INDEX person_service_roles_role ON person_service_roles (role_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The first characters of the key, shown in listings so a person can tell keys apart.
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    -- Space-separated role names; empty means every role of the user.
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);

CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- The sessions that OAuth client-credentials grants open for an API key, so that deleting
-- the key ends them. No foreign key: the key row goes, the revocation stays.
ALTER TABLE sessions ADD COLUMN api_key_id BIGINT;
CREATE INDEX sessions_api_key_id ON sessions (api_key_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE opaque_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX opaque_tokens_session_id ON opaque_tokens (session_id);
CREATE INDEX opaque_tokens_expires_at ON opaque_tokens (expires_at);
