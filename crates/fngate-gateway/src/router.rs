//! Route matching inside one deployment, on the spec's own [`PathPattern`] (one grammar, parsed
//! by `fngate-spec`): `/static`, `{param}` (one segment) and `{name*}` (zero or more segments).
//! Routes are ordered once at load time, most specific first (static > param > wildcard, segment
//! by segment), so a request takes the first route whose path and method match.
//!
//! The path matched is always the normalised one (`crate::path::normalise`): no empty segments,
//! no dot segments, percent-encoding in one form. Route literals are normalised the same way at
//! load time ([`normalise_pattern`]).

use std::cmp::Ordering;

use fngate_spec::{PathPattern, PathSegment};
use http::Method;

/// The methods a route accepts (`ANY` = all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MethodSet {
    Any,
    Only(Vec<Method>),
}

impl MethodSet {
    pub fn allows(&self, method: &Method) -> bool {
        match self {
            MethodSet::Any => true,
            MethodSet::Only(methods) => methods.iter().any(|m| m == method),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            MethodSet::Any => vec!["ANY".into()],
            MethodSet::Only(methods) => methods.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// What a route table entry must tell the matcher.
pub(crate) trait Routable {
    fn pattern(&self) -> &PathPattern;
    fn methods(&self) -> &MethodSet;
}

/// The answer for one request path and method.
#[derive(Debug)]
pub(crate) enum RouteMatch<'r, R> {
    /// The first route whose path and method match, and its path parameters (values keep their
    /// percent-encoding, as OCI does).
    Found {
        route: &'r R,
        params: Vec<(String, String)>,
    },
    /// Some route's path matches, none for this method: `route` is the first path match (its
    /// policies answer the 405), `allowed` the methods the path's routes take, for `Allow`.
    MethodNotAllowed {
        route: &'r R,
        allowed: Vec<String>,
    },
    NotFound,
}

/// Finds the route for `method` on `path` (relative to the deployment prefix: `""`, `/`,
/// `/items/42`; normalised) among `routes` (in precedence order).
pub(crate) fn find<'r, R: Routable>(routes: &'r [R], method: &Method, path: &str) -> RouteMatch<'r, R> {
    let request = RequestPath::new(path);
    let mut params = Vec::new();
    let mut path_matched: Option<&R> = None;
    let mut allowed: Vec<String> = Vec::new();
    for route in routes {
        if !matches(route.pattern(), &request, &mut params) {
            continue;
        }
        if route.methods().allows(method) {
            return RouteMatch::Found { route, params };
        }
        path_matched.get_or_insert(route);
        for name in route.methods().names() {
            if !allowed.contains(&name) {
                allowed.push(name);
            }
        }
    }
    match path_matched {
        Some(route) => RouteMatch::MethodNotAllowed { route, allowed },
        None => RouteMatch::NotFound,
    }
}

/// The first route (most specific) whose path matches, whatever its methods.
pub(crate) fn first_path_match<'r, R: Routable>(routes: &'r [R], path: &str) -> Option<&'r R> {
    let request = RequestPath::new(path);
    let mut params = Vec::new();
    routes.iter().find(|r| matches(r.pattern(), &request, &mut params))
}

/// A request path split for matching: segments, and whether it ends with `/`.
struct RequestPath<'p> {
    segments: Vec<&'p str>,
    trailing_slash: bool,
}

impl<'p> RequestPath<'p> {
    fn new(path: &'p str) -> Self {
        let body = path.strip_prefix('/').unwrap_or(path);
        let trailing_slash = body.ends_with('/');
        let body = body.strip_suffix('/').unwrap_or(body);
        let segments = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        RequestPath {
            segments,
            trailing_slash,
        }
    }
}

