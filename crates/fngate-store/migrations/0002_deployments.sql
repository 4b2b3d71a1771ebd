-- gateway deployments (gateway work)
CREATE TABLE IF NOT EXISTS _placeholder_deployments (id INTEGER);
DROP TABLE _placeholder_deployments;
