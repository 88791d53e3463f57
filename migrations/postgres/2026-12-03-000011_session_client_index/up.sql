-- Deleting an OAuth client ends the sessions opened for it: found by their client_id.
CREATE INDEX sessions_client_id ON sessions (client_id);
