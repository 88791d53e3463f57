DROP INDEX sessions_client_id;
