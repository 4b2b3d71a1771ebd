//! fngate-store
