//! fngate-gateway
