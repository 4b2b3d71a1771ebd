//! Context variables (reference §3): `${request.path[id]}` embedded in strings ([`Template`]),
//! and bare `request.headers[X-Api-Key]` expressions ([`ContextVar::parse`]) as used by
//! authorizer `parameters`, dynamic `selector`s and usage-plan `tokenLocations`.

use std::borrow::Cow;
use std::fmt;

/// A context table (`request.<table>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextTable {
    /// `request.path[param]`: matched path parameters (`{name*}` is read as `name`).
    Path,
    /// `request.query[name]`: query parameters (first value).
    Query,
    /// `request.headers[name]`: request headers (case-insensitive, first value).
    Headers,
    /// `request.auth[claim]`: JWT claims or authorizer `context` entries.
    Auth,
    /// `request.cert[client_base64]`: the mTLS client certificate.
    Cert,
    /// `request.host`: the `Host` header (no key).
    Host,
    /// `request.subdomain[example.com]`: the host minus the given trailing part.
    Subdomain,
    /// `request.usage_plan[...]`: the usage plan.
    UsagePlan,
    /// `request.body` (no key): only as an authorizer-function argument.
    Body,
}

impl ContextTable {
    const ALL: [ContextTable; 9] = [
        ContextTable::Path,
        ContextTable::Query,
        ContextTable::Headers,
        ContextTable::Auth,
        ContextTable::Cert,
        ContextTable::Host,
        ContextTable::Subdomain,
        ContextTable::UsagePlan,
        ContextTable::Body,
    ];

    /// The table's name after `request.` (`headers`, `host`).
    pub fn name(self) -> &'static str {
        match self {
            ContextTable::Path => "path",
            ContextTable::Query => "query",
            ContextTable::Headers => "headers",
            ContextTable::Auth => "auth",
            ContextTable::Cert => "cert",
            ContextTable::Host => "host",
            ContextTable::Subdomain => "subdomain",
            ContextTable::UsagePlan => "usage_plan",
            ContextTable::Body => "body",
        }
    }

    /// Whether the table is indexed by a key (`[...]`); `host` and `body` are not.
    pub fn has_key(self) -> bool {
        !matches!(self, ContextTable::Host | ContextTable::Body)
    }

    fn from_name(name: &str) -> Option<ContextTable> {
        ContextTable::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One context variable reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextVar {
    /// The table.
    pub table: ContextTable,
    /// The key inside `[...]`; `None` for `request.host` and `request.body`. Taken literally
    /// (a dot is part of the key).
    pub key: Option<String>,
    /// A second key, only for `request.auth[id_token_claims][sub]` style OIDC claims.
    pub subkey: Option<String>,
}

impl ContextVar {
    /// Parses a bare expression such as `request.headers[X-Api-Key]` or `request.host`.
    pub fn parse(text: &str) -> Result<ContextVar, String> {
        let expected = "expected request.path[..], request.query[..], request.headers[..], request.auth[..], \
                        request.cert[..], request.subdomain[..], request.usage_plan[..], request.host or request.body";
        let Some(rest) = text.strip_prefix("request.") else {
            return Err(format!("`{text}` is not a context variable; {expected}"));
        };
        let (name, brackets) = match rest.find('[') {
            Some(open) => (&rest[..open], &rest[open..]),
            None => (rest, ""),
        };
        let Some(table) = ContextTable::from_name(name) else {
            if name == "header" {
                return Err(format!(
                    "unknown context table `request.header`; did you mean `request.headers{brackets}`? (the OCI \
                     docstring example says request.header; the table is request.headers)"
                ));
            }
            return Err(format!("unknown context table `request.{name}`; {expected}"));
        };
        let keys = parse_keys(brackets).map_err(|e| format!("`{text}`: {e}"))?;
        match (table.has_key(), keys.as_slice()) {
            (false, []) => Ok(ContextVar {
                table,
                key: None,
                subkey: None,
            }),
            (false, _) => Err(format!("`request.{name}` takes no key")),
            (true, []) => Err(format!("`request.{name}` needs a key, as in `request.{name}[name]`")),
            (true, [key]) => Ok(ContextVar {
                table,
                key: Some(key.clone()),
                subkey: None,
            }),
            (true, [key, sub]) if table == ContextTable::Auth => Ok(ContextVar {
                table,
                key: Some(key.clone()),
                subkey: Some(sub.clone()),
            }),
            (true, _) => Err(format!("`{text}`: only request.auth takes a second key")),
        }
    }
}

/// Splits `[a][b]` into keys; keys are non-empty and contain no `[` or `]`.
fn parse_keys(mut text: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    while !text.is_empty() {
        let Some(inner) = text.strip_prefix('[') else {
            return Err(format!("unexpected `{text}` after the key"));
        };
        let Some(close) = inner.find(']') else {
            return Err("missing `]`".to_owned());
        };
        let key = &inner[..close];
        if key.is_empty() {
            return Err("empty key `[]`".to_owned());
        }
        if key.contains('[') {
            return Err(format!("`[` inside the key `{key}`"));
        }
        keys.push(key.to_owned());
        text = &inner[close + 1..];
    }
    Ok(keys)
}

impl fmt::Display for ContextVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request.{}", self.table.name())?;
        for key in self.key.iter().chain(self.subkey.iter()) {
            write!(f, "[{key}]")?;
        }
        Ok(())
    }
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text copied as is.
    Literal(String),
    /// A `${...}` reference, replaced by its value (empty when missing).
    Var {
        /// The table.
        table: ContextTable,
        /// The key (`None` for `request.host` / `request.body`).
        key: Option<String>,
        /// Second key for `request.auth[id_token_claims][claim]`.
        subkey: Option<String>,
    },
}

