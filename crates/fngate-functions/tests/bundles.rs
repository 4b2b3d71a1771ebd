//! Bundles: the canonical packing (same tree, same bytes; `.fnignore` honoured) and the
//! hostile-archive checks of unpacking, each with an archive crafted to break one rule.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use fngate_functions::bundle::{BundleError, IgnoreRules, Limits, pack_dir, unpack};

/// One raw entry, written with no checks at all (the name goes into the header as given).
struct Raw<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    mode: u32,
    data: &'a [u8],
    link: Option<&'a [u8]>,
}

fn raw(name: &str, kind: tar::EntryType) -> Raw<'_> {
    Raw {
        name: name.as_bytes(),
        kind,
        mode: 0o644,
        data: b"",
        link: None,
    }
}

fn craft(entries: &[Raw<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for e in entries {
        let mut header = tar::Header::new_old();
        let old = header.as_old_mut();
        old.name[..e.name.len()].copy_from_slice(e.name);
        if let Some(link) = e.link {
            old.linkname[..link.len()].copy_from_slice(link);
        }
        header.set_entry_type(e.kind);
        header.set_mode(e.mode);
        header.set_size(e.data.len() as u64);
        header.set_cksum();
        builder.append(&header, e.data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn refused(bytes: &[u8], limits: &Limits) -> BundleError {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let err = unpack(bytes, &dest, limits).unwrap_err();
    // Nothing was written outside the destination.
    assert!(!dir.path().join("escaped").exists());
    err
}

fn message(err: BundleError) -> String {
    err.to_string()
}

#[test]
fn a_plain_archive_unpacks() {
    let bytes = craft(&[
        raw("./func.py", tar::EntryType::Regular),
        Raw {
            mode: 0o755,
            ..raw("bin/run", tar::EntryType::Regular)
        },
        Raw {
            link: Some(b"../func.py"),
            ..raw("bin/f", tar::EntryType::Symlink)
        },
    ]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let done = unpack(&bytes, &dest, &Limits::default()).unwrap();
    assert_eq!(done.entries, 3);
    assert!(dest.join("func.py").is_file());
    assert_eq!(
        std::fs::metadata(dest.join("bin/run")).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(std::fs::read_link(dest.join("bin/f")).unwrap(), Path::new("../func.py"));
}

#[test]
fn absolute_paths_and_dot_dot_are_refused() {
    let err = message(refused(
        &craft(&[raw("/tmp/escaped", tar::EntryType::Regular)]),
        &Limits::default(),
    ));
    assert!(
        err.contains("\"/tmp/escaped\": absolute paths are not allowed"),
        "{err}"
    );
    let err = message(refused(
        &craft(&[raw("a/../../escaped", tar::EntryType::Regular)]),
        &Limits::default(),
    ));
    assert!(err.contains("`..` is not allowed"), "{err}");
}

#[test]
fn escaping_symlinks_and_hard_links_are_refused() {
    for target in ["/etc/passwd", "../escaped", "sub/../..", "a/../b"] {
        let entries = [Raw {
            link: Some(target.as_bytes()),
            ..raw("link", tar::EntryType::Symlink)
        }];
        let err = message(refused(&craft(&entries), &Limits::default()));
        assert!(err.contains("leaves the function directory"), "{target}: {err}");
    }
    // A link to the root is inside; climbing out through it with `..` later is not.
    let entries = [
        Raw {
            link: Some(b".."),
            ..raw("sub/root", tar::EntryType::Symlink)
        },
        Raw {
            link: Some(b"root/.."),
            ..raw("sub/out", tar::EntryType::Symlink)
        },
    ];
    let err = message(refused(&craft(&entries), &Limits::default()));
    assert!(
        err.contains("\"sub/out\"") && err.contains("leaves the function directory"),
        "{err}"
    );
    // A file written "through" a symlink given earlier: the link is made last, so the file
    // lands in a real directory, or the two collide.
    let entries = [
        Raw {
            link: Some(b"."),
            ..raw("d", tar::EntryType::Symlink)
        },
        raw("d/x", tar::EntryType::Regular),
    ];
    let err = message(refused(&craft(&entries), &Limits::default()));
    assert!(err.contains("\"d\": appears twice"), "{err}");
    let entries = [
        raw("f", tar::EntryType::Regular),
        Raw {
            link: Some(b"/etc/shadow"),
            ..raw("h", tar::EntryType::Link)
        },
    ];
    let err = message(refused(&craft(&entries), &Limits::default()));
    assert!(err.contains("\"h\": hard links are not allowed"), "{err}");
}

#[test]
fn devices_fifos_and_setuid_are_refused() {
    let err = message(refused(
        &craft(&[raw("null", tar::EntryType::Char)]),
        &Limits::default(),
    ));
    assert!(err.contains("device files are not allowed"), "{err}");
    let err = message(refused(
        &craft(&[raw("disk", tar::EntryType::Block)]),
        &Limits::default(),
    ));
    assert!(err.contains("device files are not allowed"), "{err}");
    let err = message(refused(
        &craft(&[raw("pipe", tar::EntryType::Fifo)]),
        &Limits::default(),
    ));
    assert!(err.contains("FIFOs are not allowed"), "{err}");
    for mode in [0o4755, 0o2755, 0o1777] {
        let entries = [Raw {
            mode,
            ..raw("tool", tar::EntryType::Regular)
        }];
        let err = message(refused(&craft(&entries), &Limits::default()));
        assert!(err.contains("setuid, setgid or sticky"), "{mode:o}: {err}");
    }
}

#[test]
fn entry_and_size_caps_hold_while_reading() {
    let many: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
    let entries: Vec<Raw<'_>> = many.iter().map(|n| raw(n, tar::EntryType::Regular)).collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let err = refused(&craft(&entries), &limits);
    assert!(
        matches!(err, BundleError::TooLarge(_)) && err.to_string().contains("more than 10 entries"),
        "{err}"
    );

    // A gzip bomb: a small archive whose file unpacks past the cap.
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let bomb = craft(&[Raw {
        data: &zeros,
        ..raw("zeros", tar::EntryType::Regular)
    }]);
    assert!(bomb.len() < 64 * 1024);
    let limits = Limits {
        max_unpacked_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let err = refused(&bomb, &limits);
    assert!(err.to_string().contains("unpacks to more than 1.0 MiB"), "{err}");
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let err = refused(&bomb, &limits);
    assert!(
        err.to_string().contains("more than the 0.0 MiB this server takes"),
        "{err}"
    );
    let err = refused(b"not a tarball at all", &Limits::default());
    assert!(matches!(err, BundleError::Invalid(_)), "{err}");
}

#[test]
fn packing_is_canonical_and_honours_fnignore() {
    let make = |root: &Path, mode: u32| {
        std::fs::create_dir_all(root.join("lib/sub")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        std::fs::write(root.join("func.py"), "print(1)\n").unwrap();
        std::fs::write(root.join("lib/sub/a.txt"), "a").unwrap();
        std::fs::write(root.join("debug.log"), "noise").unwrap();
        std::fs::write(root.join("node_modules/x/i.js"), "x").unwrap();
        std::fs::write(root.join(".fnignore"), "# logs\n*.log\n").unwrap();
        std::fs::set_permissions(root.join("func.py"), std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", root.join("lib/link")).unwrap();
    };
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    make(one.path(), 0o600);
    std::thread::sleep(std::time::Duration::from_millis(20));
    make(two.path(), 0o640);
    let pack = |dir: &Path| pack_dir(dir, &IgnoreRules::load(dir).unwrap(), &Limits::default()).unwrap();
    let (a, b) = (pack(one.path()), pack(two.path()));
    assert_eq!(a.digest, b.digest, "mtimes, owners and group/other bits do not matter");
    assert_eq!(a.bytes, b.bytes);
    assert!(a.ignored.contains(&"debug.log".to_string()) && a.ignored.contains(&"node_modules".to_string()));
    // Round trip: unpacking and packing again gives the same bytes.
    let out = tempfile::tempdir().unwrap();
    unpack(&a.bytes, &out.path().join("u"), &Limits::default()).unwrap();
    assert!(!out.path().join("u/debug.log").exists());
    assert_eq!(
        pack_dir(&out.path().join("u"), &IgnoreRules::none(), &Limits::default())
            .unwrap()
            .digest,
        a.digest
    );
    // An escaping symlink is refused when packing, by name.
    std::os::unix::fs::symlink("/etc/passwd", one.path().join("pw")).unwrap();
    let err = pack_dir(one.path(), &IgnoreRules::none(), &Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("pw: symlink to /etc/passwd leaves the function directory"),
        "{err}"
    );
    // Caps while packing.
    let mut file = std::fs::File::create(two.path().join("big.bin")).unwrap();
    // Incompressible: xorshift64 output.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    file.write_all(&noise).unwrap();
    let Err(err) = pack_dir(two.path(), &IgnoreRules::none(), &Limits::new(1, 100)) else {
        panic!("packed past the cap")
    };
    assert!(
        err.to_string().contains("larger than 1.0 MiB (--max-bundle-mib)"),
        "{err}"
    );
    let Err(err) = pack_dir(two.path(), &IgnoreRules::none(), &Limits::new(64, 3)) else {
        panic!("packed past the cap")
    };
    assert!(
        err.to_string()
            .contains("more than 3 files and directories (--max-bundle-entries)"),
        "{err}"
    );
}
