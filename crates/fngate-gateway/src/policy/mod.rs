//! Request policies, one module per stage. The pipeline (`crate::pipeline`) runs them in the
//! order OCI documents: CORS → rate limit → authentication/authorization → validation →
//! transformations, then the backend, then response transformations.

pub(crate) mod auth;
pub(crate) mod cors;
pub(crate) mod rate_limit;
pub(crate) mod shared_limit;
pub(crate) mod transform;
pub(crate) mod validate;
