//! The launcher: fngate's own binary started as `fngate-sandbox` by [`super::spawn`], as the
//! init of the instance's namespaces. It reads its [`LaunchSpec`] from fd 3 and, in this order,
//! maps its ids in a new user namespace (unprivileged fngate), joins the instance's cgroups,
//! builds the root (a tmpfs with read-only binds, its own `/proc`, `/dev` and `/tmp`) and pivots
//! into it, sets the resource limits, drops to the function's uid, drops every capability, sets
//! `no_new_privs`, re-arms the parent-death signal, applies Landlock and the seccomp filter, and
//! execs the function. In probe mode it tries every step, reports which worked on stdout and
//! waits for stdin to close instead of exec'ing.

use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::spawn::{LAUNCHER_ARGV0, PARENT_PIDFD, SPEC_FD};
use super::{LandlockRules, LaunchSpec, Mount, ProbeReport, RootSpec};

/// Exit status of a launcher that failed before exec'ing the function.
const LAUNCH_FAILED: u8 = 125;

/// Runs the launcher when this process was started as one (call first thing in `main`).
pub fn main_if_launcher() -> Option<std::process::ExitCode> {
    let argv0 = std::env::args_os().next()?;
    if argv0 != OsStr::new(LAUNCHER_ARGV0) {
        return None;
    }
    Some(match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The function's stderr: fngate logs it with the function's lines.
            let _ = writeln!(std::io::stderr(), "fngate-sandbox: {err:#}");
            std::process::ExitCode::from(LAUNCH_FAILED)
        }
    })
}

fn run() -> anyhow::Result<()> {
    // SAFETY: fd 3 is the spec pipe the spawner put there; nothing else owns it.
    let mut spec_file = unsafe { std::fs::File::from_raw_fd(SPEC_FD) };
    let mut text = String::new();
    spec_file
        .read_to_string(&mut text)
        .context("cannot read the sandbox spec")?;
    drop(spec_file);
    let spec: LaunchSpec = serde_json::from_str(&text).context("bad sandbox spec")?;
    // fngate's pidfd must not reach the function.
    // SAFETY: fcntl on an inherited descriptor.
    unsafe { libc::fcntl(PARENT_PIDFD, libc::F_SETFD, libc::FD_CLOEXEC) };
    // The spawner blocked every signal around the clone; the launcher takes them again.
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    // Files the builders write must be readable by the function uids.
    // SAFETY: umask has no failure mode.
    unsafe { libc::umask(0o022) };
    let mut steps = Steps {
        probe: spec.probe,
        report: ProbeReport::default(),
    };

    if let Some((uid, gid)) = spec.map_ids {
        steps.run("user_namespace", || {
            map_own_ids(uid, gid).map(|()| format!("uid {uid} mapped to itself"))
        })?;
    }
    // Joining a cgroup v1 hierarchy waits for an RCU grace period (measured: ~14 ms, most of the
    // launcher's time), so a second thread joins while this one builds the root; the process
    // is single-threaded again, and in its cgroups, before anything else runs in it.
    let joining = join_cgroups_in_background(&spec.cgroup_procs);
    let root_ok = match &spec.root {
        Some(root) => steps.run("mounts", || build_root(root).map(|()| "private root".into()))?,
        None => false,
    };
    if let Some(joining) = joining {
        steps.run("cgroups", || {
            joining
                .join()
                .map_err(|_| anyhow::anyhow!("the cgroup thread panicked"))??;
            Ok(format!("{} joined", spec.cgroup_procs.len()))
        })?;
    }
    steps.run("rlimits", || {
        for (resource, value) in &spec.rlimits {
            nix::sys::resource::setrlimit(resource.resource(), *value, *value)
                .with_context(|| format!("setrlimit {resource:?} {value}"))?;
        }
        Ok(format!("{} set", spec.rlimits.len()))
    })?;
    // The bounding set needs CAP_SETPCAP, which a switch to a non-root uid takes away.
    steps.run("capabilities", drop_bounding_set)?;
    if let Some((uid, gid)) = spec.switch_ids {
        steps.run("uid", || switch_ids(uid, gid).map(|()| format!("uid {uid}")))?;
    }
    steps.run("no_capabilities", clear_capabilities)?;
    // Changing uid clears the parent-death signal; re-arm it, then make sure fngate did not die
    // in between (its pidfd is readable once it has exited).
    steps.run("parent_death_signal", rearm_parent_death)?;
    steps.run("no_new_privs", || {
        nix::sys::prctl::set_no_new_privs().context("PR_SET_NO_NEW_PRIVS")?;
        Ok("set".into())
    })?;
    let program = if spec.probe {
        PathBuf::new()
    } else {
        resolve_program(&spec.program, &spec.env)?
    };
    if let Some(rules) = &spec.landlock {
        steps.run("landlock", || apply_landlock(rules))?;
    }
    if !spec.probe {
        std::env::set_current_dir(&spec.cwd).with_context(|| format!("cannot enter {}", spec.cwd.display()))?;
    }
    if let Some(options) = &spec.seccomp {
        steps.run("seccomp", || {
            super::seccomp::apply(options)?;
            Ok("filter installed".into())
        })?;
    }
    if spec.probe {
        steps.report.root_reachable = root_ok;
        let mut out = std::io::stdout();
        serde_json::to_writer(&mut out, &steps.report)?;
        out.write_all(b"\n")?;
        out.flush()?;
        // fngate inspects this process (e.g. /proc/<pid>/root) until it closes stdin.
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
        return Ok(());
    }
    exec(&program, &spec.args, &spec.env)
}

