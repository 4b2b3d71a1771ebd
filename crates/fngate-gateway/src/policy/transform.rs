//! Header and query-parameter transformations: filter, then rename, then set (each value its own
//! instance; `ifExists` OVERWRITE | APPEND | SKIP). Header names are case-insensitive, query
//! parameter names case-sensitive.

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::context::{RequestContext, Template};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfExists {
    Overwrite,
    Append,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterKind {
    Allow,
    Block,
}

#[derive(Debug, Clone)]
pub(crate) struct SetItem<N> {
    pub name: N,
    pub values: Vec<Template>,
    pub if_exists: IfExists,
}

/// One `HeaderTransformationPolicy`.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderTransforms {
    pub filter: Option<(FilterKind, Vec<HeaderName>)>,
    pub rename: Vec<(HeaderName, HeaderName)>,
    pub set: Vec<SetItem<HeaderName>>,
}

impl HeaderTransforms {
    pub fn is_empty(&self) -> bool {
        self.filter.is_none() && self.rename.is_empty() && self.set.is_empty()
    }

    /// Applies the policy to `headers`; `ctx` supplies context variables for set values.
    pub fn apply(&self, headers: &mut HeaderMap, ctx: &RequestContext<'_>) {
        if let Some((kind, names)) = &self.filter {
            match kind {
                FilterKind::Block => {
                    for name in names {
                        headers.remove(name);
                    }
                }
                FilterKind::Allow => {
                    let keep: Vec<HeaderName> = headers.keys().filter(|k| names.contains(k)).cloned().collect();
                    let mut kept = HeaderMap::new();
                    for name in keep {
                        for value in headers.get_all(&name) {
                            kept.append(name.clone(), value.clone());
                        }
                    }
                    *headers = kept;
                }
            }
        }
        for (from, to) in &self.rename {
            let values: Vec<HeaderValue> = headers.get_all(from).iter().cloned().collect();
            if values.is_empty() {
                continue;
            }
            headers.remove(from);
            headers.remove(to);
            for value in values {
                headers.append(to.clone(), value);
            }
        }
        for item in &self.set {
            let exists = headers.contains_key(&item.name);
            match (item.if_exists, exists) {
                (IfExists::Skip, true) => continue,
                (IfExists::Overwrite, true) => {
                    headers.remove(&item.name);
                }
                _ => {}
            }
            for template in &item.values {
                let text = ctx.render(template);
                // A substituted value that is not a valid header value is dropped, not forwarded raw.
                if let Ok(value) = HeaderValue::from_str(&text) {
                    headers.append(item.name.clone(), value);
                }
            }
        }
    }
}

/// One `queryParameterTransformations` policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryTransforms {
    pub filter: Option<(FilterKind, Vec<String>)>,
    pub rename: Vec<(String, String)>,
    pub set: Vec<SetItem<String>>,
}

/// Characters a set value may not carry raw in a query string.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'&')
    .add(b'<')
    .add(b'>')
    .add(b'+');

impl QueryTransforms {
    pub fn is_empty(&self) -> bool {
        self.filter.is_none() && self.rename.is_empty() && self.set.is_empty()
    }

    /// Transforms raw query pairs (names compared case-sensitively).
    pub fn apply(&self, pairs: &mut Vec<(String, String)>, ctx: &RequestContext<'_>) {
        if let Some((kind, names)) = &self.filter {
            let listed = |n: &String| names.iter().any(|m| m == n);
            match kind {
                FilterKind::Block => pairs.retain(|(n, _)| !listed(n)),
                FilterKind::Allow => pairs.retain(|(n, _)| listed(n)),
            }
        }
        for (from, to) in &self.rename {
            if pairs.iter().any(|(n, _)| n == from) {
                pairs.retain(|(n, _)| n != to);
                for (n, _) in pairs.iter_mut() {
                    if n == from {
                        *n = to.clone();
                    }
                }
            }
        }
        for item in &self.set {
            let exists = pairs.iter().any(|(n, _)| n == &item.name);
            match (item.if_exists, exists) {
                (IfExists::Skip, true) => continue,
                (IfExists::Overwrite, true) => pairs.retain(|(n, _)| n != &item.name),
                _ => {}
            }
            for template in &item.values {
                let value = utf8_percent_encode(&ctx.render(template), QUERY_VALUE).to_string();
                pairs.push((item.name.clone(), value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &str) -> Template {
        Template::parse(v).unwrap()
    }

    #[test]
    fn header_filter_rename_set() {
        let mut h = HeaderMap::new();
        h.insert("x-debug", "1".parse().unwrap());
        h.insert("x-old", "o".parse().unwrap());
        h.insert("x-keep", "k".parse().unwrap());
        h.insert("cache-control", "public".parse().unwrap());
        let policy = HeaderTransforms {
            filter: Some((FilterKind::Block, vec![HeaderName::from_static("x-debug")])),
            rename: vec![(HeaderName::from_static("x-old"), HeaderName::from_static("x-new"))],
            set: vec![
                SetItem {
                    name: HeaderName::from_static("cache-control"),
                    values: vec![t("no-store")],
                    if_exists: IfExists::Skip,
                },
                SetItem {
                    name: HeaderName::from_static("x-keep"),
                    values: vec![t("a"), t("b")],
                    if_exists: IfExists::Append,
                },
                SetItem {
                    name: HeaderName::from_static("x-host"),
                    values: vec![t("${request.host}")],
                    if_exists: IfExists::Overwrite,
                },
            ],
        };
        let ctx_headers = HeaderMap::new();
        let ctx = RequestContext {
            path_params: &[],
            query: &[],
            headers: &ctx_headers,
            auth: None,
            host: "gw.example.com",
            wildcard: None,
        };
        policy.apply(&mut h, &ctx);
        assert!(!h.contains_key("x-debug"));
        assert!(!h.contains_key("x-old"));
        assert_eq!(h["x-new"], "o");
        assert_eq!(h["cache-control"], "public");
        let keep: Vec<_> = h.get_all("x-keep").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(keep, ["k", "a", "b"]);
        assert_eq!(h["x-host"], "gw.example.com");

        let allow = HeaderTransforms {
            filter: Some((FilterKind::Allow, vec![HeaderName::from_static("x-new")])),
            ..Default::default()
        };
        allow.apply(&mut h, &RequestContext::empty_with(&ctx_headers));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn query_is_case_sensitive_and_encodes_set_values() {
        let mut q = crate::context::split_query("a=1&A=2&old=x&drop=y");
        let policy = QueryTransforms {
            filter: Some((FilterKind::Block, vec!["drop".into()])),
            rename: vec![("old".into(), "new".into())],
            set: vec![SetItem {
                name: "a".into(),
                values: vec![t("hello world&more")],
                if_exists: IfExists::Overwrite,
            }],
        };
        let headers = HeaderMap::new();
        policy.apply(&mut q, &RequestContext::empty_with(&headers));
        assert_eq!(crate::context::join_query(&q), "A=2&new=x&a=hello%20world%26more");
    }
}
