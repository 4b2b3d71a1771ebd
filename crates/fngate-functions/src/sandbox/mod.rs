//! The process sandbox every function instance and every deploy-time install (pip, npm) runs
//! in. Built on the kernel's own mechanisms — namespaces (mount, pid, ipc, uts; a user namespace
//! when fngate is not root), a uid per function when fngate is root, cgroups for memory, pids and
//! CPU, rlimits, no capabilities and `no_new_privs`, Landlock and a seccomp filter — applied by
//! the launcher ([`launcher`]) that [`spawn`] starts as the init of the new namespaces.
//!
//! At start a probe runs the launcher once with every mechanism and reports which took effect;
//! instances then use exactly those, and a mechanism that fails later fails the instance start
//! (fail closed). What is and is not enforced is logged once and served in the functions status.
//!
//! Inside, a function sees Fn's layout: its code read-only at `/function` (also its working
//! directory), its prepared environment read-only at `/python` (Node: `/node`), the system's
//! `/usr` and `/etc` read-only, its own `/proc`, a minimal `/dev`, and a private tmpfs `/tmp`
//! (`HOME` and `TMPDIR`) sized like its memory, with the FDK's socket directory `/tmp/iofs`
//! (`FN_LISTENER=unix:/tmp/iofs/lsnr.sock`, as Fn) on a tmpfs of its own, which fngate reaches
//! through `/proc/<pid>/root`. Without namespaces, code and environment keep their host paths and
//! Landlock alone confines the file system.

mod cgroup;
mod launcher;
mod seccomp;
mod spawn;
mod uids;

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

use crate::lang::Lang;
pub use cgroup::Controller;
pub use launcher::main_if_launcher;
pub use spawn::Child;

/// Fn's limits per container (`fn:api/agent/drivers/docker`): pids, open files, locked memory,
/// pending signals, message-queue bytes.
pub const PIDS_MAX: u64 = 50;
pub const NOFILE_MAX: u64 = 350;
const MEMLOCK_BYTES: u64 = 64 * 1024;
const SIGPENDING_MAX: u64 = 5000;
const MSGQUEUE_BYTES: u64 = 819_200;
/// One CPU per instance (µs per 100 ms period).
pub const CPU_QUOTA_US: u64 = 100_000;
/// Deploy-time installs get more room than instances: pip builds wheels, npm opens many files.
const BUILD_MEMORY_BYTES: u64 = 2 << 30;
const BUILD_PIDS: u64 = 512;
const BUILD_NOFILE: u64 = 8192;
const BUILD_TMP_BYTES: u64 = 2 << 30;
/// The socket directory inside the sandbox (Fn's `iofsDockerMountDest` + `udsFilename`).
pub const IOFS_DIR: &str = "/tmp/iofs";
pub const FN_LISTENER_IN_SANDBOX: &str = "unix:/tmp/iofs/lsnr.sock";
const CODE_MOUNT: &str = "/function";
/// The system directories a function may read (and the usual root symlinks into `/usr`).
const SYSTEM_DIRS: [&str; 8] = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

// === what the launcher is told (JSON on fd 3) ===

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// Report what each step achieved instead of exec'ing.
    pub probe: bool,
    /// In a new user namespace: map this uid/gid to itself.
    pub map_ids: Option<(u32, u32)>,
    pub cgroup_procs: Vec<PathBuf>,
    pub root: Option<RootSpec>,
    /// setresgid/setresuid to these (fngate is root).
    pub switch_ids: Option<(u32, u32)>,
    pub rlimits: Vec<(Rlimit, u64)>,
    pub landlock: Option<LandlockRules>,
    pub seccomp: Option<SeccompOptions>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Rlimit {
    Nofile,
    Nproc,
    Fsize,
    Core,
    Memlock,
    Sigpending,
    Msgqueue,
    Data,
}

