//! HTTP/runtime helpers shared by the gateway and the functions runtime; depends on no other
//! fngate crate.
//!
//! Modules: `accept` (the next connection of a listener, until shutdown), `error_chain` (an error and its sources on one line), `drain` (the keep-alive grace
//! when a listener closes), `hop_by_hop` (headers that never cross a proxy), `inline_poll` (polling
//! self-waking futures without a yield).

mod accept;
mod drain;
mod error_chain;
mod hop_by_hop;
mod inline_poll;

pub use accept::next_connection;
pub use drain::{DRAIN_GRACE, Drain};
pub use error_chain::{error_chain, error_sources};
pub use hop_by_hop::{is_hop_by_hop, strip_hop_by_hop};
pub use inline_poll::InlinePoll;
