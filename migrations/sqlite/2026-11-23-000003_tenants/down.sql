-- Back to a free-text tenant id (the tenant's name) and globally unique usernames and e-mails.
-- Fails if two tenants hold the same username or e-mail.

PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE users_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    username_normalized TEXT NOT NULL UNIQUE,
    email TEXT,
    email_normalized TEXT UNIQUE,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    tenant_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

INSERT INTO users_old (id, username, username_normalized, email, email_normalized, display_name,
                       password_hash, active, tenant_id, created_at, updated_at)
SELECT u.id, u.username, u.username_normalized, u.email, u.email_normalized, u.display_name,
       u.password_hash, u.active, t.name, u.created_at, u.updated_at
FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id;

DELETE FROM sqlite_sequence WHERE name = 'users_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'users_old', seq FROM sqlite_sequence WHERE name = 'users';

DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
DROP TABLE tenants;

COMMIT;
PRAGMA foreign_keys = ON;
