-- Change feed: every statement that writes a table the nodes keep in memory notifies channel
-- `fngate_changes` with the table's name. PostgreSQL delivers it when the transaction commits
-- (so a listener that reloads sees the change), and only once per transaction and table.
-- Nodes LISTEN and also compare fingerprints of these tables every few seconds, the fallback
-- when a notification is missed (docs/notes/store.md). Tables written on the request path or
-- never held in memory (refresh tokens, retry answers, work requests, bundles) are not watched.
CREATE FUNCTION fngate_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fngate_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    watched TEXT;
BEGIN
    FOREACH watched IN ARRAY ARRAY[
        'fn_apps', 'fn_fns', 'fn_triggers', 'deployments',
        'idp_tenants', 'idp_api_apps', 'idp_client_apps', 'idp_client_secrets', 'idp_role_grants',
        'idp_signing_keys', 'idp_client_certificates', 'idp_redirect_uris', 'idp_users', 'idp_groups',
        'idp_group_members', 'idp_user_assignments', 'idp_consents',
        'oci_settings', 'oci_api_keys', 'oci_resources', 'oci_gateways'
    ] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION fngate_note_change()',
            watched || '_changes', watched);
    END LOOP;
END
$$;
