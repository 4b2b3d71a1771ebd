//! The compiled route table: what the data plane reads per request. Built from specifications
//! at load time (`crate::compile`), swapped atomically on every change; a request holds the
//! version it started with until it ends.

use std::sync::Arc;

use fngate_auth::Authorization;

use crate::backend::Backend;
use crate::observe::RouteMetrics;
use crate::policy::auth::AuthPolicy;
use crate::policy::cors::CorsPolicy;
use crate::policy::rate_limit::RateLimiter;
use crate::policy::transform::{HeaderTransforms, QueryTransforms};
use crate::policy::validate::Validations;
use fngate_spec::PathPattern;
use http::Method;

use crate::router::{self, MethodSet, Routable, RouteMatch};

pub(crate) struct Deployment {
    pub name: Arc<str>,
    /// As the user gave it (`/v1`).
    pub path_prefix: String,
    /// Normalised for matching: no trailing slash; `/` becomes empty.
    pub match_prefix: String,
    /// Most specific first (see `router::precedence`).
    pub routes: Vec<Route>,
    /// The deployment-wide CORS policy (routes hold their own or a copy of this one); used for
    /// answers no route produced (404).
    pub cors: Option<Arc<CorsPolicy>>,
    pub rate_limit: Option<RateLimiter>,
    pub auth: Option<AuthPolicy>,
    pub access_log: bool,
    /// Failed authentications are logged through this: one line per second at most.
    pub auth_failure_log: std::sync::Mutex<fngate_http::LogEvery>,
}

impl Deployment {
    /// The route for `method` on `path` (relative to the prefix, normalised).
    pub fn route(&self, method: &Method, path: &str) -> RouteMatch<'_, Route> {
        router::find(&self.routes, method, path)
    }

    /// The most specific route whose path matches `path`, whatever its methods.
    pub fn first_path_match(&self, path: &str) -> Option<&Route> {
        router::first_path_match(&self.routes, path)
    }
}

pub(crate) struct Route {
    /// The spec's pattern, literals normalised (`router::normalise_pattern`).
    pub pattern: PathPattern,
    pub methods: MethodSet,
    pub backend: Backend,
    /// The route's CORS policy, or the deployment's when the route has none.
    pub cors: Option<Arc<CorsPolicy>>,
    pub authorization: Authorization,
    pub validations: Validations,
    pub request_headers: HeaderTransforms,
    pub query: QueryTransforms,
    pub response_headers: HeaderTransforms,
    /// The route's metric handles; they also keep its path as the spec wrote it.
    pub metrics: Arc<RouteMetrics>,
}

impl Routable for Route {
    fn pattern(&self) -> &PathPattern {
        &self.pattern
    }

    fn methods(&self) -> &MethodSet {
        &self.methods
    }
}

impl Route {
    /// The route's path pattern as the spec wrote it (`/items/{id}`).
    pub fn path(&self) -> &str {
        self.metrics.pattern()
    }
}

#[derive(Default)]
pub(crate) struct RouteTable {
    /// Longest prefix first.
    deployments: Vec<Arc<Deployment>>,
}

impl RouteTable {
    pub fn new(mut deployments: Vec<Arc<Deployment>>) -> Self {
        deployments.sort_by_key(|d| std::cmp::Reverse(d.match_prefix.len()));
        RouteTable { deployments }
    }

    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.deployments
    }

    /// The deployment whose prefix owns `path` (whole segments only), and the rest of the path.
    pub fn find<'p>(&self, path: &'p str) -> Option<(&Arc<Deployment>, &'p str)> {
        self.deployments.iter().find_map(|d| {
            let rest = path.strip_prefix(d.match_prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((d, rest))
        })
    }

    /// A copy with `deployment` added or replacing the one of the same name.
    pub fn with(&self, deployment: Arc<Deployment>) -> Self {
        let mut all: Vec<Arc<Deployment>> = self
            .deployments
            .iter()
            .filter(|d| d.name != deployment.name)
            .cloned()
            .collect();
        all.push(deployment);
        RouteTable::new(all)
    }

    pub fn without(&self, name: &str) -> Self {
        RouteTable::new(self.deployments.iter().filter(|d| &*d.name != name).cloned().collect())
    }
}

/// `/v1/` → `/v1`, `/` → ``.
pub(crate) fn match_prefix(path_prefix: &str) -> String {
    path_prefix.trim_end_matches('/').to_string()
}
