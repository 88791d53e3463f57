-- Consecutive failed logins per key: `u:<user id>`, or `n:<tenant id or 0>:<name>` for names that
-- match no user, so that those lock exactly like real ones.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE INDEX login_failures_updated_at ON login_failures (updated_at);