/// Opens the `cgroup.procs` files now (the root is about to change) and writes this process's
/// id to them on a thread of its own.
fn join_cgroups_in_background(procs: &[PathBuf]) -> Option<std::thread::JoinHandle<anyhow::Result<()>>> {
    if procs.is_empty() {
        return None;
    }
    let files: Vec<(PathBuf, std::io::Result<std::fs::File>)> = procs
        .iter()
        .map(|path| (path.clone(), std::fs::OpenOptions::new().write(true).open(path)))
        .collect();
    Some(std::thread::spawn(move || {
        for (path, file) in files {
            // "0": the writing thread's whole process.
            file.and_then(|mut file| file.write_all(b"0"))
                .with_context(|| format!("cannot join {}", path.display()))?;
        }
        Ok(())
    }))
}

/// Probe mode records each step's outcome and goes on; otherwise the first failure is fatal.
struct Steps {
    probe: bool,
    report: ProbeReport,
}

impl Steps {
    fn run(&mut self, name: &str, step: impl FnOnce() -> anyhow::Result<String>) -> anyhow::Result<bool> {
        let outcome = step();
        if !self.probe {
            outcome.with_context(|| format!("sandbox step {name}"))?;
            return Ok(true);
        }
        let ok = outcome.is_ok();
        self.report
            .steps
            .push((name.to_string(), outcome.map_err(|err| format!("{err:#}"))));
        Ok(ok)
    }
}

/// An unprivileged user namespace maps only the creator's own ids (written by the process
/// itself, which has every capability inside its new namespace).
fn map_own_ids(uid: u32, gid: u32) -> anyhow::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny").context("/proc/self/setgroups")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")).context("/proc/self/uid_map")?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")).context("/proc/self/gid_map")?;
    Ok(())
}

/// A tmpfs on `mountpoint` becomes the root: every entry is created in it, then
/// `pivot_root(".", ".")` and a lazy unmount of the old root leave only the new tree.
fn build_root(root: &RootSpec) -> anyhow::Result<()> {
    // Nothing done here may propagate back to the host's mounts.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private")?;
    let new = &root.mountpoint;
    mount(
        Some("tmpfs"),
        new,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m,nr_inodes=1024"),
    )
    .with_context(|| format!("tmpfs root on {}", new.display()))?;
    for entry in &root.entries {
        apply_mount(new, entry)?;
    }
    std::env::set_current_dir(new)?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    std::env::set_current_dir("/")?;
    // The root itself holds only mount points: read-only.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .context("remounting the root read-only")?;
    Ok(())
}

fn inside(new: &Path, dest: &Path) -> PathBuf {
    new.join(dest.strip_prefix("/").unwrap_or(dest))
}

fn apply_mount(new: &Path, entry: &Mount) -> anyhow::Result<()> {
    match entry {
        Mount::Bind { src, dest, writable } => {
            let target = inside(new, dest);
            make_mount_point(src, &target)?;
            mount(
                Some(src.as_path()),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("bind {} on {}", src.display(), dest.display()))?;
            let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
            if !writable {
                attrs |= MOUNT_ATTR_RDONLY;
            }
            set_mount_attrs(&target, attrs).with_context(|| format!("making {} read-only", dest.display()))?;
        }
        Mount::Device { src, dest } => {
            let target = inside(new, dest);
            make_mount_point(src, &target)?;
            mount(
                Some(src.as_path()),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("bind {} on {}", src.display(), dest.display()))?;
            set_mount_attrs(&target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)?;
        }
        Mount::Tmpfs {
            dest,
            size_bytes,
            inodes,
            mode,
            owner,
        } => {
            let target = inside(new, dest);
            std::fs::create_dir_all(&target).with_context(|| format!("mkdir {}", dest.display()))?;
            let mut options = format!("size={size_bytes},nr_inodes={inodes},mode={mode:o}");
            if let Some((uid, gid)) = owner {
                options.push_str(&format!(",uid={uid},gid={gid}"));
            }
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_str()),
            )
            .with_context(|| format!("tmpfs on {}", dest.display()))?;
        }
        Mount::Proc { dest } => {
            let target = inside(new, dest);
            std::fs::create_dir_all(&target)?;
            mount(
                Some("proc"),
                &target,
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            )
            .context("mounting /proc")?;
        }
        Mount::Symlink { target, dest } => {
            let link = inside(new, dest);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(target, &link).with_context(|| format!("symlink {}", dest.display()))?;
        }
    }
    Ok(())
}

