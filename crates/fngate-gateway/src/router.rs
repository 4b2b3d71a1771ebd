//! Route matching inside one deployment: `/static`, `{param}` (one segment) and `{name*}` (zero or
//! more segments). Routes are ordered once at load time, most specific first (static > param >
//! wildcard, segment by segment), so a request takes the first route that matches.

use std::cmp::Ordering;

use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Static(String),
    Param(String),
    /// Matches the rest of the path (zero or more segments); only last.
    Wildcard(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    segments: Vec<Segment>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PatternError {
    #[error("must start with '/'")]
    NoLeadingSlash,
    #[error("must not contain adjacent slashes")]
    AdjacentSlashes,
    #[error("segment {0:?} mixes a parameter with other text; a parameter must be a whole segment")]
    MixedSegment(String),
    #[error("parameter name {0:?} may use only letters, digits and '_'")]
    BadParamName(String),
    #[error("the wildcard {0:?} must be the last segment")]
    WildcardNotLast(String),
    #[error("parameter {0:?} appears twice")]
    DuplicateParam(String),
}

impl PathPattern {
    pub fn parse(path: &str) -> Result<Self, PatternError> {
        let rest = path.strip_prefix('/').ok_or(PatternError::NoLeadingSlash)?;
        let mut segments = Vec::new();
        if rest.is_empty() {
            return Ok(PathPattern { segments });
        }
        let raw: Vec<&str> = rest.split('/').collect();
        for (i, seg) in raw.iter().enumerate() {
            let last = i + 1 == raw.len();
            if seg.is_empty() && !last {
                return Err(PatternError::AdjacentSlashes);
            }
            let segment = if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, wildcard) = match inner.strip_suffix('*') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(PatternError::BadParamName(name.to_string()));
                }
                if wildcard {
                    // `/a/{w*}/` is accepted as `/a/{w*}`: the wildcard already spans the slash.
                    let trailing_slash_only = i + 2 == raw.len() && raw[i + 1].is_empty();
                    if !last && !trailing_slash_only {
                        return Err(PatternError::WildcardNotLast(name.to_string()));
                    }
                    Segment::Wildcard(name.to_string())
                } else {
                    Segment::Param(name.to_string())
                }
            } else if seg.contains('{') || seg.contains('}') {
                return Err(PatternError::MixedSegment(seg.to_string()));
            } else {
                Segment::Static(seg.to_string())
            };
            let is_wildcard = matches!(segment, Segment::Wildcard(_));
            if let Segment::Param(n) | Segment::Wildcard(n) = &segment
                && segments
                    .iter()
                    .any(|s| matches!(s, Segment::Param(m) | Segment::Wildcard(m) if m == n))
            {
                return Err(PatternError::DuplicateParam(n.clone()));
            }
            segments.push(segment);
            if is_wildcard {
                break;
            }
        }
        Ok(PathPattern { segments })
    }

    /// Matches the segments of a path relative to the deployment prefix (see [`split_path`]),
    /// filling `params` on success. Values keep their URL encoding (OCI does).
    pub fn matches(&self, segs: &[&str], params: &mut Vec<(String, String)>) -> bool {
        params.clear();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Wildcard(name) => {
                    params.push((name.clone(), segs.get(i..).unwrap_or_default().join("/")));
                    return true;
                }
                Segment::Static(expected) => {
                    if segs.get(i) != Some(&expected.as_str()) {
                        return false;
                    }
                }
                Segment::Param(name) => match segs.get(i) {
                    Some(value) if !value.is_empty() => params.push((name.clone(), value.to_string())),
                    _ => return false,
                },
            }
        }
        self.segments.len() == segs.len()
    }

    /// Precedence: compares segment by segment, static before param before wildcard; at equal
    /// kinds the longer pattern wins.
    pub fn precedence(&self, other: &Self) -> Ordering {
        fn rank(s: &Segment) -> u8 {
            match s {
                Segment::Static(_) => 0,
                Segment::Param(_) => 1,
                Segment::Wildcard(_) => 2,
            }
        }
        for (a, b) in self.segments.iter().zip(&other.segments) {
            let ord = rank(a).cmp(&rank(b));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        other.segments.len().cmp(&self.segments.len())
    }
}

/// Splits a path relative to the prefix: `""` and `"/"` are the root (no segments); a trailing
/// slash is an empty last segment.
pub(crate) fn split_path(path: &str) -> Vec<&str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        let p = PathPattern::parse(pattern).unwrap();
        let mut params = Vec::new();
        p.matches(&split_path(path), &mut params).then_some(params)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn static_params_and_wildcards() {
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
    fn bad_patterns_are_refused() {
        assert_eq!(PathPattern::parse("x"), Err(PatternError::NoLeadingSlash));
        assert_eq!(PathPattern::parse("/a//b"), Err(PatternError::AdjacentSlashes));
        assert!(matches!(
            PathPattern::parse("/a/{x}.html"),
            Err(PatternError::MixedSegment(_))
        ));
        assert!(matches!(
            PathPattern::parse("/a/{x-y}"),
            Err(PatternError::BadParamName(_))
        ));
        assert!(matches!(
            PathPattern::parse("/{w*}/b"),
            Err(PatternError::WildcardNotLast(_))
        ));
        assert!(matches!(
            PathPattern::parse("/{a}/{a}"),
            Err(PatternError::DuplicateParam(_))
        ));
    }

    #[test]
    fn static_beats_param_beats_wildcard() {
        let mut patterns: Vec<PathPattern> = ["/{all*}", "/items/{id}", "/items/new", "/items/{id*}"]
            .iter()
            .map(|p| PathPattern::parse(p).unwrap())
            .collect();
        patterns.sort_by(|a, b| a.precedence(b));
        let order: Vec<PathPattern> = ["/items/new", "/items/{id}", "/items/{id*}", "/{all*}"]
            .iter()
            .map(|p| PathPattern::parse(p).unwrap())
            .collect();
        assert_eq!(patterns, order);
    }
}
