-- The change feed is PostgreSQL's (postgres/0020_change_feed.sql: NOTIFY on every write, for the
-- other nodes). One SQLite file has one node, which reloads after its own writes: nothing to do.
-- The version exists here too so both backends keep the same migration numbers.
SELECT 1;
