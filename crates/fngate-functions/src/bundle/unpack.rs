//! Unpacking an uploaded bundle, assuming it is hostile: every entry is checked before anything
//! is written, and what cannot be shown safe is refused with the entry's name. Refused: absolute
//! paths, `..`, hard links, symlinks that are absolute or leave the tree (or use `..` past their
//! first components, which could climb out through another link), devices, FIFOs and other
//! special entries, setuid/setgid/sticky bits, an entry given twice, and anything past the entry
//! or size caps. Files are created with `O_NOFOLLOW | O_EXCL` under directories this code made,
//! and symlinks last, so no entry is ever written through a link.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::pack::is_plain_relative;
use super::{BundleError, Limits, mib};

/// What an unpack wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub entries: usize,
    pub bytes: u64,
}

/// Unpacks `bytes` (a tar.gz) into `dest`, which must not exist yet. On error `dest` may hold a
/// part of the bundle: the caller removes it.
pub fn unpack(bytes: &[u8], dest: &Path, limits: &Limits) -> Result<Unpacked, BundleError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(BundleError::TooLarge(format!(
            "the bundle is {}, more than the {} this server takes (fngate up --max-bundle-mib)",
            mib(bytes.len() as u64),
            mib(limits.max_bytes)
        )));
    }
    let io = |what: &str, err: std::io::Error| BundleError::Io(format!("cannot {what}: {err}"));
    std::fs::create_dir(dest).map_err(|e| io(&format!("create {}", dest.display()), e))?;
    set_mode(dest, 0o755).map_err(|e| io("set a mode", e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| BundleError::Invalid(format!("not a tar.gz archive: {e}")))?;
    let mut count = 0usize;
    let mut total = 0u64;
    let mut links: Vec<(PathBuf, PathBuf, String)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| BundleError::Invalid(format!("not a valid tar.gz archive: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        count += 1;
        if count > limits.max_entries {
            return Err(BundleError::TooLarge(format!(
                "the bundle has more than {} entries (fngate up --max-bundle-entries)",
                limits.max_entries
            )));
        }
        let rel = safe_path(&name, &raw)?;
        let header = entry.header();
        let mode = header
            .mode()
            .map_err(|e| BundleError::invalid(&name, format!("unreadable mode: {e}")))?;
        if mode & 0o7000 != 0 {
            return Err(BundleError::invalid(
                &name,
                format!("mode {mode:o} sets the setuid, setgid or sticky bit; bundles carry plain files"),
            ));
        }
        let kind = header.entry_type();
        match kind {
            tar::EntryType::Directory => {
                let path = dest.join(&rel);
                make_parents(dest, &rel, &name)?;
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => return Err(BundleError::invalid(&name, "appears twice in the bundle")),
                    Err(_) => std::fs::create_dir(&path).map_err(|e| io(&format!("create {name}"), e))?,
                }
                set_mode(&path, 0o755).map_err(|e| io("set a mode", e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = header
                    .size()
                    .map_err(|e| BundleError::invalid(&name, format!("unreadable size: {e}")))?;
                total = total.saturating_add(size);
                if total > limits.max_unpacked_bytes {
                    return Err(BundleError::TooLarge(format!(
                        "the bundle unpacks to more than {} (fngate up --max-bundle-mib × {})",
                        mib(limits.max_unpacked_bytes),
                        super::UNPACKED_FACTOR
                    )));
                }
                make_parents(dest, &rel, &name)?;
                let path = dest.join(&rel);
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 })
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => BundleError::invalid(&name, "appears twice in the bundle"),
                        _ => io(&format!("create {name}"), e),
                    })?;
                // Never more than the header promised (the size cap counted that).
                let copied = std::io::copy(&mut (&mut entry).take(size), &mut file)
                    .map_err(|e| BundleError::Invalid(format!("bundle entry {name:?}: cannot read: {e}")))?;
                if copied != size {
                    return Err(BundleError::invalid(&name, "the archive ends inside this file"));
                }
                let executable = mode & 0o111 != 0;
                set_mode(&path, if executable { 0o755 } else { 0o644 }).map_err(|e| io("set a mode", e))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| BundleError::invalid(&name, format!("unreadable link target: {e}")))?
                    .ok_or_else(|| BundleError::invalid(&name, "symlink without a target"))?
                    .into_owned();
                if !link_stays_inside(&rel.to_string_lossy(), &target) {
                    return Err(BundleError::invalid(
                        &name,
                        format!(
                            "symlink to {:?} leaves the function directory (targets must be relative, inside it, with `..` only at the start)",
                            target.display().to_string()
                        ),
                    ));
                }
                make_parents(dest, &rel, &name)?;
                links.push((rel, target, name));
            }
            tar::EntryType::Link => {
                return Err(BundleError::invalid(&name, "hard links are not allowed in a bundle"));
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(BundleError::invalid(&name, "device files are not allowed in a bundle"));
            }
            tar::EntryType::Fifo => {
                return Err(BundleError::invalid(&name, "FIFOs are not allowed in a bundle"));
            }
            other => {
                return Err(BundleError::invalid(
                    &name,
                    format!("entry type {:?} is not allowed in a bundle", other.as_byte() as char),
                ));
            }
        }
    }
    // Last, so that no file above was written through one of them.
    for (rel, target, name) in links {
        std::os::unix::fs::symlink(&target, dest.join(&rel)).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BundleError::invalid(&name, "appears twice in the bundle"),
            _ => io(&format!("create {name}"), e),
        })?;
    }
    Ok(Unpacked {
        entries: count,
        bytes: total,
    })
}

