-- Tenants, and users that belong to at most one of them. Usernames and e-mail addresses become
-- unique within a tenant instead of globally, so the users table is rebuilt (SQLite cannot drop
-- a column constraint), following SQLite's documented twelve-step procedure.

PRAGMA foreign_keys = OFF;
BEGIN;

-- The same column shape as services, roles and permissions; `active` is always TRUE for now.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Free-text tenant ids of existing users become tenants of that name.
INSERT INTO tenants (name, created_at, updated_at)
SELECT DISTINCT tenant_id, CAST(strftime('%s', 'now') AS BIGINT), CAST(strftime('%s', 'now') AS BIGINT)
FROM users WHERE tenant_id IS NOT NULL;

CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT REFERENCES tenants (id),
    username TEXT NOT NULL,
    username_normalized TEXT NOT NULL,
    email TEXT,
    email_normalized TEXT,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

INSERT INTO users_new (id, tenant_id, username, username_normalized, email, email_normalized,
                       display_name, password_hash, active, created_at, updated_at)
SELECT u.id, t.id, u.username, u.username_normalized, u.email, u.email_normalized,
       u.display_name, u.password_hash, u.active, u.created_at, u.updated_at
FROM users u LEFT JOIN tenants t ON t.name = u.tenant_id;

-- Keep the id sequence, so that a deleted user's id is never given out again.
DELETE FROM sqlite_sequence WHERE name = 'users_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'users_new', seq FROM sqlite_sequence WHERE name = 'users';

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Users without a tenant share the global space, tenant 0 in these keys.
CREATE UNIQUE INDEX users_tenant_username ON users (COALESCE(tenant_id, 0), username_normalized);
CREATE UNIQUE INDEX users_tenant_email ON users (COALESCE(tenant_id, 0), email_normalized);
CREATE INDEX users_tenant_id ON users (tenant_id);

COMMIT;
PRAGMA foreign_keys = ON;
