//! fngate-auth
