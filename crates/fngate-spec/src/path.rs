//! Route path patterns (reference §1.1) and deployment path prefixes.

use std::fmt;

use crate::limits::{MAX_PATH_PREFIX_LEN, MAX_ROUTE_PATH_LEN};

/// A parsed route path such as `/items/{id}` or `/static/{path*}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathPattern {
    /// The segments between slashes (empty for `/`).
    pub segments: Vec<PathSegment>,
    /// Whether the pattern ends with `/` (`/hello/`); `/` alone has no segments and no trailing
    /// slash.
    pub trailing_slash: bool,
}

/// One segment of a [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// Matches exactly this text.
    Literal(String),
    /// `{name}`: exactly one segment, available as `request.path[name]`.
    Param(String),
    /// `{name*}`: the rest of the path (zero, one or many segments), as `request.path[name]`.
    Wildcard(String),
}

impl PathPattern {
    /// Parses and checks a route path: starts with `/`, no adjacent slashes, OCI's character
    /// set, parameters are whole segments with `[A-Za-z0-9_]` names, a wildcard only last, no
    /// parameter name twice, at most 2,000 characters.
    pub fn parse(path: &str) -> Result<PathPattern, String> {
        if path.len() > MAX_ROUTE_PATH_LEN {
            return Err(format!(
                "is {} characters long; OCI allows at most {MAX_ROUTE_PATH_LEN}",
                path.len()
            ));
        }
        let body = check_slashes(path)?;
        if body.is_empty() {
            return Ok(PathPattern {
                segments: Vec::new(),
                trailing_slash: false,
            });
        }
        let trailing_slash = body.ends_with('/');
        let raw: Vec<&str> = body.trim_end_matches('/').split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            let segment = parse_segment(text)?;
            if let PathSegment::Wildcard(name) = &segment
                && (i + 1 < raw.len() || trailing_slash)
            {
                return Err(format!("the wildcard `{{{name}*}}` must be the last segment"));
            }
            let name = match &segment {
                PathSegment::Param(name) | PathSegment::Wildcard(name) => Some(name),
                PathSegment::Literal(_) => None,
            };
            if let Some(name) = name
                && segments
                    .iter()
                    .any(|s| matches!(s, PathSegment::Param(n) | PathSegment::Wildcard(n) if n == name))
            {
                return Err(format!("the parameter name `{name}` is used twice"));
            }
            segments.push(segment);
        }
        Ok(PathPattern {
            segments,
            trailing_slash,
        })
    }

    /// The parameter names, in order (wildcards without the `*`).
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            PathSegment::Param(name) | PathSegment::Wildcard(name) => Some(name.as_str()),
            PathSegment::Literal(_) => None,
        })
    }

    /// Whether the pattern ends with a `{name*}` wildcard.
    pub fn has_wildcard(&self) -> bool {
        matches!(self.segments.last(), Some(PathSegment::Wildcard(_)))
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            match segment {
                PathSegment::Literal(text) => write!(f, "/{text}")?,
                PathSegment::Param(name) => write!(f, "/{{{name}}}")?,
                PathSegment::Wildcard(name) => write!(f, "/{{{name}*}}")?,
            }
        }
        if self.trailing_slash {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// Checks a deployment path prefix: starts with `/`, at most 255 characters, no adjacent
/// slashes, no trailing slash (unless it is just `/`), OCI's character set, and no parameters
/// or wildcards.
pub fn validate_path_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PATH_PREFIX_LEN {
        return Err(format!(
            "the path prefix is {} characters long; OCI allows at most {MAX_PATH_PREFIX_LEN}",
            prefix.len()
        ));
    }
    let body = check_slashes(prefix).map_err(|e| format!("the path prefix {e}"))?;
    if body.ends_with('/') {
        return Err("the path prefix must not end with `/` (unless it is just `/`)".to_owned());
    }
    if let Some(c) = body.chars().find(|c| *c != '/' && !is_path_char(*c)) {
        let what = if c == '{' || c == '}' {
            " (path prefixes cannot have parameters)"
        } else {
            ""
        };
        return Err(format!(
            "the path prefix contains `{c}`, which OCI does not allow{what}"
        ));
    }
    Ok(())
}

