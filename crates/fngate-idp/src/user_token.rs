//! Tokens for a signed-in user (delegated): the access token in the API's v1 or v2 shape with
//! `scp`, `roles`, `groups` and the API's optional claims; the OIDC id_token for the client;
//! the refresh token; the token response around them.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::EntraError;
use crate::refresh::{self, Chain};
use crate::registry::{ApiApp, ClientApp, Registry, Tenant, User};
use crate::scopes::{GRAPH_APP_ID, Requested};
use crate::token::{BACKDATE_SECS, random_b64};
use crate::{Idp, issuer_v1, issuer_v2};

/// id_tokens live an hour (Entra's default).
const ID_TOKEN_SECS: i64 = 3600;

/// Who signed in, to which client, for what.
pub struct SignedIn<'a> {
    pub tenant: &'a Tenant,
    pub user: &'a User,
    pub client: &'a ClientApp,
    pub requested: &'a Requested,
    pub nonce: Option<&'a str>,
    /// Unix time of the password sign-in.
    pub auth_time: i64,
    /// `azpacr`/`appidacr`: "0" public client, "1" secret, "2" certificate.
    pub client_acr: &'static str,
    /// The request came to a v1 endpoint (v1 id_token).
    pub v1_endpoint: bool,
    /// `client_info=1` was asked (MSAL does): the response carries uid/utid.
    pub client_info: bool,
}

/// `sub`: pairwise, one value per user and application, as Entra's (43 base64url characters).
pub fn pairwise_sub(user_oid: &str, app_id: &str) -> String {
    let hash = digest::digest(&digest::SHA256, format!("{user_oid}|{app_id}").as_bytes());
    URL_SAFE_NO_PAD.encode(hash.as_ref())
}

/// Entra's check for an API that requires assignment: the user needs an assignment (any role,
/// or default access) on it.
pub fn check_assignment(user: &User, api: &ApiApp) -> Result<(), EntraError> {
    if api.assignment_required && !user.assignments.contains_key(&api.client_id) {
        return Err(EntraError::not_assigned_user(&user.upn, &api.client_id, &api.name));
    }
    Ok(())
}

/// The token response (JSON body) for `who`, with a refresh token when `offline_access` was
/// granted (`chain` says whether it starts a new chain or continues one).
pub async fn respond(idp: &Idp, registry: &Registry, who: &SignedIn<'_>, chain: Chain) -> Result<Value, EntraError> {
    let api = who.requested.api(registry, &who.tenant.id);
    if let Some(api) = api {
        check_assignment(who.user, api)?;
    }
    let expires_in = idp.options().token_lifetime.as_secs();
    let v1_access = api.is_none_or(|a| a.token_version == 1);
    // Signed before any await: the key set's guard stays on this thread.
    let (access_token, id_token) = {
        let keys = idp.key_set();
        let access_token = keys
            .signing
            .sign(&access_claims(who, api, expires_in), v1_access)
            .map_err(|err| EntraError::server_error(format!("cannot sign the token: {err}")))?;
        let id_token = if who.requested.has("openid") {
            let signed = keys
                .signing
                .sign(&id_claims(who), who.v1_endpoint)
                .map_err(|err| EntraError::server_error(format!("cannot sign the id_token: {err}")))?;
            Some(signed)
        } else {
            None
        };
        (access_token, id_token)
    };
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("scope".into(), json!(who.requested.to_scope_string()));
    body.insert("expires_in".into(), json!(expires_in));
    body.insert("ext_expires_in".into(), json!(expires_in));
    body.insert("access_token".into(), json!(access_token));
    if who.requested.has("offline_access") {
        let refresh_token = refresh::issue(idp, who, chain).await?;
        body.insert("refresh_token".into(), json!(refresh_token));
    }
    if let Some(id_token) = id_token {
        body.insert("id_token".into(), json!(id_token));
    }
    if who.client_info {
        let info = json!({"uid": who.user.object_id, "utid": who.tenant.id}).to_string();
        body.insert("client_info".into(), json!(URL_SAFE_NO_PAD.encode(info)));
    }
    if who.v1_endpoint {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        body.insert(
            "expires_on".into(),
            json!(now + i64::try_from(expires_in).unwrap_or(3599)),
        );
        body.insert("not_before".into(), json!(now - BACKDATE_SECS));
        body.insert(
            "resource".into(),
            json!(if api.is_some() {
                who.requested.resource_ref.as_str()
            } else {
                GRAPH_APP_ID
            }),
        );
    }
    Ok(Value::Object(body))
}

