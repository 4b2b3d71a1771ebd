//! Deployment-wide policies: rate limiting, CORS, mutual TLS, usage plans, dynamic
//! authentication (the authentication policies themselves are in `auth.rs`).

use super::{Checker, is_token};
use crate::diagnostics::{push_index, push_key};
use crate::limits::{MAX_ALLOWED_SANS, MAX_AUTH_SERVERS, MAX_CORS_ENTRIES};
use crate::model::{CorsPolicy, RequestPolicies};
use crate::template::{ContextTable, ContextVar};

impl Checker<'_> {
    pub(super) fn global_policies(&mut self, policies: &RequestPolicies) {
        let path = "requestPolicies";
        if let Some(authentication) = &policies.authentication {
            self.authentication_policy(&push_key(path, "authentication"), authentication);
        }
        if let Some(rate) = &policies.rate_limiting
            && rate.rate_in_requests_per_second < 1
        {
            self.error(
                "requestPolicies.rateLimiting.rateInRequestsPerSecond",
                format!("must be at least 1 (got {})", rate.rate_in_requests_per_second),
            );
        }
        if let Some(cors) = &policies.cors {
            self.cors(&push_key(path, "cors"), cors);
        }
        if let Some(mtls) = &policies.mutual_tls {
            let sans = "requestPolicies.mutualTls.allowedSans";
            self.at_most(sans, mtls.allowed_sans.len(), MAX_ALLOWED_SANS, "names");
            for (i, san) in mtls.allowed_sans.iter().enumerate() {
                self.non_empty(&push_index(sans, i), san);
            }
        }
        if let Some(plans) = &policies.usage_plans {
            let locations = "requestPolicies.usagePlans.tokenLocations";
            if plans.token_locations.is_empty() {
                self.error(
                    locations,
                    "needs at least one location, such as `request.headers[token]`",
                );
            }
            for (i, location) in plans.token_locations.iter().enumerate() {
                let item = push_index(locations, i);
                match ContextVar::parse(location) {
                    Ok(var)
                        if matches!(
                            var.table,
                            ContextTable::Headers | ContextTable::Query | ContextTable::Auth | ContextTable::Path
                        ) => {}
                    Ok(var) => self.error(
                        item,
                        format!("`{var}` cannot hold a token; use request.headers, query, auth or path"),
                    ),
                    Err(message) => self.error(item, message),
                }
            }
        }
        if let Some(dynamic) = &policies.dynamic_authentication {
            let dyn_path = push_key(path, "dynamicAuthentication");
            if policies.authentication.is_some() {
                self.error(
                    &dyn_path,
                    "cannot be combined with requestPolicies.authentication; use one or the other",
                );
            }
            self.selector(
                &push_key(&push_key(&dyn_path, "selectionSource"), "selector"),
                dynamic.selection_source.selector(),
            );
            let servers = push_key(&dyn_path, "authenticationServers");
            if dynamic.authentication_servers.is_empty() {
                self.error(&servers, "needs at least one authentication server");
            }
            self.at_most(
                &servers,
                dynamic.authentication_servers.len(),
                MAX_AUTH_SERVERS,
                "servers",
            );
            let keys = dynamic
                .authentication_servers
                .iter()
                .enumerate()
                .map(|(i, s)| (push_key(&push_index(&servers, i), "key"), &s.key))
                .collect();
            self.selection_keys(keys);
            for (i, server) in dynamic.authentication_servers.iter().enumerate() {
                let detail = push_key(&push_index(&servers, i), "authenticationServerDetail");
                self.authentication_policy(&detail, &server.authentication_server_detail);
            }
        }
    }

    pub(super) fn cors(&mut self, path: &str, cors: &CorsPolicy) {
        let origins = push_key(path, "allowedOrigins");
        if cors.allowed_origins.is_empty() {
            self.error(&origins, "needs at least one origin (`*` allows any)");
        }
        for (i, origin) in cors.allowed_origins.iter().enumerate() {
            if let Err(message) = check_origin(origin) {
                self.error(push_index(&origins, i), message);
            }
        }
        let lists = [
            ("allowedMethods", &cors.allowed_methods, "methods"),
            ("allowedHeaders", &cors.allowed_headers, "headers"),
            ("exposedHeaders", &cors.exposed_headers, "headers"),
        ];
        for (field, list, what) in lists {
            let list_path = push_key(path, field);
            self.at_most(&list_path, list.len(), MAX_CORS_ENTRIES, what);
            for (i, entry) in list.iter().enumerate() {
                if entry != "*" && !is_token(entry) {
                    let kind = if what == "methods" { "method" } else { "header name" };
                    self.error(
                        push_index(&list_path, i),
                        format!("`{entry}` is not a valid {kind} (or `*`)"),
                    );
                }
            }
        }
        if let Some(age) = cors.max_age_in_seconds
            && age < 0
        {
            self.error(
                push_key(path, "maxAgeInSeconds"),
                format!("must not be negative (got {age})"),
            );
        }
    }
}

/// `*`, `null`, or `scheme://host[:port]` without a path, where the host may start with `*.`
/// (any subdomain: `https://*.example.com`; the gateway's matching rules are in its notes).
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" || origin == "null" {
        return Ok(());
    }
    let shape = || format!("`{origin}` must be `*`, `null` or scheme://host[:port] with nothing after the host");
    let (wildcard, without) = match origin.split_once("://") {
        Some((scheme, rest)) => match rest.strip_prefix("*.") {
            Some(rest) => (true, format!("{scheme}://{rest}")),
            None => (false, origin.to_string()),
        },
        None => (false, origin.to_string()),
    };
    if without.contains('*') {
        return Err(format!(
            "`{origin}`: `*` may only stand for whole leftmost labels (`https://*.example.com`)"
        ));
    }
    let url = url::Url::parse(&without).map_err(|_| shape())?;
    if wildcard && !matches!(url.host(), Some(url::Host::Domain(_))) {
        return Err(format!("`{origin}`: a `*.` wildcard needs a domain name after it"));
    }
    let has_host = url.host_str().is_some_and(|h| !h.is_empty());
    let no_path = matches!(url.path(), "" | "/") && !origin.ends_with('/');
    let bare = has_host && no_path && url.query().is_none() && url.fragment().is_none();
    if bare && url.username().is_empty() {
        Ok(())
    } else {
        Err(shape())
    }
}