impl Rlimit {
    fn resource(self) -> nix::sys::resource::Resource {
        use nix::sys::resource::Resource;
        match self {
            Rlimit::Nofile => Resource::RLIMIT_NOFILE,
            Rlimit::Nproc => Resource::RLIMIT_NPROC,
            Rlimit::Fsize => Resource::RLIMIT_FSIZE,
            Rlimit::Core => Resource::RLIMIT_CORE,
            Rlimit::Memlock => Resource::RLIMIT_MEMLOCK,
            Rlimit::Sigpending => Resource::RLIMIT_SIGPENDING,
            Rlimit::Msgqueue => Resource::RLIMIT_MSGQUEUE,
            Rlimit::Data => Resource::RLIMIT_DATA,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootSpec {
    /// Host directory the new root's tmpfs is mounted on (invisible outside the namespace).
    pub mountpoint: PathBuf,
    pub entries: Vec<Mount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Mount {
    Bind {
        src: PathBuf,
        dest: PathBuf,
        writable: bool,
    },
    Device {
        src: PathBuf,
        dest: PathBuf,
    },
    Tmpfs {
        dest: PathBuf,
        size_bytes: u64,
        inodes: u64,
        mode: u32,
        owner: Option<(u32, u32)>,
    },
    Proc {
        dest: PathBuf,
    },
    Symlink {
        target: PathBuf,
        dest: PathBuf,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LandlockRules {
    pub read_exec: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
    pub devices: Vec<PathBuf>,
    pub deny_tcp_bind: bool,
    /// Fail unless fully enforced (the probe saw it fully enforced).
    pub required_full: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeccompOptions {
    /// Refuse shared anonymous memory (no memory cgroup counts it).
    pub deny_shared_memory: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProbeReport {
    pub steps: Vec<(String, Result<String, String>)>,
    pub root_reachable: bool,
}

impl ProbeReport {
    fn ok(&self, step: &str) -> Option<bool> {
        self.steps.iter().find(|(name, _)| name == step).map(|(_, r)| r.is_ok())
    }

    fn detail(&self, step: &str) -> String {
        match self.steps.iter().find(|(name, _)| name == step) {
            Some((_, Ok(text))) | Some((_, Err(text))) => text.clone(),
            None => "not tried".into(),
        }
    }
}

// === deployments ===

/// Where a deployment's code and environment appear to the function (recorded per deployment:
/// a Python venv only runs at the path it was built for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Host paths (no mount namespace; and deployments from before the sandbox).
    #[default]
    Host,
    /// Fn's paths: `/function`, `/python` or `/node`.
    Fn,
}

impl Layout {
    /// (code, environment) as the function sees them.
    pub fn seen_paths(self, lang: Lang, code_dir: &Path, env_dir: &Path) -> (PathBuf, PathBuf) {
        match self {
            Layout::Host => (code_dir.to_path_buf(), env_dir.to_path_buf()),
            Layout::Fn => (PathBuf::from(CODE_MOUNT), PathBuf::from(env_mount(lang))),
        }
    }
}

fn env_mount(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "/python",
        Lang::Node => "/node",
    }
}

// === the sandbox a server uses ===

/// What this server's probe found, and therefore what every instance gets.
#[derive(Debug)]
pub struct Sandbox {
    is_root: bool,
    namespaces: bool,
    landlock: Option<bool>,
    seccomp: bool,
    no_new_privs: bool,
    cgroups: Option<cgroup::Cgroups>,
    uids: Option<uids::Uids>,
    run_dir: PathBuf,
    cache_dir: PathBuf,
    enforced: Vec<String>,
    not_enforced: Vec<String>,
}

/// One instance to start.
pub struct InstanceRequest<'a> {
    pub fn_id: &'a str,
    pub lang: Lang,
    pub layout: Layout,
    pub command: &'a [String],
    pub code_dir: &'a Path,
    pub env_dir: &'a Path,
    /// Interpreter installs outside `/usr` (pyenv, nvm), bound read-only at their own path.
    pub runtime_dirs: &'a [PathBuf],
    /// Config and FN_* variables (fngate adds PATH, HOME, TMPDIR and FN_LISTENER).
    pub env: &'a [(String, String)],
    pub memory_mb: u64,
}

pub struct Started {
    pub child: Child,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// Where `lsnr.sock` appears, as fngate reaches it.
    pub socket_dir: PathBuf,
    pub fn_listener: String,
    /// The host directory of this instance; removed once it has stopped.
    pub instance_dir: PathBuf,
}

/// One deploy-time install command.
pub struct BuildRequest<'a> {
    pub lang: Lang,
    pub layout: Layout,
    pub code_dir: &'a Path,
    /// Written by the install.
    pub env_dir: &'a Path,
    pub runtime_dirs: &'a [PathBuf],
    pub command: Vec<String>,
    /// Run in the environment directory (npm) rather than the code directory.
    pub in_env_dir: bool,
    pub env: Vec<(String, String)>,
}

pub struct BuildOutput {
    pub success: bool,
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Sandbox {
    /// Probes what this machine and user allow. `functions_root` is `<data>/functions`.
    pub async fn start(functions_root: &Path, run_dir: &Path) -> Sandbox {
        let disabled = std::env::var("FNGATE_SANDBOX_DISABLE").unwrap_or_default();
        let disabled = |what: &str| disabled.split(',').any(|d| d.trim() == what);
        let is_root = nix::unistd::geteuid().is_root();
        let mut not_enforced = Vec::new();
        let (cgroups, notes) = if disabled("cgroups") {
            (None, vec!["cgroups disabled by FNGATE_SANDBOX_DISABLE".to_string()])
        } else {
            cgroup::Cgroups::detect()
        };
        not_enforced.extend(notes);
        let uids = if is_root {
            match uids::Uids::load(&functions_root.join("uids.json"), uids::DEFAULT_BASE) {
                Ok(uids) => Some(uids),
                Err(err) => {
                    not_enforced.push(format!("per-function uids: {err}"));
                    None
                }
            }
        } else {
            None
        };
        let mut sandbox = Sandbox {
            is_root,
            namespaces: false,
            landlock: None,
            seccomp: false,
            no_new_privs: false,
            cgroups,
            uids,
            run_dir: run_dir.to_path_buf(),
            cache_dir: functions_root.join("cache"),
            enforced: Vec::new(),
            not_enforced,
        };
        let mut report = None;
        if !disabled("namespaces") {
            match sandbox.probe(true, &disabled).await {
                Ok(r) if r.ok("mounts") == Some(true) && r.root_reachable => report = Some((true, r)),
                Ok(r) => sandbox
                    .not_enforced
                    .push(format!("mount namespace: {}", r.detail("mounts"))),
                Err(err) => sandbox.not_enforced.push(format!("namespaces: {err}")),
            }
        } else {
            sandbox
                .not_enforced
                .push("namespaces disabled by FNGATE_SANDBOX_DISABLE".into());
        }
        if report.is_none() {
            match sandbox.probe(false, &disabled).await {
                Ok(r) => report = Some((false, r)),
                Err(err) => sandbox.not_enforced.push(format!("sandbox launcher: {err}")),
            }
        }
        if let Some((namespaces, report)) = report {
            sandbox.apply_report(namespaces, &report, &disabled);
        }
        sandbox.log();
        sandbox
    }

    fn apply_report(&mut self, namespaces: bool, report: &ProbeReport, disabled: &dyn Fn(&str) -> bool) {
        self.namespaces = namespaces;
        if namespaces {
            let user = if self.is_root { "" } else { "user, " };
            self.enforced.push(format!(
                "{user}mount, pid, ipc and uts namespaces: a private read-only root; the whole process tree dies with the instance and with fngate"
            ));
        } else {
            self.not_enforced.push(
                "no mount or pid namespace: code and environment are at host paths (Landlock confines access); daemons a function starts can outlive its instance unless a cgroup holds them"
                    .into(),
            );
        }
        match (&self.uids, report.ok("uid")) {
            (Some(uids), Some(true)) if namespaces => self.enforced.push(format!(
                "a uid per function from {} (recorded in uids.json), builds as uid {}",
                uids.base() + 1,
                uids.build_uid()
            )),
            (Some(_), _) => {
                self.not_enforced.push(
                    "per-function uids: need the mount namespace (the data directory is not readable by them)".into(),
                );
                self.uids = None;
            }
            (None, _) if !self.is_root => self
                .not_enforced
                .push("per-function uids: fngate is not root; functions run as its uid".into()),
            (None, _) => {}
        }
        if report.ok("no_capabilities") == Some(true) && report.ok("capabilities") == Some(true) {
            self.enforced
                .push(format!("no capabilities ({})", report.detail("capabilities")));
        } else {
            self.not_enforced
                .push(format!("capabilities: {}", report.detail("no_capabilities")));
        }
        self.no_new_privs = report.ok("no_new_privs") == Some(true);
        if self.no_new_privs {
            self.enforced.push("no_new_privs".into());
        } else {
            self.not_enforced
                .push(format!("no_new_privs: {}", report.detail("no_new_privs")));
        }
        if disabled("landlock") {
            self.not_enforced
                .push("landlock disabled by FNGATE_SANDBOX_DISABLE".into());
        } else if report.ok("landlock") == Some(true) {
            let detail = report.detail("landlock");
            self.landlock = Some(detail == "fully enforced");
            self.enforced.push(format!(
                "landlock ({detail}): files, no TCP bind, no signals or abstract sockets outside the instance"
            ));
        } else {
            self.not_enforced
                .push(format!("landlock: {}", report.detail("landlock")));
        }
        if disabled("seccomp") {
            self.not_enforced
                .push("seccomp disabled by FNGATE_SANDBOX_DISABLE".into());
        } else if report.ok("seccomp") == Some(true) {
            self.seccomp = true;
            self.enforced.push(
                "seccomp: no ptrace, process_vm_*, mount, namespaces, bpf, kexec, modules, io_uring, userfaultfd, perf, keyrings"
                    .into(),
            );
        } else {
            self.not_enforced.push(format!("seccomp: {}", report.detail("seccomp")));
        }
        match &self.cgroups {
            Some(cgroups) if report.ok("cgroups") == Some(true) => {
                let names: Vec<&str> = cgroups
                    .controllers()
                    .iter()
                    .map(|c| match c {
                        Controller::Memory => "memory",
                        Controller::Pids => "pids",
                        Controller::Cpu => "cpu",
                    })
                    .collect();
                self.enforced.push(format!(
                    "cgroup v{} per instance: {}",
                    cgroups.version(),
                    names.join(", ")
                ));
            }
            Some(_) => {
                self.not_enforced.push(format!("cgroups: {}", report.detail("cgroups")));
                self.cgroups = None;
            }
            None => {}
        }
        let memcg = self.has(Controller::Memory);
        let pids = self.has(Controller::Pids);
        self.enforced.push(format!(
            "limits per instance: memory {}, pids {PIDS_MAX}{}, open files {NOFILE_MAX}, file size and /tmp half the memory, CPU {}",
            if memcg {
                "(memory cgroup)"
            } else {
                "(RLIMIT_DATA; shared anonymous memory refused)"
            },
            if pids {
                ""
            } else if namespaces && !self.is_root {
                " (RLIMIT_NPROC in the instance's user namespace)"
            } else {
                " (RLIMIT_NPROC, counted per uid)"
            },
            if self.has(Controller::Cpu) {
                "1 core (cgroup)"
            } else {
                "not limited"
            },
        ));
        if !self.has(Controller::Cpu) {
            self.not_enforced.push("CPU: no cpu cgroup, so not limited".into());
        }
        if !namespaces {
            self.not_enforced
                .push("/tmp size: no private tmpfs without a mount namespace (file size is limited)".into());
        }
        self.not_enforced
            .push("UDP: Landlock has no UDP rules, so a function can bind UDP ports".into());
    }

    fn log(&self) {
        tracing::info!(enforced = ?self.enforced, "function sandbox");
        for item in &self.not_enforced {
            tracing::warn!("function sandbox: not enforced: {item}");
        }
    }

    pub fn has(&self, controller: Controller) -> bool {
        self.cgroups.as_ref().is_some_and(|c| c.has(controller))
    }

    /// The layout new deployments are prepared for.
    pub fn layout(&self) -> Layout {
        if self.namespaces { Layout::Fn } else { Layout::Host }
    }

    /// For the functions status endpoint.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": match (self.namespaces, self.is_root) {
                (true, true) => "namespaces, a uid per function",
                (true, false) => "user namespace (fngate is not root)",
                (false, _) => "no namespaces (Landlock and seccomp only)",
            },
            "enforced": self.enforced,
            "not_enforced": self.not_enforced,
            "uids_allocated": self.uids.as_ref().map(|u| u.count()),
        })
    }

    /// Forgets uids of deleted functions.
    pub fn retain_uids(&self, live: &dyn Fn(&str) -> bool) {
        if let Some(uids) = &self.uids {
            uids.retain(live);
        }
    }

    pub fn shutdown(&self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove_base();
        }
    }

