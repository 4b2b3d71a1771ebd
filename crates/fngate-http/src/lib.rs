//! HTTP/runtime helpers shared by fngate's listeners (gateway, functions, IdP, admin); depends on
//! no other fngate crate.
//!
//! Modules: `listener` (accepting under a per-listener cap, until shutdown), `connection` (one
//! connection's header, keep-alive and body timeouts), `limits` (those settings), `body_timeout`
//! (the body-read timeout), `serve_router` (an axum router on a listener), `drain` (the keep-alive
//! grace when a listener closes), `error_chain` (an error and its sources on one line),
//! `hop_by_hop` (headers that never cross a proxy), `log_every` (a log line due often, written at most
//! once per interval), `inline_poll` (polling self-waking futures
//! without a yield).

mod body_timeout;
mod connection;
mod drain;
mod error_chain;
mod hop_by_hop;
mod inline_poll;
mod limits;
mod listener;
mod log_every;
mod serve_router;

pub use body_timeout::{BodyReadTimeout, TimedBody};
pub use connection::{Connection, GracefulShutdown, Serving, TrackedBody, TrackedFuture, TrackedIo, TrackedService};
pub use drain::{DRAIN_GRACE, Drain};
pub use error_chain::{error_chain, error_sources};
pub use hop_by_hop::{HopByHop, is_hop_by_hop, strip_hop_by_hop};
pub use inline_poll::InlinePoll;
pub use limits::ConnectionLimits;
pub use listener::{Accepted, LOG_EVERY, Listener, OPEN_METRIC, OpenConnections, REFUSED_METRIC};
pub use log_every::LogEvery;
pub use serve_router::{serve_router, serve_router_tls};