/// Whether `pattern` matches; fills `params` on success. A wildcard takes the rest of the path
/// with its trailing slash (`/hello/{w*}` on `/hello/a/b/` gives `w = a/b/`); without one, the
/// trailing slash must agree (`/dir/` is not `/dir`).
fn matches(pattern: &PathPattern, request: &RequestPath<'_>, params: &mut Vec<(String, String)>) -> bool {
    params.clear();
    let segs = &request.segments;
    for (i, segment) in pattern.segments.iter().enumerate() {
        match segment {
            PathSegment::Wildcard(name) => {
                let mut value = segs.get(i..).unwrap_or_default().join("/");
                if request.trailing_slash && !value.is_empty() {
                    value.push('/');
                }
                params.push((name.clone(), value));
                return true;
            }
            PathSegment::Literal(expected) => {
                if segs.get(i) != Some(&expected.as_str()) {
                    return false;
                }
            }
            PathSegment::Param(name) => match segs.get(i) {
                Some(value) => params.push((name.clone(), (*value).to_string())),
                None => return false,
            },
        }
    }
    pattern.segments.len() == segs.len() && pattern.trailing_slash == (request.trailing_slash && !segs.is_empty())
}

/// Precedence: compares segment by segment, literal before param before wildcard; at equal
/// kinds the longer pattern (a trailing slash counting as one more literal) wins.
pub(crate) fn precedence(a: &PathPattern, b: &PathPattern) -> Ordering {
    fn rank(s: &PathSegment) -> u8 {
        match s {
            PathSegment::Literal(_) => 0,
            PathSegment::Param(_) => 1,
            PathSegment::Wildcard(_) => 2,
        }
    }
    for (x, y) in a.segments.iter().zip(&b.segments) {
        let ord = rank(x).cmp(&rank(y));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let len = |p: &PathPattern| p.segments.len() + usize::from(p.trailing_slash);
    len(b).cmp(&len(a))
}

/// The pattern with its literal segments normalised as request paths are, so they compare equal.
pub(crate) fn normalise_pattern(pattern: &PathPattern) -> Result<PathPattern, String> {
    let segments = pattern
        .segments
        .iter()
        .map(|s| match s {
            PathSegment::Literal(text) => crate::path::normalise_literal(text).map(PathSegment::Literal),
            other => Ok(other.clone()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PathPattern {
        segments,
        trailing_slash: pattern.trailing_slash,
    })
}

/// The name of the pattern's `{name*}` wildcard, if it ends with one.
pub(crate) fn wildcard_name(pattern: &PathPattern) -> Option<&str> {
    match pattern.segments.last() {
        Some(PathSegment::Wildcard(name)) => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route as plain data: a pattern and its methods.
    #[derive(Debug)]
    struct R(PathPattern, MethodSet);

    impl Routable for R {
        fn pattern(&self) -> &PathPattern {
            &self.0
        }
        fn methods(&self) -> &MethodSet {
            &self.1
        }
    }

    fn any(pattern: &str) -> R {
        R(PathPattern::parse(pattern).unwrap(), MethodSet::Any)
    }

    fn only(pattern: &str, methods: &[Method]) -> R {
        R(PathPattern::parse(pattern).unwrap(), MethodSet::Only(methods.to_vec()))
    }

    fn m(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        let routes = [any(pattern)];
        match find(&routes, &Method::GET, path) {
            RouteMatch::Found { params, .. } => Some(params),
            _ => None,
        }
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn literals_params_and_wildcards() {
        assert_eq!(m("/health", "/health"), Some(vec![]));
        assert_eq!(m("/health", "/health/"), None);
        assert_eq!(m("/health", "/healthz"), None);
        assert_eq!(m("/", "/"), Some(vec![]));
        assert_eq!(m("/", ""), Some(vec![]));
        assert_eq!(m("/", "/x"), None);
        assert_eq!(m("/items/{id}", "/items/42"), Some(kv(&[("id", "42")])));
        assert_eq!(m("/items/{id}", "/items/"), None);
        assert_eq!(m("/items/{id}", "/items"), None);
        assert_eq!(m("/items/{id}", "/items/4/2"), None);
        assert_eq!(
            m("/a/{x}/b/{y}", "/a/1/b/San+Jos%C3%A9"),
            Some(kv(&[("x", "1"), ("y", "San+Jos%C3%A9")]))
        );
        assert_eq!(m("/hello/{w*}", "/hello/"), Some(kv(&[("w", "")])));
        assert_eq!(m("/hello/{w*}", "/hello"), Some(kv(&[("w", "")])));
        assert_eq!(m("/hello/{w*}", "/hello/top.html"), Some(kv(&[("w", "top.html")])));
        assert_eq!(
            m("/hello/{w*}", "/hello/apac/introduction/"),
            Some(kv(&[("w", "apac/introduction/")]))
        );
        assert_eq!(m("/hello/{w*}", "/helloworld"), None);
        assert_eq!(m("/{all*}", "/"), Some(kv(&[("all", "")])));
        assert_eq!(m("/{all*}", "/a/b"), Some(kv(&[("all", "a/b")])));
        assert_eq!(m("/dir/", "/dir/"), Some(vec![]));
        assert_eq!(m("/dir/", "/dir"), None);
    }

    #[test]
    fn the_gateway_takes_only_what_the_spec_parses() {
        // The spec refuses `/a/{w*}/` (the gateway's own parser used to accept it): one grammar.
        assert!(PathPattern::parse("/a/{w*}/").is_err());
    }

    #[test]
    fn found_method_not_allowed_and_not_found() {
        let mut routes = vec![
            only("/items/{id}", &[Method::GET]),
            only("/items/{id}", &[Method::PUT, Method::DELETE]),
            any("/pub/{rest*}"),
        ];
        routes.sort_by(|a, b| precedence(&a.0, &b.0));
        match find(&routes, &Method::DELETE, "/items/7") {
            RouteMatch::Found { route, params } => {
                assert!(route.1.allows(&Method::DELETE));
                assert_eq!(params, kv(&[("id", "7")]));
            }
            other => panic!("{other:?}"),
        }
        match find(&routes, &Method::POST, "/items/7") {
            RouteMatch::MethodNotAllowed { route, allowed } => {
                assert_eq!(allowed, ["GET", "PUT", "DELETE"]);
                assert_eq!(route.1, MethodSet::Only(vec![Method::GET]), "the first path match");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(find(&routes, &Method::GET, "/nope"), RouteMatch::NotFound));
        assert!(matches!(
            find(&routes, &Method::POST, "/pub/a/b"),
            RouteMatch::Found { .. }
        ));
        assert_eq!(
            first_path_match(&routes, "/items/1").map(|r| r.1.clone()),
            Some(MethodSet::Only(vec![Method::GET]))
        );
    }

    #[test]
    fn literal_beats_param_beats_wildcard() {
        let mut patterns: Vec<PathPattern> = ["/{all*}", "/items/{id}", "/items/new", "/items/{id*}", "/items/new/"]
            .iter()
            .map(|p| PathPattern::parse(p).unwrap())
            .collect();
        patterns.sort_by(precedence);
        let order: Vec<String> = patterns.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            ["/items/new/", "/items/new", "/items/{id}", "/items/{id*}", "/{all*}"]
        );
    }

    #[test]
    fn pattern_literals_compare_with_normalised_paths() {
        let pattern = normalise_pattern(&PathPattern::parse("/caf%c3%a9/%7Ex").unwrap()).unwrap();
        let routes = [R(pattern, MethodSet::Any)];
        assert!(matches!(
            find(&routes, &Method::GET, "/caf%C3%A9/~x"),
            RouteMatch::Found { .. }
        ));
        assert!(normalise_pattern(&PathPattern::parse("/a/../b").unwrap()).is_err());
        assert_eq!(wildcard_name(&PathPattern::parse("/a/{rest*}").unwrap()), Some("rest"));
    }
}
