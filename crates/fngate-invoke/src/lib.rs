//! fngate-invoke
