//! Function output, one line per record tagged with the call id, kept per function in
//! `<data>/logs/<fn_id>.log` and broadcast to `fngate logs --follow`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use tokio::sync::broadcast;

/// Largest log file kept per function; on reaching it the file starts over (one `.1` backup).
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;
/// Function output may carry secrets: owner-only, like everything in the data directory.
const LOG_FILE_MODE: u32 = 0o600;

pub struct LogSink {
    dir: PathBuf,
    files: std::sync::Mutex<HashMap<String, (File, u64)>>,
    live: broadcast::Sender<(String, String)>,
}

impl LogSink {
    pub fn new(dir: PathBuf) -> Self {
        let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir);
        let (live, _) = broadcast::channel(1024);
        LogSink {
            dir,
            files: std::sync::Mutex::new(HashMap::new()),
            live,
        }
    }

    pub fn path(&self, fn_id: &str) -> PathBuf {
        self.dir.join(format!("{fn_id}.log"))
    }

    /// Appends `<time> <call id> <stream> <line>`.
    pub fn write(&self, fn_id: &str, call_id: &str, stream: &str, line: &str) {
        let record = format!("{} {call_id} {stream} {line}\n", crate::model::now());
        if let Ok(mut files) = self.files.lock() {
            if !files.contains_key(fn_id)
                && let Ok(file) = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(LOG_FILE_MODE)
                    .open(self.path(fn_id))
            {
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                files.insert(fn_id.to_string(), (file, len));
            }
            if let Some((file, len)) = files.get_mut(fn_id) {
                if *len > MAX_LOG_BYTES {
                    let path = self.path(fn_id);
                    let _ = std::fs::rename(&path, path.with_extension("log.1"));
                    if let Ok(fresh) = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(LOG_FILE_MODE)
                        .open(&path)
                    {
                        *file = fresh;
                        *len = 0;
                    }
                }
                if file.write_all(record.as_bytes()).is_ok() {
                    *len += record.len() as u64;
                }
            }
        }
        // Most of the time nobody follows: skip the copies a send would make.
        if self.live.receiver_count() > 0 {
            let _ = self.live.send((fn_id.to_string(), record));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(String, String)> {
        self.live.subscribe()
    }

    /// Forgets a deleted function's log.
    pub fn remove(&self, fn_id: &str) {
        if let Ok(mut files) = self.files.lock() {
            files.remove(fn_id);
        }
        let _ = std::fs::remove_file(self.path(fn_id));
        let _ = std::fs::remove_file(self.path(fn_id).with_extension("log.1"));
    }
}
