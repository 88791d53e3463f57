-- The audit log. No foreign keys: entries outlive the users and objects they name.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_id BIGINT,
    subject_id BIGINT,
    target TEXT,
    ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    -- A JSON object of strings.
    details TEXT NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id);
CREATE INDEX audit_log_subject_id ON audit_log (subject_id);
CREATE INDEX audit_log_event ON audit_log (event);