    fn clone_flags(&self, namespaces: bool) -> CloneFlags {
        if !namespaces {
            return CloneFlags::empty();
        }
        let mut flags =
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
        if !self.is_root {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        flags
    }

    fn own_ids() -> (u32, u32) {
        (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    }

    /// Runs the launcher in probe mode with every mechanism.
    async fn probe(&self, namespaces: bool, disabled: &dyn Fn(&str) -> bool) -> io::Result<ProbeReport> {
        let dir = new_instance_dir(&self.run_dir)?;
        let ids = self.uids.as_ref().map(|u| (u.build_uid(), u.build_uid()));
        let cgroup = match &self.cgroups {
            Some(cgroups) => Some(cgroups.create(
                &format!("probe{}", rand::random::<u32>()),
                &cgroup::Limits {
                    memory_bytes: Some(64 << 20),
                    pids: Some(PIDS_MAX),
                    cpu_quota_us: Some(CPU_QUOTA_US),
                },
            )?),
            None => None,
        };
        let (cgroup, cgroup_procs) = match cgroup {
            Some((group, procs)) => (Some(group), procs),
            None => (None, Vec::new()),
        };
        let tmp = if namespaces {
            PathBuf::from("/tmp")
        } else {
            dir.join("tmp")
        };
        if !namespaces {
            std::fs::create_dir_all(&tmp)?;
        }
        let mut read_exec: Vec<PathBuf> = existing_system_dirs();
        read_exec.push("/proc".into());
        let spec = LaunchSpec {
            probe: true,
            map_ids: (namespaces && !self.is_root).then(Self::own_ids),
            cgroup_procs,
            root: namespaces.then(|| RootSpec {
                mountpoint: dir.clone(),
                entries: self.base_mounts(64 << 20, 256, ids, &[], true),
            }),
            switch_ids: if namespaces { ids } else { None },
            rlimits: vec![(Rlimit::Core, 0)],
            landlock: (!disabled("landlock")).then(|| LandlockRules {
                read_exec,
                read_write: vec![tmp],
                devices: vec![],
                deny_tcp_bind: true,
                required_full: false,
            }),
            seccomp: (!disabled("seccomp")).then_some(SeccompOptions {
                deny_shared_memory: !self.has(Controller::Memory),
            }),
            program: PathBuf::new(),
            args: vec![],
            env: vec![],
            cwd: PathBuf::from("/"),
        };
        let spawned = spawn::spawn(&spec, self.clone_flags(namespaces), spawn::Stdin::Pipe, cgroup)?;
        let mut child = spawned.child;
        let stdin = spawned.stdin;
        let stdout = spawned.stdout;
        let stderr = spawned.stderr;
        let line = tokio::time::timeout(Duration::from_secs(10), read_first_line(stdout)).await;
        let reachable =
            !namespaces || std::fs::metadata(format!("/proc/{}/root/tmp", child.pid())).is_ok_and(|m| m.is_dir());
        drop(stdin);
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        let _ = std::fs::remove_dir_all(&dir);
        let line = match line {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            other => {
                child.kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                let errors = read_all_now(stderr);
                return Err(io::Error::other(format!(
                    "the probe reported nothing ({}): {}",
                    match other {
                        Err(_) => "timed out".to_string(),
                        Ok(Err(err)) => err.to_string(),
                        Ok(Ok(_)) => format!("{status:?}"),
                    },
                    String::from_utf8_lossy(&errors).trim()
                )));
            }
        };
        let mut report: ProbeReport =
            serde_json::from_str(&line).map_err(|err| io::Error::other(format!("probe report: {err}")))?;
        report.root_reachable &= reachable;
        Ok(report)
    }

    /// `/usr`, `/etc`, the root symlinks, `/proc`, `/dev`, `/tmp` and `/tmp/iofs`.
    fn base_mounts(
        &self,
        tmp_bytes: u64,
        tmp_inodes: u64,
        owner: Option<(u32, u32)>,
        runtime_dirs: &[PathBuf],
        iofs: bool,
    ) -> Vec<Mount> {
        let mut entries = Vec::new();
        for dir in SYSTEM_DIRS {
            let path = Path::new(dir);
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(path) {
                        entries.push(Mount::Symlink {
                            target,
                            dest: path.to_path_buf(),
                        });
                    }
                }
                Ok(meta) if meta.is_dir() => entries.push(Mount::Bind {
                    src: path.to_path_buf(),
                    dest: path.to_path_buf(),
                    writable: false,
                }),
                _ => {}
            }
        }
        // /etc/resolv.conf may point into /run (systemd-resolved).
        if let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
            && !SYSTEM_DIRS.iter().any(|d| resolv.starts_with(d))
        {
            entries.push(Mount::Bind {
                src: resolv.clone(),
                dest: resolv,
                writable: false,
            });
        }
        for dir in runtime_dirs {
            if !SYSTEM_DIRS.iter().any(|d| dir.starts_with(d)) {
                entries.push(Mount::Bind {
                    src: dir.clone(),
                    dest: dir.clone(),
                    writable: false,
                });
            }
        }
        entries.push(Mount::Proc { dest: "/proc".into() });
        entries.push(Mount::Tmpfs {
            dest: "/dev".into(),
            size_bytes: 64 * 1024,
            inodes: 64,
            mode: 0o755,
            owner: None,
        });
        for device in self.devices() {
            entries.push(Mount::Device {
                src: device.clone(),
                dest: device,
            });
        }
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            // POSIX shared memory lands in /tmp, under its size limit.
            ("shm", "/tmp"),
        ] {
            entries.push(Mount::Symlink {
                target: target.into(),
                dest: Path::new("/dev").join(name),
            });
        }
        entries.push(Mount::Tmpfs {
            dest: "/tmp".into(),
            size_bytes: tmp_bytes,
            inodes: tmp_inodes,
            mode: 0o1777,
            owner,
        });
        if iofs {
            entries.push(Mount::Tmpfs {
                dest: IOFS_DIR.into(),
                size_bytes: 64 * 1024,
                inodes: 64,
                mode: 0o700,
                owner,
            });
        }
        entries
    }

    /// Device nodes a function gets. `/dev/zero` maps shared memory that only a memory cgroup
    /// counts, so it is left out without one.
    fn devices(&self) -> Vec<PathBuf> {
        let mut devices = vec!["/dev/null", "/dev/full", "/dev/random", "/dev/urandom"];
        if self.has(Controller::Memory) {
            devices.push("/dev/zero");
        }
        devices.into_iter().map(PathBuf::from).filter(|p| p.exists()).collect()
    }

    fn seccomp_options(&self) -> Option<SeccompOptions> {
        self.seccomp.then(|| SeccompOptions {
            deny_shared_memory: !self.has(Controller::Memory),
        })
    }

    /// rlimits for a process with this memory, file-size and task budget.
    fn rlimits(&self, memory_bytes: u64, fsize_bytes: u64, nofile: u64, tasks: u64) -> Vec<(Rlimit, u64)> {
        let mut limits = vec![
            (Rlimit::Nofile, nofile),
            (Rlimit::Fsize, fsize_bytes),
            (Rlimit::Core, 0),
            (Rlimit::Memlock, MEMLOCK_BYTES),
            (Rlimit::Sigpending, SIGPENDING_MAX),
            (Rlimit::Msgqueue, MSGQUEUE_BYTES),
        ];
        if !self.has(Controller::Memory) {
            // Not RLIMIT_AS: V8 reserves gigabytes of address space at start.
            limits.push((Rlimit::Data, memory_bytes));
        }
        if !self.has(Controller::Pids) {
            // Per uid: inside its own user namespace that is this instance alone; as root it is
            // every instance of the function (up to the per-function instance limit).
            let per_uid = if self.namespaces && !self.is_root {
                tasks
            } else {
                tasks * 8
            };
            limits.push((Rlimit::Nproc, per_uid));
        }
        limits
    }

    /// Starts one function instance.
    pub fn spawn_instance(&self, request: &InstanceRequest<'_>) -> io::Result<Started> {
        if request.layout == Layout::Fn && !self.namespaces {
            return Err(io::Error::other(
                "this function was prepared for a sandbox with mount namespaces, which this server cannot create; redeploy it",
            ));
        }
        let (program, args) = request
            .command
            .split_first()
            .ok_or_else(|| io::Error::other("the function has no command"))?;
        let instance_dir = new_instance_dir(&self.run_dir)?;
        let memory_bytes = request.memory_mb.saturating_mul(1 << 20);
        // Half the memory: tmpfs pages count toward the memory cgroup too, so a full /tmp
        // still leaves the function room to run (and the write fails with ENOSPC, not an OOM kill).
        let tmp_bytes = memory_bytes / 2;
        let ids = match &self.uids {
            Some(uids) if self.namespaces => {
                let uid = uids.for_fn(request.fn_id)?;
                Some((uid, uid))
            }
            _ => None,
        };
        let (code_seen, env_seen) = request
            .layout
            .seen_paths(request.lang, request.code_dir, request.env_dir);
        let (tmp, socket_dir, fn_listener) = if self.namespaces {
            (
                PathBuf::from("/tmp"),
                PathBuf::new(),
                FN_LISTENER_IN_SANDBOX.to_string(),
            )
        } else {
            let tmp = instance_dir.join("tmp");
            let iofs = instance_dir.join("iofs");
            for dir in [&tmp, &iofs] {
                std::fs::create_dir(dir)?;
                set_mode(dir, 0o700)?;
            }
            let listener = format!("unix:{}", iofs.join(crate::instance::SOCKET_NAME).display());
            (tmp, iofs, listener)
        };
        let mut env = vec![
            (
                "PATH".to_string(),
                search_path(request.runtime_dirs, &env_seen, request.lang),
            ),
            ("HOME".to_string(), tmp.display().to_string()),
            ("TMPDIR".to_string(), tmp.display().to_string()),
        ];
        env.extend(request.env.iter().cloned());
        env.push(("FN_LISTENER".to_string(), fn_listener.clone()));
        let root = self.namespaces.then(|| {
            let mut entries = self.base_mounts(tmp_bytes, 16 * 1024, ids, request.runtime_dirs, true);
            entries.push(Mount::Bind {
                src: request.code_dir.to_path_buf(),
                dest: code_seen.clone(),
                writable: false,
            });
            entries.push(Mount::Bind {
                src: request.env_dir.to_path_buf(),
                dest: env_seen.clone(),
                writable: false,
            });
            RootSpec {
                mountpoint: instance_dir.clone(),
                entries,
            }
        });
        let (cgroup, cgroup_procs) = self.instance_cgroup(&instance_dir, memory_bytes, PIDS_MAX, Some(CPU_QUOTA_US))?;
        let landlock = self.landlock.map(|full| {
            let mut read_exec = system_read_dirs(self.namespaces, request.runtime_dirs);
            read_exec.push(code_seen.clone());
            read_exec.push(env_seen.clone());
            LandlockRules {
                read_exec,
                read_write: if self.namespaces {
                    vec![tmp.clone()]
                } else {
                    vec![tmp.clone(), socket_dir.clone()]
                },
                devices: self.devices(),
                deny_tcp_bind: true,
                required_full: full,
            }
        });
        let spec = LaunchSpec {
            probe: false,
            map_ids: (self.namespaces && !self.is_root).then(Self::own_ids),
            cgroup_procs,
            root,
            switch_ids: ids,
            rlimits: self.rlimits(memory_bytes, tmp_bytes, NOFILE_MAX, PIDS_MAX),
            landlock,
            seccomp: self.seccomp_options(),
            program: PathBuf::from(program),
            args: args.to_vec(),
            env,
            cwd: code_seen,
        };
        let spawned = match spawn::spawn(&spec, self.clone_flags(self.namespaces), spawn::Stdin::Null, cgroup) {
            Ok(spawned) => spawned,
            Err(err) => {
                let _ = std::fs::remove_dir_all(&instance_dir);
                return Err(err);
            }
        };
        let socket_dir = if self.namespaces {
            PathBuf::from(format!("/proc/{}/root{IOFS_DIR}", spawned.child.pid()))
        } else {
            socket_dir
        };
        Ok(Started {
            child: spawned.child,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            socket_dir,
            fn_listener,
            instance_dir,
        })
    }

    fn instance_cgroup(
        &self,
        instance_dir: &Path,
        memory_bytes: u64,
        pids: u64,
        cpu_quota_us: Option<u64>,
    ) -> io::Result<(Option<cgroup::InstanceCgroup>, Vec<PathBuf>)> {
        let Some(cgroups) = &self.cgroups else {
            return Ok((None, Vec::new()));
        };
        let name = instance_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("i{:016x}", rand::random::<u64>()));
        let (group, procs) = cgroups.create(
            &name,
            &cgroup::Limits {
                memory_bytes: Some(memory_bytes),
                pids: Some(pids),
                cpu_quota_us,
            },
        )?;
        Ok((Some(group), procs))
    }

    /// Runs one install command (pip, npm) to completion under the same rules, with the
    /// environment directory writable; blocks (call from a blocking thread).
    pub fn run_build(&self, request: &BuildRequest<'_>) -> io::Result<BuildOutput> {
        if request.layout == Layout::Fn && !self.namespaces {
            return Err(io::Error::other("Fn-layout builds need mount namespaces"));
        }
        let (program, args) = request
            .command
            .split_first()
            .ok_or_else(|| io::Error::other("no build command"))?;
        let instance_dir = new_instance_dir(&self.run_dir)?;
        let result = self.run_build_in(request, program, args, &instance_dir);
        let _ = std::fs::remove_dir_all(&instance_dir);
        result
    }

    fn run_build_in(
        &self,
        request: &BuildRequest<'_>,
        program: &str,
        args: &[String],
        instance_dir: &Path,
    ) -> io::Result<BuildOutput> {
        let ids = match &self.uids {
            Some(uids) if self.namespaces => Some((uids.build_uid(), uids.build_uid())),
            _ => None,
        };
        let (code_seen, env_seen) = request
            .layout
            .seen_paths(request.lang, request.code_dir, request.env_dir);
        let caches = self.build_caches(request.lang, ids)?;
        if let Some((uid, gid)) = ids
            && std::fs::metadata(request.env_dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) != uid)
        {
            chown_tree(request.env_dir, uid, gid)?;
        }
        let tmp = if self.namespaces {
            PathBuf::from("/tmp")
        } else {
            let tmp = instance_dir.join("tmp");
            std::fs::create_dir(&tmp)?;
            tmp
        };
        let mut env = vec![
            (
                "PATH".to_string(),
                search_path(request.runtime_dirs, &env_seen, request.lang),
            ),
            ("HOME".to_string(), tmp.display().to_string()),
            ("TMPDIR".to_string(), tmp.display().to_string()),
        ];
        for (name, dir) in &caches {
            env.push((name.to_string(), dir.display().to_string()));
        }
        let installer = installer_env();
        // Paths those settings name (PIP_FIND_LINKS=/opt/wheels, PIP_CERT) are shown read-only.
        let named_paths: Vec<PathBuf> = installer
            .iter()
            .flat_map(|(_, value)| value.split_whitespace().map(PathBuf::from).collect::<Vec<_>>())
            .filter(|path| path.is_absolute() && path.exists())
            .collect();
        env.extend(installer);
        env.extend(request.env.iter().cloned());
        let mut read_only: Vec<PathBuf> = request.runtime_dirs.to_vec();
        read_only.extend(named_paths);
        let root = self.namespaces.then(|| {
            let mut entries = self.base_mounts(BUILD_TMP_BYTES, 256 * 1024, ids, &read_only, false);
            entries.push(Mount::Bind {
                src: request.code_dir.to_path_buf(),
                dest: code_seen.clone(),
                writable: false,
            });
            entries.push(Mount::Bind {
                src: request.env_dir.to_path_buf(),
                dest: env_seen.clone(),
                writable: true,
            });
            for (_, dir) in &caches {
                entries.push(Mount::Bind {
                    src: dir.clone(),
                    dest: dir.clone(),
                    writable: true,
                });
            }
            RootSpec {
                mountpoint: instance_dir.to_path_buf(),
                entries,
            }
        });
        let (cgroup, cgroup_procs) = self.instance_cgroup(instance_dir, BUILD_MEMORY_BYTES, BUILD_PIDS, None)?;
        let landlock = self.landlock.map(|full| {
            let mut read_exec = system_read_dirs(self.namespaces, &read_only);
            read_exec.push(code_seen.clone());
            let mut read_write = vec![tmp.clone(), env_seen.clone()];
            read_write.extend(caches.iter().map(|(_, dir)| dir.clone()));
            LandlockRules {
                read_exec,
                read_write,
                devices: self.devices(),
                deny_tcp_bind: true,
                required_full: full,
            }
        });
        let spec = LaunchSpec {
            probe: false,
            map_ids: (self.namespaces && !self.is_root).then(Self::own_ids),
            cgroup_procs,
            root,
            switch_ids: ids,
            rlimits: self.rlimits(BUILD_MEMORY_BYTES, BUILD_TMP_BYTES, BUILD_NOFILE, BUILD_PIDS),
            landlock,
            seccomp: self.seccomp_options(),
            program: PathBuf::from(program),
            args: args.to_vec(),
            env,
            cwd: if request.in_env_dir { env_seen } else { code_seen },
        };
        let spawned = spawn::spawn(&spec, self.clone_flags(self.namespaces), spawn::Stdin::Null, cgroup)?;
        let mut child = spawned.child;
        let stderr = spawned.stderr;
        let errors = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = io::Read::read_to_end(&mut std::fs::File::from(stderr), &mut bytes);
            bytes
        });
        let mut stdout = Vec::new();
        let _ = io::Read::read_to_end(&mut std::fs::File::from(spawned.stdout), &mut stdout);
        let stderr = errors.join().unwrap_or_default();
        let status = child.wait_blocking();
        let (success, status) = match status {
            Some(nix::sys::wait::WaitStatus::Exited(_, 0)) => (true, "exit status 0".to_string()),
            Some(nix::sys::wait::WaitStatus::Exited(_, code)) => (false, format!("exit status {code}")),
            Some(nix::sys::wait::WaitStatus::Signaled(_, signal, _)) => (false, format!("killed by {signal}")),
            other => (false, format!("{other:?}")),
        };
        Ok(BuildOutput {
            success,
            status,
            stdout,
            stderr,
        })
    }

    /// Download caches the installers keep between deploys: `PIP_CACHE_DIR` / `npm_config_cache`
    /// when fngate's environment sets them, else `<data>/functions/cache/*`; owned by the build
    /// uid (as root), since the install writes them.
    fn build_caches(&self, lang: Lang, ids: Option<(u32, u32)>) -> io::Result<Vec<(&'static str, PathBuf)>> {
        let (name, default) = match lang {
            Lang::Python => ("PIP_CACHE_DIR", "pip"),
            Lang::Node => ("npm_config_cache", "npm"),
        };
        let dir = std::env::var_os(name)
            .map(PathBuf::from)
            .unwrap_or_else(|| self.cache_dir.join(default));
        std::fs::create_dir_all(&dir)?;
        if let Some((uid, gid)) = ids
            && std::fs::metadata(&dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) != uid)
        {
            chown_tree(&dir, uid, gid)?;
        }
        Ok(vec![(name, dir)])
    }
}

