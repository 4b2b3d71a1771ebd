//! Packing a directory into the canonical tar.gz (see the module docs).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::{BundleError, IgnoreRules, Limits, mib};

/// A packed bundle.
#[derive(Debug, Clone)]
pub struct Packed {
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    pub entries: usize,
    /// Paths left out by the ignore rules (relative, `/`-separated; an ignored directory once).
    pub ignored: Vec<String>,
}

/// `sha256:<hex>` of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    format!("sha256:{}", hex::encode(digest.as_ref()))
}

enum Kind {
    Dir,
    File { executable: bool, len: u64 },
    Symlink(PathBuf),
}

/// Packs `dir` (skipping what `ignore` names) within `limits`. Symlinks must be relative and stay
/// inside `dir`; sockets, FIFOs and devices are refused by name.
pub fn pack_dir(dir: &Path, ignore: &IgnoreRules, limits: &Limits) -> Result<Packed, BundleError> {
    let mut found: Vec<(String, Kind)> = Vec::new();
    let mut ignored = Vec::new();
    let mut unpacked = 0u64;
    walk(dir, "", ignore, limits, &mut found, &mut ignored, &mut unpacked)?;
    // Byte order of the relative path: a directory's own entry sorts before what it holds.
    found.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let overflowed = std::rc::Rc::new(std::cell::Cell::new(false));
    let capped = CappedWriter {
        bytes: Vec::new(),
        max: limits.max_bytes,
        overflowed: overflowed.clone(),
    };
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(capped, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let io = |err: std::io::Error| {
        if overflowed.get() {
            BundleError::TooLarge(format!(
                "the packed function is larger than {} (--max-bundle-mib); list what need not ship in {}",
                mib(limits.max_bytes),
                super::ignore::FILE_NAME
            ))
        } else {
            BundleError::Io(format!("cannot pack {}: {err}", dir.display()))
        }
    };
    for (rel, kind) in &found {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        match kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), std::io::empty())
                    .map_err(io)?;
            }
            Kind::File { executable, len } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(*len);
                let file = std::fs::File::open(dir.join(rel))
                    .map_err(|e| BundleError::Io(format!("cannot read {}: {e}", dir.join(rel).display())))?;
                // Exactly the size recorded, even if the file changes meanwhile.
                let mut reader = std::io::Read::take(file, *len);
                let mut data = Vec::with_capacity(*len as usize);
                std::io::Read::read_to_end(&mut reader, &mut data)
                    .map_err(|e| BundleError::Io(format!("cannot read {}: {e}", dir.join(rel).display())))?;
                data.resize(*len as usize, 0);
                tar.append_data(&mut header, rel, data.as_slice()).map_err(io)?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, rel, target).map_err(io)?;
            }
        }
    }
    let gz = tar.into_inner().map_err(io)?;
    let capped = gz.finish().map_err(io)?;
    let bytes = capped.bytes;
    Ok(Packed {
        digest: digest_of(&bytes),
        bytes,
        entries: found.len(),
        ignored,
    })
}

fn walk(
    root: &Path,
    prefix: &str,
    ignore: &IgnoreRules,
    limits: &Limits,
    found: &mut Vec<(String, Kind)>,
    ignored: &mut Vec<String>,
    unpacked: &mut u64,
) -> Result<(), BundleError> {
    let here = root.join(prefix);
    let entries =
        std::fs::read_dir(&here).map_err(|e| BundleError::Io(format!("cannot read {}: {e}", here.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| BundleError::Io(format!("cannot read {}: {e}", here.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(BundleError::Invalid(format!(
                "{}: the file name is not UTF-8; rename it or list it in .fnignore",
                entry.path().display()
            )));
        };
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        if ignore.is_ignored(&rel) {
            ignored.push(rel);
            continue;
        }
        let meta = std::fs::symlink_metadata(entry.path())
            .map_err(|e| BundleError::Io(format!("cannot read {}: {e}", entry.path().display())))?;
        let kind = meta.file_type();
        if found.len() >= limits.max_entries {
            return Err(BundleError::TooLarge(format!(
                "the function directory has more than {} files and directories (--max-bundle-entries); list what need not ship in .fnignore",
                limits.max_entries
            )));
        }
        if kind.is_dir() {
            found.push((rel.clone(), Kind::Dir));
            walk(root, &rel, ignore, limits, found, ignored, unpacked)?;
        } else if kind.is_file() {
            *unpacked += meta.len();
            if *unpacked > limits.max_unpacked_bytes {
                return Err(BundleError::TooLarge(format!(
                    "the function's files add up to more than {} (--max-bundle-mib × {}); list what need not ship in .fnignore",
                    mib(limits.max_unpacked_bytes),
                    super::UNPACKED_FACTOR
                )));
            }
            let executable = meta.permissions().mode() & 0o111 != 0;
            found.push((
                rel,
                Kind::File {
                    executable,
                    len: meta.len(),
                },
            ));
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map_err(|e| BundleError::Io(format!("cannot read {}: {e}", entry.path().display())))?;
            if !super::unpack::link_stays_inside(&rel, &target) {
                return Err(BundleError::Invalid(format!(
                    "{}: symlink to {} leaves the function directory; copy the file in or list the link in .fnignore",
                    entry.path().display(),
                    target.display()
                )));
            }
            found.push((rel, Kind::Symlink(target)));
        } else {
            return Err(BundleError::Invalid(format!(
                "{}: not a file, directory or symlink (a socket, FIFO or device); list it in .fnignore",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

/// A `Vec` that refuses to grow past `max` bytes (the compressed cap, checked while packing).
struct CappedWriter {
    bytes: Vec<u8>,
    max: u64,
    overflowed: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() as u64 + buf.len() as u64 > self.max {
            self.overflowed.set(true);
            return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether a relative path has only normal components.
pub(crate) fn is_plain_relative(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.components().any(|c| matches!(c, Component::Normal(_)))
}
