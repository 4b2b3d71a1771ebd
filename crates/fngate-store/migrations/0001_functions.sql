-- apps, fns, triggers (functions work)
CREATE TABLE IF NOT EXISTS _placeholder_functions (id INTEGER);
DROP TABLE _placeholder_functions;