/// The access token's claims, in Entra's order for the token version. Without an API (OIDC
/// scopes only) it is a v1 "Graph" token for this IdP's userinfo endpoint.
fn access_claims(who: &SignedIn<'_>, api: Option<&std::sync::Arc<ApiApp>>, expires_in: u64) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let iat = now - BACKDATE_SECS;
    let exp = now + i64::try_from(expires_in).unwrap_or(3599);
    let v1 = api.is_none_or(|a| a.token_version == 1);
    let user = who.user;
    let optional = |claim: &str| api.is_some_and(|a| a.optional_claims.iter().any(|c| c == claim));
    let mut c = Map::new();
    let aud = match api {
        None => GRAPH_APP_ID.to_string(),
        Some(_) if v1 => who.requested.resource_ref.clone(),
        Some(api) => api.client_id.clone(),
    };
    c.insert("aud".into(), json!(aud));
    c.insert(
        "iss".into(),
        json!(if v1 {
            issuer_v1(&who.tenant.id)
        } else {
            issuer_v2(&who.tenant.id)
        }),
    );
    c.insert("iat".into(), json!(iat));
    c.insert("nbf".into(), json!(iat));
    c.insert("exp".into(), json!(exp));
    if v1 {
        c.insert("acr".into(), json!("1"));
    }
    c.insert("aio".into(), json!(random_b64(39, false)));
    if v1 {
        c.insert("amr".into(), json!(["pwd"]));
        c.insert("appid".into(), json!(who.client.client_id));
        c.insert("appidacr".into(), json!(who.client_acr));
        if !user.surname.is_empty() {
            c.insert("family_name".into(), json!(user.surname));
        }
        if !user.given_name.is_empty() {
            c.insert("given_name".into(), json!(user.given_name));
        }
    } else {
        c.insert("azp".into(), json!(who.client.client_id));
        c.insert("azpacr".into(), json!(who.client_acr));
    }
    if let Some(api) = api
        && api.group_claims
        && !user.groups.is_empty()
    {
        let ids: Vec<&String> = user.groups.iter().map(|(id, _)| id).collect();
        c.insert("groups".into(), json!(ids));
    }
    c.insert("name".into(), json!(user.display_name));
    c.insert("oid".into(), json!(user.object_id));
    if !v1 {
        c.insert("preferred_username".into(), json!(user.upn));
    }
    c.insert("rh".into(), json!(format!("0.A{}.", random_b64(33, true))));
    if let Some(api) = api {
        let roles: Vec<&String> = user
            .assignments
            .get(&api.client_id)
            .map(|assigned| assigned.iter().filter(|r| api.app_roles.contains(r)).collect())
            .unwrap_or_default();
        if !roles.is_empty() {
            c.insert("roles".into(), json!(roles));
        }
    }
    let scp = who.requested.scp();
    if !scp.is_empty() {
        c.insert("scp".into(), json!(scp));
    }
    c.insert(
        "sub".into(),
        json!(pairwise_sub(&user.object_id, &who.client.client_id)),
    );
    c.insert("tid".into(), json!(who.tenant.id));
    if v1 {
        c.insert("unique_name".into(), json!(user.upn));
        c.insert("upn".into(), json!(user.upn));
    }
    c.insert("uti".into(), json!(random_b64(16, true)));
    c.insert("ver".into(), json!(if v1 { "1.0" } else { "2.0" }));
    // Optional claims configured on the API (`fngate idp app update --optional-claim`).
    if optional("email") && !user.email.is_empty() {
        c.insert("email".into(), json!(user.email));
    }
    if optional("upn") && !v1 {
        c.insert("upn".into(), json!(user.upn));
    }
    if optional("given_name") && !user.given_name.is_empty() {
        c.insert("given_name".into(), json!(user.given_name));
    }
    if optional("family_name") && !user.surname.is_empty() {
        c.insert("family_name".into(), json!(user.surname));
    }
    if optional("idtyp") {
        c.insert("idtyp".into(), json!("user"));
    }
    if optional("auth_time") {
        c.insert("auth_time".into(), json!(who.auth_time));
    }
    Value::Object(c)
}

/// The OIDC id_token for the client (v2 shape, or v1 from the v1 endpoints).
fn id_claims(who: &SignedIn<'_>) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let iat = now - BACKDATE_SECS;
    let user = who.user;
    let profile = who.requested.has("profile");
    let mut c = Map::new();
    c.insert("aud".into(), json!(who.client.client_id));
    c.insert(
        "iss".into(),
        json!(if who.v1_endpoint {
            issuer_v1(&who.tenant.id)
        } else {
            issuer_v2(&who.tenant.id)
        }),
    );
    c.insert("iat".into(), json!(iat));
    c.insert("nbf".into(), json!(iat));
    c.insert("exp".into(), json!(now + ID_TOKEN_SECS));
    if who.v1_endpoint {
        c.insert("amr".into(), json!(["pwd"]));
    } else {
        c.insert("aio".into(), json!(random_b64(39, false)));
    }
    c.insert("auth_time".into(), json!(who.auth_time));
    if who.requested.has("email") && !user.email.is_empty() {
        c.insert("email".into(), json!(user.email));
    }
    if who.v1_endpoint || profile {
        if !user.surname.is_empty() {
            c.insert("family_name".into(), json!(user.surname));
        }
        if !user.given_name.is_empty() {
            c.insert("given_name".into(), json!(user.given_name));
        }
        c.insert("name".into(), json!(user.display_name));
    }
    if let Some(nonce) = who.nonce {
        c.insert("nonce".into(), json!(nonce));
    }
    c.insert("oid".into(), json!(user.object_id));
    if !who.v1_endpoint && profile {
        c.insert("preferred_username".into(), json!(user.upn));
    }
    c.insert("rh".into(), json!(format!("0.A{}.", random_b64(33, true))));
    c.insert(
        "sub".into(),
        json!(pairwise_sub(&user.object_id, &who.client.client_id)),
    );
    c.insert("tid".into(), json!(who.tenant.id));
    if who.v1_endpoint {
        c.insert("unique_name".into(), json!(user.upn));
        c.insert("upn".into(), json!(user.upn));
    }
    c.insert("uti".into(), json!(random_b64(16, true)));
    c.insert("ver".into(), json!(if who.v1_endpoint { "1.0" } else { "2.0" }));
    Value::Object(c)
}
