//! fngate-idp
