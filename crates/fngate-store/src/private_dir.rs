//! The data directory holds secrets (the admin token, the IdP's signing keys and CA key, client
//! secret hashes, function config and logs), so it is the server's alone: the directory 0700, its
//! directories 0700 and files 0600. A server narrows whatever an older version (or a hand copy)
//! left wider each time it starts, and refuses a data directory another user owns.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Mode of every directory fngate keeps in the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file fngate keeps in the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Subtrees whose modes belong to the functions runtime: prepared environments and code snapshots
/// keep their executables' modes, instance directories hold the FDK sockets. The 0700 directories
/// above them keep them private.
const RUNTIME_OWNED: [&str; 3] = ["functions/envs", "functions/code", "functions/run"];

/// Creates `data_dir` (0700) if needed, checks that this user owns it, and narrows every
/// directory to 0700 and every file to 0600 (symbolic links are neither followed nor changed).
pub fn make_private(data_dir: &Path) -> Result<(), StoreError> {
    let create_error = |source| StoreError::CreateDir {
        path: data_dir.into(),
        source,
    };
    if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(create_error)?;
    }
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(data_dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(create_error(err)),
    }
    let root = std::fs::metadata(data_dir).map_err(|source| private_error(data_dir, source))?;
    if !root.is_dir() {
        return Err(create_error(std::io::Error::other("it exists and is not a directory")));
    }
    let uid = nix::unistd::geteuid().as_raw();
    if root.uid() != uid {
        return Err(StoreError::NotOwner {
            path: data_dir.into(),
            owner: root.uid(),
            uid,
        });
    }
    narrow(data_dir, &root, DIR_MODE)?;
    let mut pending: Vec<PathBuf> = vec![data_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| private_error(&dir, source))?;
        for entry in entries {
            let entry = entry.map_err(|source| private_error(&dir, source))?;
            let path = entry.path();
            let relative = path.strip_prefix(data_dir).unwrap_or(&path);
            if RUNTIME_OWNED.iter().any(|owned| relative == Path::new(owned)) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|source| private_error(&path, source))?;
            if meta.is_dir() {
                narrow(&path, &meta, DIR_MODE)?;
                pending.push(path);
            } else if meta.is_file() {
                narrow(&path, &meta, FILE_MODE)?;
            }
        }
    }
    Ok(())
}

/// Sets `mode` unless it is already exactly that.
fn narrow(path: &Path, meta: &std::fs::Metadata, mode: u32) -> Result<(), StoreError> {
    if meta.mode() & 0o7777 == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| private_error(path, source))
}

fn private_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Private {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_the_directory_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("a/b/data");
        make_private(&data).unwrap();
        assert_eq!(mode(&data), DIR_MODE);
    }

    #[test]
    fn narrows_what_an_older_version_left_wide_and_keeps_runtime_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let set =
            |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        for dir in ["idp", "functions/logs", "functions/envs/abc/bin"] {
            std::fs::create_dir_all(data.join(dir)).unwrap();
        }
        for file in [
            "fngate.db",
            "fngate.db-wal",
            "admin-token",
            "idp/ca-key.pem",
            "functions/logs/f.log",
        ] {
            std::fs::write(data.join(file), "x").unwrap();
            set(&data.join(file), 0o644);
        }
        std::fs::write(data.join("functions/envs/abc/bin/python"), "").unwrap();
        set(&data.join("functions/envs/abc/bin/python"), 0o755);
        set(&data.join("functions/envs"), 0o755);
        set(&data, 0o755);
        // A link to a file outside: neither followed nor changed.
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "").unwrap();
        set(&outside, 0o644);
        symlink(&outside, data.join("link")).unwrap();

        make_private(&data).unwrap();

        assert_eq!(mode(&data), DIR_MODE);
        for dir in ["idp", "functions", "functions/logs"] {
            assert_eq!(mode(&data.join(dir)), DIR_MODE, "{dir}");
        }
        for file in [
            "fngate.db",
            "fngate.db-wal",
            "admin-token",
            "idp/ca-key.pem",
            "functions/logs/f.log",
        ] {
            assert_eq!(mode(&data.join(file)), FILE_MODE, "{file}");
        }
        assert_eq!(
            mode(&data.join("functions/envs")),
            0o755,
            "the runtime's tree is left alone"
        );
        assert_eq!(mode(&data.join("functions/envs/abc/bin/python")), 0o755);
        assert_eq!(mode(&outside), 0o644, "a symlink is not followed");
    }

    #[test]
    fn refuses_a_data_directory_someone_else_owns() {
        if !nix::unistd::geteuid().is_root() {
            return; // Only root can hand a directory to another user.
        }
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
        let err = make_private(&data).unwrap_err();
        assert!(matches!(err, StoreError::NotOwner { owner: 65534, .. }), "{err}");
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    }
}
