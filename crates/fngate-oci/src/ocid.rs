//! OCIDs for fngate's objects: `ocid1.<type>.fngate..<unique>`, realm `fngate`, no region.
//!
//! The unique part is the object's own fngate id, so the Fn API and the OCI API name the same
//! object: an app or function's ULID lower-cased (`ocid1.fnfunc.fngate..01jx…` is Fn id
//! `01JX…`), a deployment's name, a gateway's or work request's ULID.

pub const APP: &str = "fnapp";
pub const FUNCTION: &str = "fnfunc";
pub const GATEWAY: &str = "apigateway";
pub const DEPLOYMENT: &str = "apideployment";
pub const WORK_REQUEST: &str = "apigatewayworkrequest";
pub const TENANCY: &str = "tenancy";

const REALM: &str = "fngate";

pub fn make(kind: &str, unique: &str) -> String {
    format!("ocid1.{kind}.{REALM}..{unique}")
}

/// The unique part of an OCID of `kind`, or `None` for anything else.
pub fn unique<'a>(kind: &str, ocid: &'a str) -> Option<&'a str> {
    let rest = ocid.strip_prefix("ocid1.")?.strip_prefix(kind)?;
    let unique = rest.strip_prefix('.')?.strip_prefix(REALM)?.strip_prefix("..")?;
    (!unique.is_empty()).then_some(unique)
}

/// An app or function's OCID from its Fn id (a ULID).
pub fn of_fn_id(kind: &str, fn_id: &str) -> String {
    make(kind, &fn_id.to_ascii_lowercase())
}

/// The Fn id (upper-case ULID, as Fn writes it) an app or function OCID names.
pub fn fn_id(kind: &str, ocid: &str) -> Option<String> {
    let unique = unique(kind, ocid)?;
    ulid::Ulid::from_string(unique).ok().map(|u| u.to_string())
}

/// A fresh unique part (lower-case ULID).
pub fn new_unique() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fn_ids_round_trip_and_other_kinds_are_refused() {
        let id = ulid::Ulid::new().to_string();
        let ocid = of_fn_id(FUNCTION, &id);
        assert!(ocid.starts_with("ocid1.fnfunc.fngate.."), "{ocid}");
        assert_eq!(fn_id(FUNCTION, &ocid), Some(id.clone()));
        assert_eq!(fn_id(APP, &ocid), None, "an app OCID never names a function");
        assert_eq!(fn_id(FUNCTION, "ocid1.fnfunc.oc1.phx.aaaa"), None, "another realm");
        assert_eq!(fn_id(FUNCTION, "ocid1.fnfunc.fngate..not-a-ulid"), None);
        assert_eq!(unique(DEPLOYMENT, "ocid1.apideployment.fngate..my.api"), Some("my.api"));
        assert_eq!(unique(DEPLOYMENT, "ocid1.apideployment.fngate.."), None);
    }
}
