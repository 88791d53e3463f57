DROP INDEX sessions_sso_session_id;
ALTER TABLE sessions DROP COLUMN sso_session_id;
