-- Free-form attributes an admin keeps on a user: a JSON object of string values by name,
-- checked by the domain before it is written ('{}': none).
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