/// The entry's path as a plain relative path (`./` prefixes and a trailing `/` allowed).
fn safe_path(name: &str, raw: &[u8]) -> Result<PathBuf, BundleError> {
    if raw.contains(&0) {
        return Err(BundleError::invalid(name, "the name holds a NUL byte"));
    }
    let path = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(raw));
    if path.is_absolute() {
        return Err(BundleError::invalid(name, "absolute paths are not allowed in a bundle"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(BundleError::invalid(name, "`..` is not allowed in a bundle path"));
    }
    if !is_plain_relative(path) {
        return Err(BundleError::invalid(name, "not a relative path"));
    }
    Ok(path.components().filter(|c| *c != Component::CurDir).collect())
}

/// Creates the directories above `rel`, each a real directory this unpack made (never a file or
/// a link in the way).
fn make_parents(dest: &Path, rel: &Path, name: &str) -> Result<(), BundleError> {
    let mut here = dest.to_path_buf();
    let Some(parent) = rel.parent() else { return Ok(()) };
    for component in parent.components() {
        here.push(component);
        match std::fs::symlink_metadata(&here) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(BundleError::invalid(name, "a parent of this entry is not a directory")),
            Err(_) => {
                std::fs::create_dir(&here)
                    .map_err(|e| BundleError::Io(format!("cannot create {}: {e}", here.display())))?;
                set_mode(&here, 0o755).map_err(|e| BundleError::Io(format!("cannot set a mode: {e}")))?;
            }
        }
    }
    Ok(())
}

/// Whether a symlink at `rel` (relative to the root) pointing at `target` stays inside the root:
/// `target` is relative, its `..` come only first, and they climb no higher than the root.
/// (A `..` after a normal component could climb out through another symlink.)
pub(crate) fn link_stays_inside(rel: &str, target: &Path) -> bool {
    if target.is_absolute() || target.as_os_str().is_empty() {
        return false;
    }
    let depth = Path::new(rel).components().count().saturating_sub(1);
    let mut ups = 0usize;
    let mut seen_normal = false;
    for component in target.components() {
        match component {
            Component::ParentDir if seen_normal => return false,
            Component::ParentDir => ups += 1,
            Component::Normal(_) => seen_normal = true,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    ups <= depth
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
