-- The scope granted at login, which a refresh may narrow but never widen; NULL: the configured scope.
ALTER TABLE sessions ADD COLUMN scope TEXT;
