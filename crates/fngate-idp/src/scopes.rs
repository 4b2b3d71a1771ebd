//! Delegated scopes a sign-in asks for: the OIDC scopes (`openid`, `profile`, `email`,
//! `offline_access`) and the scopes of at most one API app (`api://orders/access_as_user`,
//! `<client id>/access_as_user`, `api://orders/.default`), or a v1 `resource`.

use std::sync::Arc;

use crate::error::EntraError;
use crate::registry::{ApiApp, Registry, Tenant};

pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The `aud` of a token for no API of this tenant (only OIDC scopes asked): Entra issues a
/// Microsoft Graph token then; fngate does too, and its own userinfo endpoint takes it.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

#[derive(Clone, Debug)]
pub struct Requested {
    /// The API's client id, if an API was asked for.
    pub api_id: Option<String>,
    /// The API as the request named it (identifier URI or client id); a v1 token's `aud`.
    pub resource_ref: String,
    /// Scope names on the API (`access_as_user`), deduplicated, in request order.
    pub api_scopes: Vec<String>,
    /// OIDC scopes asked for.
    pub oidc: Vec<String>,
}

impl Requested {
    pub fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }

    pub fn api<'a>(&self, registry: &'a Registry, tenant_id: &str) -> Option<&'a Arc<ApiApp>> {
        self.api_id.as_deref().and_then(|id| registry.api(tenant_id, id))
    }

    /// The scopes as the v2 `scope` response field and a refresh token record them
    /// (`api://orders/access_as_user openid offline_access`).
    pub fn to_scope_string(&self) -> String {
        let mut out: Vec<String> = self
            .api_scopes
            .iter()
            .map(|s| format!("{}/{s}", self.resource_ref))
            .collect();
        // An API without scopes (v1 resource): `.default` keeps the resource in the record.
        if self.api_id.is_some() && self.api_scopes.is_empty() {
            out.push(format!("{}/.default", self.resource_ref));
        }
        out.extend(self.oidc.iter().cloned());
        out.join(" ")
    }

    /// What `scp` says: the API's scopes, or for a Graph token the OIDC scopes but offline_access.
    pub fn scp(&self) -> String {
        if self.api_id.is_some() {
            self.api_scopes.join(" ")
        } else {
            let scopes: Vec<&str> = self
                .oidc
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "offline_access")
                .collect();
            scopes.join(" ")
        }
    }

    /// True when every scope of `self` is in `other` (a refresh asking no more than was granted).
    pub fn within(&self, other: &Requested) -> bool {
        (self.api_id.is_none() || self.api_id == other.api_id)
            && self.api_scopes.iter().all(|s| other.api_scopes.contains(s))
            && self
                .oidc
                .iter()
                .all(|s| s == "offline_access" || s == "openid" || other.oidc.contains(s))
    }
}

/// Parses a v2 `scope` parameter.
pub fn parse_v2(registry: &Registry, tenant: &Tenant, scope: &str) -> Result<Requested, EntraError> {
    let mut requested = Requested {
        api_id: None,
        resource_ref: String::new(),
        api_scopes: Vec::new(),
        oidc: Vec::new(),
    };
    for item in scope.split_whitespace() {
        if let Some(oidc) = OIDC_SCOPES.iter().find(|s| s.eq_ignore_ascii_case(item)) {
            if !requested.has(oidc) {
                requested.oidc.push(oidc.to_string());
            }
            continue;
        }
        let Some((resource, name)) = item.rsplit_once('/').filter(|(r, n)| !r.is_empty() && !n.is_empty()) else {
            // A bare name is a Microsoft Graph scope (User.Read): there is no Graph here.
            return Err(EntraError::invalid_user_scope(item));
        };
        let api = registry
            .api(&tenant.id, resource)
            .ok_or_else(|| EntraError::unknown_resource(resource, &tenant.name, &tenant.id))?;
        match &requested.api_id {
            Some(id) if *id != api.client_id => return Err(EntraError::several_resources(scope)),
            Some(_) => {}
            None => {
                requested.api_id = Some(api.client_id.clone());
                requested.resource_ref = resource.to_string();
            }
        }
        if name == ".default" {
            for s in &api.scopes {
                if !requested.api_scopes.contains(s) {
                    requested.api_scopes.push(s.clone());
                }
            }
        } else if let Some(s) = api.scopes.iter().find(|s| *s == name) {
            if !requested.api_scopes.contains(s) {
                requested.api_scopes.push(s.clone());
            }
        } else {
            return Err(EntraError::scope_not_on_resource(name, &api.identifier_uri));
        }
    }
    if requested.api_id.is_none() && requested.oidc.is_empty() {
        return Err(EntraError::missing_parameter("scope"));
    }
    Ok(requested)
}

/// Parses the v1 endpoints' `resource` (all the API's scopes, as v1 grants every consented
/// scope) and optional `scope` (OIDC scopes only).
pub fn parse_v1(
    registry: &Registry,
    tenant: &Tenant,
    resource: Option<&str>,
    scope: Option<&str>,
) -> Result<Requested, EntraError> {
    let mut requested = Requested {
        api_id: None,
        resource_ref: String::new(),
        api_scopes: Vec::new(),
        // v1 always hands out a refresh token.
        oidc: vec!["offline_access".into()],
    };
    for item in scope.unwrap_or_default().split_whitespace() {
        if let Some(oidc) = OIDC_SCOPES.iter().find(|s| s.eq_ignore_ascii_case(item))
            && !requested.has(oidc)
        {
            requested.oidc.push(oidc.to_string());
        }
    }
    if let Some(resource) = resource.map(str::trim).filter(|r| !r.is_empty()) {
        let api = registry
            .api(&tenant.id, resource)
            .ok_or_else(|| EntraError::unknown_resource(resource, &tenant.name, &tenant.id))?;
        requested.api_id = Some(api.client_id.clone());
        requested.resource_ref = resource.to_string();
        requested.api_scopes = api.scopes.clone();
    }
    Ok(requested)
}