/// A string with embedded `${request....}` references. A `$` not followed by `{` is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The pieces, in order; adjacent literals are merged.
    pub parts: Vec<TemplatePart>,
}

impl Template {
    /// Parses a template; errors name the offending reference.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(TemplatePart::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated `${{` in `{text}`"));
            };
            let var = ContextVar::parse(after[..end].trim())?;
            parts.push(TemplatePart::Var {
                table: var.table,
                key: var.key,
                subkey: var.subkey,
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Whether the template has no variables.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, TemplatePart::Literal(_)))
    }

    /// The text itself when the template has no variables (rendering it changes nothing).
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [TemplatePart::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The variables referenced, in order.
    pub fn vars(&self) -> impl Iterator<Item = ContextVar> + '_ {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Literal(_) => None,
            TemplatePart::Var { table, key, subkey } => Some(ContextVar {
                table: *table,
                key: key.clone(),
                subkey: subkey.clone(),
            }),
        })
    }

    /// Substitutes every variable with `lookup`'s value; a missing value becomes the empty
    /// string (OCI's rule). Values are inserted as they are (no re-encoding).
    pub fn render<'a>(&self, mut lookup: impl FnMut(&ContextVar) -> Option<Cow<'a, str>>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Var { table, key, subkey } => {
                    let var = ContextVar {
                        table: *table,
                        key: key.clone(),
                        subkey: subkey.clone(),
                    };
                    if let Some(value) = lookup(&var) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(table: ContextTable, key: Option<&str>) -> TemplatePart {
        TemplatePart::Var {
            table,
            key: key.map(str::to_owned),
            subkey: None,
        }
    }

    #[test]
    fn parses_literals_and_every_table() {
        let t =
            Template::parse("https://x/${request.path[id]}?q=${request.query[q]}&h=${request.headers[X-A]}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                TemplatePart::Literal("https://x/".into()),
                var(ContextTable::Path, Some("id")),
                TemplatePart::Literal("?q=".into()),
                var(ContextTable::Query, Some("q")),
                TemplatePart::Literal("&h=".into()),
                var(ContextTable::Headers, Some("X-A")),
            ]
        );
        let t = Template::parse("${request.host}${request.subdomain[example.com]}${request.auth[a.b]}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                var(ContextTable::Host, None),
                var(ContextTable::Subdomain, Some("example.com")),
                var(ContextTable::Auth, Some("a.b")),
            ]
        );
        let t = Template::parse("${request.auth[id_token_claims][sub]}").unwrap();
        assert_eq!(
            t.parts,
            vec![TemplatePart::Var {
                table: ContextTable::Auth,
                key: Some("id_token_claims".into()),
                subkey: Some("sub".into())
            }]
        );
        assert!(Template::parse("cost: $5 {not a var}").unwrap().is_literal());
        assert_eq!(Template::parse("/a/b").unwrap().as_literal(), Some("/a/b"));
        assert_eq!(Template::parse("").unwrap().as_literal(), Some(""));
        assert_eq!(Template::parse("/a/${request.host}").unwrap().as_literal(), None);
    }

    #[test]
    fn rejects_malformed_references_with_a_reason() {
        let cases = [
            ("${request.path[id]", "unterminated `${` in `${request.path[id]`"),
            ("${request.nope[x]}", "unknown context table `request.nope`; expected"),
            ("${foo}", "`foo` is not a context variable"),
            ("${request.header[x]}", "did you mean `request.headers[x]`?"),
            ("${request.host[x]}", "`request.host` takes no key"),
            ("${request.query}", "`request.query` needs a key"),
            ("${request.query[]}", "empty key `[]`"),
            ("${request.path[a][b]}", "only request.auth takes a second key"),
        ];
        for (input, expected) in cases {
            let err = Template::parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn renders_missing_values_as_empty() {
        let t = Template::parse("a=${request.query[a]};b=${request.query[b]}").unwrap();
        let out = t.render(|v| (v.key.as_deref() == Some("a")).then_some(Cow::Borrowed("San+José")));
        assert_eq!(out, "a=San+José;b=");
    }

    #[test]
    fn bare_expressions_round_trip_through_display() {
        for text in [
            "request.headers[X-Api-Key]",
            "request.host",
            "request.body",
            "request.auth[a][b]",
        ] {
            assert_eq!(ContextVar::parse(text).unwrap().to_string(), text);
        }
    }
}
