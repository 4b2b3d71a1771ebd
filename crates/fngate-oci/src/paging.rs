//! OCI list paging and sorting: `limit`, `page` (the previous answer's `opc-next-page`),
//! `sortBy`, `sortOrder`. Lists are built in memory (control plane, small), sorted, then cut.
//!
//! The page token is an opaque offset into the sorted list: an object created or deleted between
//! two pages can shift the rest by one (documented in docs/notes/oci.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{OciError, OciResult};

/// How one list call pages and sorts.
pub struct ListParams<'a> {
    pub limit: Option<&'a str>,
    pub page: Option<&'a str>,
    pub sort_by: Option<&'a str>,
    pub sort_order: Option<&'a str>,
}

/// One sortable item: its `timeCreated`, `displayName` and `id`.
pub trait Sortable {
    fn time_created(&self) -> &str;
    fn display_name(&self) -> &str;
    fn id(&self) -> &str;
}

/// Limits of one API: its default and largest page.
pub struct Limits {
    pub default: usize,
    pub max: usize,
    /// The sort used without `sortBy`.
    pub default_sort: &'static str,
    /// `sortBy` values this API accepts.
    pub sort_fields: &'static [&'static str],
}

/// Sorts `items`, returns the page asked for and the next page's token (`opc-next-page`).
pub fn page<T: Sortable>(
    mut items: Vec<T>,
    params: &ListParams,
    limits: &Limits,
) -> OciResult<(Vec<T>, Option<String>)> {
    let limit = match params.limit {
        None => limits.default,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=limits.max).contains(&n) => n,
            _ => {
                return Err(OciError::invalid(format!(
                    "limit must be a whole number from 1 to {}, got {text:?}",
                    limits.max
                )));
            }
        },
    };
    let sort_by = params.sort_by.unwrap_or(limits.default_sort);
    if !limits.sort_fields.contains(&sort_by) {
        return Err(OciError::invalid(format!(
            "sortBy must be one of {}, got {sort_by:?}",
            limits.sort_fields.join(", ")
        )));
    }
    // OCI: timeCreated sorts newest first unless asked otherwise; names and ids ascending.
    let descending = match params.sort_order {
        None => sort_by == "timeCreated",
        Some(order) if order.eq_ignore_ascii_case("ASC") => false,
        Some(order) if order.eq_ignore_ascii_case("DESC") => true,
        Some(other) => {
            return Err(OciError::invalid(format!(
                "sortOrder must be ASC or DESC, got {other:?}"
            )));
        }
    };
    items.sort_by(|a, b| {
        let key = match sort_by {
            "timeCreated" => a.time_created().cmp(b.time_created()),
            "displayName" => a.display_name().to_lowercase().cmp(&b.display_name().to_lowercase()),
            _ => std::cmp::Ordering::Equal,
        };
        key.then_with(|| a.id().cmp(b.id()))
    });
    if descending {
        items.reverse();
    }
    let start = match params.page.filter(|p| !p.is_empty()) {
        None => 0,
        Some(token) => decode(token)
            .ok_or_else(|| OciError::invalid(format!("page token {token:?} is not one this server issued")))?,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| encode(end));
    let page = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
    Ok((page, next))
}

fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("fngate:{offset}"))
}

fn decode(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("fngate:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(&'static str, &'static str, &'static str);
    impl Sortable for Item {
        fn time_created(&self) -> &str {
            self.0
        }
        fn display_name(&self) -> &str {
            self.1
        }
        fn id(&self) -> &str {
            self.2
        }
    }

    const LIMITS: Limits = Limits {
        default: 2,
        max: 50,
        default_sort: "displayName",
        sort_fields: &["timeCreated", "displayName", "id"],
    };

    fn items() -> Vec<Item> {
        vec![Item("2", "b", "x"), Item("1", "C", "y"), Item("3", "a", "z")]
    }

    fn names(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.1).collect()
    }

    #[test]
    fn pages_follow_the_sort_to_the_end() {
        let params = ListParams {
            limit: None,
            page: None,
            sort_by: None,
            sort_order: None,
        };
        let (first, next) = page(items(), &params, &LIMITS).unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        let next = next.expect("a second page");
        let (second, last) = page(
            items(),
            &ListParams {
                page: Some(&next),
                ..params
            },
            &LIMITS,
        )
        .unwrap();
        assert_eq!(names(&second), ["C"]);
        assert!(last.is_none());

        let newest_first = ListParams {
            limit: Some("3"),
            page: None,
            sort_by: Some("timeCreated"),
            sort_order: None,
        };
        assert_eq!(
            names(&page(items(), &newest_first, &LIMITS).unwrap().0),
            ["a", "b", "C"]
        );
    }

    #[test]
    fn bad_parameters_are_400s() {
        for (limit, page_token, sort_by, order) in [
            (Some("0"), None, None, None),
            (Some("51"), None, None, None),
            (Some("x"), None, None, None),
            (None, Some("garbage"), None, None),
            (None, None, Some("size"), None),
            (None, None, None, Some("UP")),
        ] {
            let params = ListParams {
                limit,
                page: page_token,
                sort_by,
                sort_order: order,
            };
            let err = page(items(), &params, &LIMITS).err().expect("refused");
            assert_eq!(err.code, "InvalidParameter");
        }
    }
}
