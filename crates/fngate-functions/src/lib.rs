//! fngate-functions
