-- identity provider registrations and keys (idp work)
CREATE TABLE IF NOT EXISTS _placeholder_idp (id INTEGER);
DROP TABLE _placeholder_idp;
