ALTER TABLE sessions DROP COLUMN client_id;
ALTER TABLE sessions DROP COLUMN amr;
DROP TABLE authorization_codes, oauth_clients;
