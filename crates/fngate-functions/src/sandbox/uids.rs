//! The uid each function runs as when fngate runs as root: one per function, from a range no
//! account uses, allocated on first use and recorded in `<data>/functions/uids.json` so a
//! function keeps its uid across restarts. The first uid of the range is the builders' (pip
//! and npm at deploy). Nothing on disk is ever owned by these uids except prepared environments
//! (by the build uid), so a freed uid can be handed out again safely.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default first uid: far above login accounts (1000+) and the usual subordinate ranges of
/// rootless containers (100000 + 65536 per user).
pub const DEFAULT_BASE: u32 = 1_600_000_000;
const RANGE: u32 = 1_000_000;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    base: u32,
    /// fn id → uid.
    fns: BTreeMap<String, u32>,
}

#[derive(Debug)]
pub struct Uids {
    path: PathBuf,
    base: u32,
    record: Mutex<Record>,
}

impl Uids {
    /// Loads the record (an unreadable one is an error: uids must not silently change).
    pub fn load(path: &Path, base: u32) -> io::Result<Uids> {
        let record = match std::fs::read(path) {
            Ok(bytes) => {
                let mut record: Record = serde_json::from_slice(&bytes)
                    .map_err(|err| io::Error::other(format!("{}: {err}", path.display())))?;
                if record.base != base {
                    // A new range: earlier allocations no longer apply.
                    record = Record {
                        base,
                        fns: BTreeMap::new(),
                    };
                }
                record
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Record {
                base,
                fns: BTreeMap::new(),
            },
            Err(err) => return Err(err),
        };
        Ok(Uids {
            path: path.to_path_buf(),
            base,
            record: Mutex::new(record),
        })
    }

    /// The builders' uid (pip, npm).
    pub fn build_uid(&self) -> u32 {
        self.base
    }

    pub fn base(&self) -> u32 {
        self.base
    }

    /// The function's uid, allocated and recorded on first use.
    pub fn for_fn(&self, fn_id: &str) -> io::Result<u32> {
        let mut record = self
            .record
            .lock()
            .map_err(|_| io::Error::other("uid record lock poisoned"))?;
        if let Some(uid) = record.fns.get(fn_id) {
            return Ok(*uid);
        }
        let used: std::collections::BTreeSet<u32> = record.fns.values().copied().collect();
        let uid = (self.base + 1..self.base + RANGE)
            .find(|uid| !used.contains(uid) && !account_exists(*uid))
            .ok_or_else(|| io::Error::other("no free function uid left in the range"))?;
        record.fns.insert(fn_id.to_string(), uid);
        if let Err(err) = save(&self.path, &record) {
            record.fns.remove(fn_id);
            return Err(err);
        }
        Ok(uid)
    }

    /// Forgets the uids of functions that no longer exist.
    pub fn retain(&self, live: &dyn Fn(&str) -> bool) {
        let Ok(mut record) = self.record.lock() else { return };
        let before = record.fns.len();
        record.fns.retain(|fn_id, _| live(fn_id));
        if record.fns.len() != before {
            let _ = save(&self.path, &record);
        }
    }

    pub fn count(&self) -> usize {
        self.record.lock().map(|r| r.fns.len()).unwrap_or(0)
    }
}

fn account_exists(uid: u32) -> bool {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .is_some()
}

/// Written whole to a temporary file and renamed, owner-only.
fn save(path: &Path, record: &Record) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(record).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_recorded_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.json");
        let uids = Uids::load(&path, DEFAULT_BASE).unwrap();
        let a = uids.for_fn("A").unwrap();
        let b = uids.for_fn("B").unwrap();
        assert_ne!(a, b);
        assert!(a > uids.build_uid() && b > uids.build_uid());
        assert_eq!(uids.for_fn("A").unwrap(), a);
        let again = Uids::load(&path, DEFAULT_BASE).unwrap();
        assert_eq!(again.for_fn("B").unwrap(), b, "recorded across restarts");
        again.retain(&|id| id == "B");
        assert_eq!(again.count(), 1);
    }
}