/// Leading slash and no `//`; returns the text after the leading slash.
fn check_slashes(path: &str) -> Result<&str, String> {
    let Some(body) = path.strip_prefix('/') else {
        return Err(format!("must start with `/` (got `{path}`)"));
    };
    if path.contains("//") {
        return Err("must not contain adjacent slashes `//`".to_owned());
    }
    Ok(body)
}

fn parse_segment(text: &str) -> Result<PathSegment, String> {
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let (name, wildcard) = match inner.strip_suffix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "the parameter `{{{inner}}}` must be named with letters, digits and `_` only"
            ));
        }
        return Ok(if wildcard {
            PathSegment::Wildcard(name.to_owned())
        } else {
            PathSegment::Param(name.to_owned())
        });
    }
    if text.contains('{') || text.contains('}') {
        return Err(format!(
            "the segment `{text}` mixes text and a parameter; a parameter must be a whole segment"
        ));
    }
    if let Some(c) = text.chars().find(|c| !is_path_char(*c)) {
        return Err(format!(
            "contains `{c}`, which OCI does not allow (letters, digits and $ - _ . + ! * ' ( ) , % ; : @ & = only)"
        ));
    }
    Ok(PathSegment::Literal(text.to_owned()))
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "$-_.+!*'(),%;:@&=".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_wildcards_and_trailing_slashes() {
        let p = PathPattern::parse("/hello/{region}/index.html").unwrap();
        assert_eq!(
            p.segments,
            vec![
                PathSegment::Literal("hello".into()),
                PathSegment::Param("region".into()),
                PathSegment::Literal("index.html".into())
            ]
        );
        let p = PathPattern::parse("/static/{path*}").unwrap();
        assert!(p.has_wildcard());
        assert_eq!(p.param_names().collect::<Vec<_>>(), vec!["path"]);
        assert_eq!(PathPattern::parse("/").unwrap().segments, vec![]);
        let p = PathPattern::parse("/hello/").unwrap();
        assert!(p.trailing_slash);
        for text in ["/", "/hello/", "/items/{id}", "/static/{path*}", "/a;b=c/$x"] {
            assert_eq!(PathPattern::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_paths_with_reasons() {
        let cases = [
            ("items", "must start with `/` (got `items`)"),
            ("/a//b", "must not contain adjacent slashes `//`"),
            ("/a/{p*}/b", "the wildcard `{p*}` must be the last segment"),
            ("/a/{p*}/", "the wildcard `{p*}` must be the last segment"),
            (
                "/a/{my id}",
                "the parameter `{my id}` must be named with letters, digits and `_` only",
            ),
            ("/a/{}", "the parameter `{}` must be named"),
            ("/file-{id}.json", "mixes text and a parameter"),
            ("/a/{id}/{id}", "the parameter name `id` is used twice"),
            ("/a b", "contains ` `, which OCI does not allow"),
            ("/a?b", "contains `?`"),
        ];
        for (input, expected) in cases {
            let err = PathPattern::parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
        assert!(
            PathPattern::parse(&format!("/{}", "a".repeat(2000)))
                .unwrap_err()
                .contains("at most 2000")
        );
    }

    #[test]
    fn path_prefixes() {
        for ok in ["/", "/v1", "/api/v1", "/a-b_c.d"] {
            assert_eq!(validate_path_prefix(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("v1", "the path prefix must start with `/` (got `v1`)"),
            ("/v1/", "the path prefix must not end with `/` (unless it is just `/`)"),
            ("/a//b", "the path prefix must not contain adjacent slashes `//`"),
            (
                "/{v}",
                "the path prefix contains `{`, which OCI does not allow (path prefixes cannot have parameters)",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(validate_path_prefix(input).unwrap_err(), expected, "{input}");
        }
        assert!(
            validate_path_prefix(&format!("/{}", "a".repeat(255)))
                .unwrap_err()
                .contains("at most 255")
        );
    }
}