/// Installer settings from fngate's own environment (mirrors, proxies, CA bundles).
fn installer_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| {
            let upper = name.to_ascii_uppercase();
            (upper.starts_with("PIP_") && upper != "PIP_CACHE_DIR")
                || (upper.starts_with("NPM_CONFIG_") && upper != "NPM_CONFIG_CACHE")
                || [
                    "HTTP_PROXY",
                    "HTTPS_PROXY",
                    "NO_PROXY",
                    "ALL_PROXY",
                    "SSL_CERT_FILE",
                    "SSL_CERT_DIR",
                ]
                .contains(&upper.as_str())
        })
        .collect()
}

/// PATH inside: the environment's `bin` (Python), the interpreter installs, then the system's.
fn search_path(runtime_dirs: &[PathBuf], env_seen: &Path, lang: Lang) -> String {
    let mut dirs: Vec<String> = Vec::new();
    if lang == Lang::Python {
        dirs.push(env_seen.join("bin").display().to_string());
    }
    dirs.extend(runtime_dirs.iter().map(|d| d.join("bin").display().to_string()));
    dirs.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from));
    dirs.join(":")
}

fn existing_system_dirs() -> Vec<PathBuf> {
    SYSTEM_DIRS
        .iter()
        .map(PathBuf::from)
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect()
}

