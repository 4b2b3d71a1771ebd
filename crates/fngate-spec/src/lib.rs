//! fngate-spec
