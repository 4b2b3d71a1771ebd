//! Function code bundles for remote deploy: the CLI packs a function directory into a canonical
//! tar.gz ([`pack_dir`], honouring [`ignore`]), the admin API receives it (size-capped), unpacks
//! it with hostile-archive checks ([`unpack`]) and stores the canonical re-pack of what it
//! unpacked under `sha256:<hex>` of its bytes. The server never reads the client's disk.
//!
//! Canonical: entries sorted by path, directories before what they hold, no owner names, uid and
//! gid 0, mtime 0, modes 0755 (directories and executables) or 0644, symlinks kept (relative, in
//! the tree); gzip with no name, mtime 0 and the default level. The same tree always gives the
//! same bytes, whoever packs it.

pub mod ignore;
mod pack;
mod unpack;

pub use ignore::IgnoreRules;
pub use pack::{Packed, digest_of, pack_dir};
pub use unpack::{Unpacked, unpack};

use std::fmt;

/// Caps on one bundle; every one is checked while reading, never after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The compressed bundle (what is uploaded and stored).
    pub max_bytes: u64,
    /// Files, directories and symlinks together.
    pub max_entries: usize,
    /// The unpacked files together (a gzip bomb stops here).
    pub max_unpacked_bytes: u64,
}

/// Default `--max-bundle-mib`.
pub const DEFAULT_MAX_BUNDLE_MIB: u64 = 64;
/// Default `--max-bundle-entries`.
pub const DEFAULT_MAX_BUNDLE_ENTRIES: usize = 20_000;
/// The unpacked size may be this many times the compressed cap.
pub const UNPACKED_FACTOR: u64 = 8;

impl Limits {
    /// Limits from the two flags; the unpacked cap follows the compressed one.
    pub fn new(max_bundle_mib: u64, max_entries: usize) -> Limits {
        let max_bytes = max_bundle_mib.saturating_mul(1024 * 1024);
        Limits {
            max_bytes,
            max_entries,
            max_unpacked_bytes: max_bytes.saturating_mul(UNPACKED_FACTOR),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(DEFAULT_MAX_BUNDLE_MIB, DEFAULT_MAX_BUNDLE_ENTRIES)
    }
}

/// Why a bundle was refused: too large (HTTP 413) or not acceptable (400); the message names
/// the entry and the limit or rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    TooLarge(String),
    Invalid(String),
    Io(String),
}

impl BundleError {
    pub(crate) fn invalid(entry: &str, message: impl fmt::Display) -> BundleError {
        BundleError::Invalid(format!("bundle entry {entry:?}: {message}"))
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::TooLarge(m) | BundleError::Invalid(m) | BundleError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BundleError {}

/// How a byte count reads in messages.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
