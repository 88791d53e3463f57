-- The browser (single sign-on) session whose sign-in a session lives and dies with: set for the
-- sessions a code exchange opens without offline_access, so that signing out of Tessera ends them
-- too; NULL for every other session (an offline one outlives the sign-in). Not a foreign key, as
-- with the sessions of authorization codes: the clean-up prunes sessions one by one.
ALTER TABLE sessions ADD COLUMN sso_session_id BIGINT;
-- A sign-out ends the sessions bound to the browser session: found by it.
CREATE INDEX sessions_sso_session_id ON sessions (sso_session_id);