/// What a function may read and execute besides its code and environment.
fn system_read_dirs(namespaces: bool, runtime_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = existing_system_dirs();
    dirs.push("/proc".into());
    dirs.extend(runtime_dirs.iter().cloned());
    if let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
        && !SYSTEM_DIRS.iter().any(|d| resolv.starts_with(d))
    {
        dirs.push(resolv);
    }
    if !namespaces {
        dirs.retain(|d| d.exists());
    }
    dirs
}

fn new_instance_dir(run_dir: &Path) -> io::Result<PathBuf> {
    let base = if run_dir.join("i0000000000000000/iofs/lsnr.sock").as_os_str().len() > 107 {
        // A long data-dir path: FN_LISTENER must fit sun_path (only without a namespace).
        std::env::temp_dir().join(format!("fngate-{}", nix::unistd::getuid()))
    } else {
        run_dir.to_path_buf()
    };
    std::fs::create_dir_all(&base)?;
    let dir = base.join(format!("i{:016x}", rand::random::<u64>()));
    std::fs::create_dir(&dir)?;
    set_mode(&dir, 0o700)?;
    Ok(dir)
}

fn set_mode(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Hands a tree to `uid`. Files that vanish meanwhile (another server's install using a shared
/// cache) are skipped.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let gone = |err: &io::Error| err.kind() == io::ErrorKind::NotFound;
    match std::os::unix::fs::lchown(dir, Some(uid), Some(gid)) {
        Err(err) if gone(&err) => return Ok(()),
        other => other?,
    }
    let entries = match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(dir),
        Ok(_) => return Ok(()),
        Err(err) if gone(&err) => return Ok(()),
        Err(err) => return Err(err),
    };
    let entries = match entries {
        Err(err) if gone(&err) => return Ok(()),
        other => other?,
    };
    for entry in entries {
        match entry {
            Ok(entry) => chown_tree(&entry.path(), uid, gid)?,
            Err(err) if gone(&err) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

async fn read_first_line(fd: OwnedFd) -> io::Result<String> {
    use tokio::io::AsyncBufReadExt;
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)?;
    let mut line = String::new();
    tokio::io::BufReader::new(pipe).read_line(&mut line).await?;
    Ok(line)
}

fn read_all_now(fd: OwnedFd) -> Vec<u8> {
    // The process has exited (or been killed): the pipe is at EOF or nearly.
    let mut bytes = Vec::new();
    let _ = io::Read::read_to_end(&mut std::fs::File::from(fd), &mut bytes);
    bytes
}