/// An empty directory or file in the new root to bind `src` on.
fn make_mount_point(src: &Path, target: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("cannot bind {}", src.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(target)?;
    } else {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(target)?;
    }
    Ok(())
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: libc::c_uint = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(AT_RECURSIVE)`: flags on a bind and every mount below it (a plain remount
/// would change the top one only), and it may only add restrictions, so locked flags of mounts
/// inherited from the host never get in the way.
fn set_mount_attrs(target: &Path, attrs: u64) -> anyhow::Result<()> {
    let path = CString::new(target.as_os_str().as_bytes())?;
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid path and a mount_attr of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context("mount_setattr");
    }
    Ok(())
}

fn switch_ids(uid: u32, gid: u32) -> anyhow::Result<()> {
    use nix::unistd::{Gid, Uid};
    nix::unistd::setgroups(&[]).context("setgroups")?;
    let gid = Gid::from_raw(gid);
    nix::unistd::setresgid(gid, gid, gid).context("setresgid")?;
    let uid = Uid::from_raw(uid);
    nix::unistd::setresuid(uid, uid, uid).context("setresuid")?;
    Ok(())
}

fn drop_bounding_set() -> anyhow::Result<String> {
    let mut dropped = 0;
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc == 0 {
            dropped += 1;
        } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            break;
        } else if cap == 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
            // No CAP_SETPCAP: an unprivileged process outside any user namespace, which has no
            // capability to use, and no_new_privs keeps it from gaining one.
            return Ok("bounding set kept (no CAP_SETPCAP to drop it; no capability held)".into());
        } else {
            return Err(std::io::Error::last_os_error()).context("PR_CAPBSET_DROP");
        }
    }
    Ok(format!("bounding set emptied ({dropped})"))
}

/// Empties the effective, permitted, inheritable and ambient sets (a switch from root to another
/// uid already did; inside a user namespace the process still has them all).
fn clear_capabilities() -> anyhow::Result<String> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset with a v3 header and two data words, as the kernel expects.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context("capset");
    }
    Ok("none left".into())
}

fn rearm_parent_death() -> anyhow::Result<String> {
    nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL)).context("PR_SET_PDEATHSIG")?;
    let mut poll = libc::pollfd {
        fd: PARENT_PIDFD,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, no wait.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    if ready > 0 && poll.revents & libc::POLLIN != 0 {
        bail!("fngate exited while the sandbox was being set up");
    }
    Ok("armed".into())
}

fn apply_landlock(rules: &LandlockRules) -> anyhow::Result<String> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope,
    };
    // The newest ABI vetted here; older kernels get what they support (reported, and the probe
    // decides whether instances may start with less than this server's probe saw).
    let abi = ABI::V6;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))?
        .scope(Scope::from_all(abi))?;
    if rules.deny_tcp_bind {
        // Handled with no rule: no TCP port may be bound (outbound connections stay allowed).
        ruleset = ruleset.handle_access(AccessNet::BindTcp)?;
    }
    let mut created = ruleset.create()?;
    let rule = |path: &Path, access: landlock::BitFlags<AccessFs>| -> anyhow::Result<_> {
        let fd = PathFd::new(path).with_context(|| format!("landlock rule for {}", path.display()))?;
        // A file takes only the rights that apply to files.
        let access = if path.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        Ok(PathBeneath::new(fd, access))
    };
    for path in &rules.read_exec {
        created = created.add_rule(rule(path, AccessFs::from_read(abi))?)?;
    }
    for path in &rules.read_write {
        created = created.add_rule(rule(path, AccessFs::from_all(abi))?)?;
    }
    for path in &rules.devices {
        created = created.add_rule(rule(path, AccessFs::from_file(abi))?)?;
    }
    let status = created.restrict_self()?;
    let level = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "not enforced",
    };
    if rules.required_full && status.ruleset != RulesetStatus::FullyEnforced {
        bail!("landlock is {level}, and this server's probe had it fully enforced");
    }
    if status.ruleset == RulesetStatus::NotEnforced {
        bail!("landlock is not enforced by this kernel");
    }
    Ok(level.into())
}

/// `execvp`'s search for a bare name, on the spec's PATH.
fn resolve_program(program: &Path, env: &[(String, String)]) -> anyhow::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{} not found on PATH {path}", program.display()))
}

fn exec(program: &Path, args: &[String], env: &[(String, String)]) -> anyhow::Result<()> {
    // The function starts with default signal handling, as any spawned program: no signal
    // blocked (the spawner blocked them all), SIGPIPE not ignored (Rust's runtime ignores it).
    // SAFETY: resetting a disposition to the default has no handler to race with.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    let path = CString::new(program.as_os_str().as_bytes())?;
    let mut argv = vec![path.clone()];
    for arg in args {
        argv.push(CString::new(arg.as_str())?);
    }
    let envp = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    let err = nix::unistd::execve(&path, &argv, &envp).err();
    bail!(
        "cannot run {}: {}",
        program.display(),
        err.map(|e| e.to_string()).unwrap_or_default()
    )
}
