//! Route checks: path, methods, authorization, validations, transformations, caching.

use super::{Checker, is_token};
use crate::diagnostics::{push_index, push_key};
use crate::limits::{MAX_FILTER_HEADERS, MAX_RENAME_HEADERS, MAX_SET_HEADER_VALUES, MAX_SET_HEADERS};
use crate::model::{
    BodyValidationRequestPolicy, HeaderTransformationPolicy, Method, QueryParameterTransformationPolicy,
    ResponseCacheLookupPolicy, ResponseCacheStorePolicy, Route, RouteAuthorizationPolicy, RouteRequestPolicies,
    RouteResponsePolicies, ValidationItem,
};
use crate::path::PathPattern;

/// Whether transformation names compare case-insensitively (headers) or exactly (query).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    Header,
    Query,
}

impl Checker<'_> {
    pub(super) fn route(&mut self, path: &str, route: &Route) {
        let pattern = match PathPattern::parse(&route.path) {
            Ok(pattern) => Some(pattern),
            Err(message) => {
                self.error(push_key(path, "path"), message);
                None
            }
        };
        self.methods(&push_key(path, "methods"), &route.methods);
        self.backend(&push_key(path, "backend"), &route.backend, pattern.as_ref(), false);
        if let Some(policies) = &route.request_policies {
            self.route_request_policies(&push_key(path, "requestPolicies"), policies, pattern.as_ref());
        }
        if let Some(policies) = &route.response_policies {
            self.route_response_policies(&push_key(path, "responsePolicies"), policies, pattern.as_ref());
        }
    }

    fn methods(&mut self, path: &str, methods: &[Method]) {
        for (i, method) in methods.iter().enumerate() {
            if methods[..i].contains(method) {
                self.warn(push_index(path, i), format!("`{}` is listed twice", method.as_str()));
            } else if *method != Method::Any && methods.contains(&Method::Any) {
                self.warn(
                    push_index(path, i),
                    format!("`{}` is redundant next to `ANY`", method.as_str()),
                );
            }
        }
    }

    fn route_request_policies(&mut self, path: &str, policies: &RouteRequestPolicies, route: Option<&PathPattern>) {
        if let Some(authorization) = &policies.authorization {
            self.authorization(&push_key(path, "authorization"), authorization);
        }
        if let Some(cors) = &policies.cors {
            self.cors(&push_key(path, "cors"), cors);
        }
        if let Some(validation) = &policies.query_parameter_validations {
            self.validation_items(
                &push_key(path, "queryParameterValidations"),
                "parameters",
                &validation.parameters,
                NameKind::Query,
            );
        }
        if let Some(validation) = &policies.header_validations {
            self.validation_items(
                &push_key(path, "headerValidations"),
                "headers",
                &validation.headers,
                NameKind::Header,
            );
        }
        if let Some(body) = &policies.body_validation {
            self.body_validation(&push_key(path, "bodyValidation"), body);
        }
        if let Some(headers) = &policies.header_transformations {
            self.header_transformations(&push_key(path, "headerTransformations"), headers, route);
        }
        if let Some(query) = &policies.query_parameter_transformations {
            self.query_transformations(&push_key(path, "queryParameterTransformations"), query, route);
        }
        if let Some(ResponseCacheLookupPolicy::SimpleLookup(lookup)) = &policies.response_cache_lookup {
            let additions = push_key(&push_key(path, "responseCacheLookup"), "cacheKeyAdditions");
            for (i, addition) in lookup.cache_key_additions.iter().enumerate() {
                let item = push_index(&additions, i);
                if let Some(template) = self.template(&item, addition, route)
                    && template.is_literal()
                {
                    self.warn(item, "has no ${...} expression, so it adds nothing to the cache key");
                }
            }
        }
    }

    fn route_response_policies(&mut self, path: &str, policies: &RouteResponsePolicies, route: Option<&PathPattern>) {
        if let Some(headers) = &policies.header_transformations {
            self.header_transformations(&push_key(path, "headerTransformations"), headers, route);
        }
        if let Some(ResponseCacheStorePolicy::FixedTtl(store)) = &policies.response_cache_store
            && store.time_to_live_in_seconds < 1
        {
            let ttl = push_key(&push_key(path, "responseCacheStore"), "timeToLiveInSeconds");
            self.error(
                ttl,
                format!("must be at least 1 second (got {})", store.time_to_live_in_seconds),
            );
        }
    }

    fn authorization(&mut self, path: &str, authorization: &RouteAuthorizationPolicy) {
        // When the authentication policy itself failed to parse, do not guess about it.
        let all = if self.authentication_unknown() {
            None
        } else {
            Some(self.all_authentication())
        };
        let type_path = push_key(path, "type");
        match (authorization, all) {
            (RouteAuthorizationPolicy::Anonymous, Some(all)) => {
                if let Some(first) = all.iter().find(|a| !a.is_anonymous_access_allowed()) {
                    let message = format!(
                        "ANONYMOUS needs isAnonymousAccessAllowed: true on the {} policy",
                        first.type_name()
                    );
                    self.error(type_path, message);
                }
            }
            (RouteAuthorizationPolicy::AuthenticationOnly | RouteAuthorizationPolicy::AnyOf(_), Some(all))
                if all.is_empty() =>
            {
                let name = if matches!(authorization, RouteAuthorizationPolicy::AnyOf(_)) {
                    "ANY_OF"
                } else {
                    "AUTHENTICATION_ONLY"
                };
                self.error(
                    type_path,
                    format!("{name} needs an authentication policy in requestPolicies.authentication"),
                );
            }
            _ => {}
        }
        if let RouteAuthorizationPolicy::AnyOf(any) = authorization {
            let scopes = push_key(path, "allowedScope");
            if any.allowed_scope.is_empty() {
                self.error(&scopes, "ANY_OF needs at least one scope");
            }
            for (i, scope) in any.allowed_scope.iter().enumerate() {
                let item = push_index(&scopes, i);
                if scope.is_empty() {
                    self.error(item, "must not be empty");
                } else if scope.chars().any(char::is_whitespace) {
                    self.warn(
                        item,
                        format!(
                            "`{scope}` contains whitespace, so it never matches a scope from a space-separated claim"
                        ),
                    );
                }
            }
        }
    }

    fn validation_items(&mut self, path: &str, field: &str, items: &[ValidationItem], kind: NameKind) {
        let list = push_key(path, field);
        let mut seen: Vec<(String, String)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let name_path = push_key(&push_index(&list, i), "name");
            if !self.non_empty(&name_path, &item.name) {
                continue;
            }
            if kind == NameKind::Header {
                self.header_name(&name_path, &item.name);
            }
            let key = normalise(&item.name, kind);
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                let message = format!("`{}` is already listed at {first}", item.name);
                self.error(&name_path, message);
            } else {
                seen.push((key, name_path));
            }
        }
    }

    fn body_validation(&mut self, path: &str, body: &BodyValidationRequestPolicy) {
        let content = push_key(path, "content");
        if body.content.is_empty() {
            self.error(
                &content,
                "needs at least one media range (for example `application/json` or `*/*`)",
            );
        }
        for media in body.content.keys() {
            if !is_media_range(media) {
                self.error(
                    push_key(&content, media),
                    format!("`{media}` is not a media range (`*/*`, `type/*` or `type/subtype`)"),
                );
            }
        }
    }

    pub(crate) fn header_transformations(
        &mut self,
        path: &str,
        policy: &HeaderTransformationPolicy,
        route: Option<&PathPattern>,
    ) {
        let mut names = Names::new(NameKind::Header);
        if let Some(set) = &policy.set_headers {
            let items = push_key(&push_key(path, "setHeaders"), "items");
            self.at_most(&items, set.items.len(), MAX_SET_HEADERS, "headers");
            for (i, item) in set.items.iter().enumerate() {
                let item_path = push_index(&items, i);
                let name_path = push_key(&item_path, "name");
                self.header_name(&name_path, &item.name);
                names.add(self, &name_path, &item.name);
                let values = push_key(&item_path, "values");
                if item.values.is_empty() {
                    self.error(&values, "needs at least one value");
                }
                self.at_most(&values, item.values.len(), MAX_SET_HEADER_VALUES, "values");
                for (k, value) in item.values.iter().enumerate() {
                    let value_path = push_index(&values, k);
                    if value.contains(['\r', '\n', '\0']) {
                        self.error(&value_path, "a header value must not contain CR, LF or NUL");
                    }
                    self.template(&value_path, value, route);
                }
            }
        }
        if let Some(rename) = &policy.rename_headers {
            let items = push_key(&push_key(path, "renameHeaders"), "items");
            self.at_most(&items, rename.items.len(), MAX_RENAME_HEADERS, "headers");
            for (i, item) in rename.items.iter().enumerate() {
                let item_path = push_index(&items, i);
                for (field, name) in [("from", &item.from), ("to", &item.to)] {
                    let name_path = push_key(&item_path, field);
                    self.header_name(&name_path, name);
                    names.add(self, &name_path, name);
                }
            }
        }
        if let Some(filter) = &policy.filter_headers {
            let items = push_key(&push_key(path, "filterHeaders"), "items");
            self.at_most(&items, filter.items.len(), MAX_FILTER_HEADERS, "headers");
            for (i, item) in filter.items.iter().enumerate() {
                let name_path = push_key(&push_index(&items, i), "name");
                self.header_name(&name_path, &item.name);
                names.add(self, &name_path, &item.name);
            }
        }
    }

    fn query_transformations(
        &mut self,
        path: &str,
        policy: &QueryParameterTransformationPolicy,
        route: Option<&PathPattern>,
    ) {
        let mut names = Names::new(NameKind::Query);
        if let Some(set) = &policy.set_query_parameters {
            let items = push_key(&push_key(path, "setQueryParameters"), "items");
            for (i, item) in set.items.iter().enumerate() {
                let item_path = push_index(&items, i);
                let name_path = push_key(&item_path, "name");
                if self.non_empty(&name_path, &item.name) {
                    names.add(self, &name_path, &item.name);
                }
                let values = push_key(&item_path, "values");
                if item.values.is_empty() {
                    self.error(&values, "needs at least one value");
                }
                for (k, value) in item.values.iter().enumerate() {
                    self.template(&push_index(&values, k), value, route);
                }
            }
        }
        if let Some(rename) = &policy.rename_query_parameters {
            let items = push_key(&push_key(path, "renameQueryParameters"), "items");
            for (i, item) in rename.items.iter().enumerate() {
                let item_path = push_index(&items, i);
                for (field, name) in [("from", &item.from), ("to", &item.to)] {
                    let name_path = push_key(&item_path, field);
                    if self.non_empty(&name_path, name) {
                        names.add(self, &name_path, name);
                    }
                }
            }
        }
        if let Some(filter) = &policy.filter_query_parameters {
            let items = push_key(&push_key(path, "filterQueryParameters"), "items");
            for (i, item) in filter.items.iter().enumerate() {
                let name_path = push_key(&push_index(&items, i), "name");
                if self.non_empty(&name_path, &item.name) {
                    names.add(self, &name_path, &item.name);
                }
            }
        }
    }
}

/// Names used across one transformation policy; OCI requires each to appear once.
struct Names {
    kind: NameKind,
    seen: Vec<(String, String)>,
}

impl Names {
    fn new(kind: NameKind) -> Self {
        Names { kind, seen: Vec::new() }
    }

    fn add(&mut self, checker: &mut Checker<'_>, path: &str, name: &str) {
        let key = normalise(name, self.kind);
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == key) {
            let message =
                format!("`{name}` is already used at {first}; a name may appear only once across the transformations");
            checker.error(path, message);
        } else {
            self.seen.push((key, path.to_owned()));
        }
    }
}

fn normalise(name: &str, kind: NameKind) -> String {
    match kind {
        NameKind::Header => name.to_ascii_lowercase(),
        NameKind::Query => name.to_owned(),
    }
}

/// `*/*`, `type/*` or `type/subtype` (RFC 9110 tokens).
fn is_media_range(text: &str) -> bool {
    let Some((kind, subtype)) = text.split_once('/') else {
        return false;
    };
    match (kind, subtype) {
        ("*", "*") => true,
        ("*", _) => false,
        (kind, "*") => is_token(kind),
        (kind, subtype) => is_token(kind) && is_token(subtype),
    }
}
