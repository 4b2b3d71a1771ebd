//! One cgroup per sandboxed process for its memory, pids and CPU limits: cgroup v2 where
//! `/sys/fs/cgroup` is the unified hierarchy, else the v1 `memory`, `pids` and `cpu`
//! hierarchies, each used when fngate may create groups in it (root, or a delegated subtree).
//! Layout: `<hierarchy>/fngate/p<server pid>/<name>`; at start, groups of servers that are gone
//! are emptied and removed.

use std::io;
use std::path::{Path, PathBuf};

const MOUNT: &str = "/sys/fs/cgroup";
const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// CPU time per 100 ms period, in µs (100_000 = one CPU).
    pub cpu_quota_us: Option<u64>,
}

#[derive(Debug)]
enum Layout {
    /// One directory per v1 hierarchy, for the controllers found usable.
    V1(Vec<(Controller, PathBuf)>),
    /// The server's v2 group, with the controllers enabled for its children.
    V2 {
        base: PathBuf,
        controllers: Vec<Controller>,
    },
}

#[derive(Debug)]
pub struct Cgroups {
    layout: Layout,
}

/// The groups of one sandboxed process; removed (after killing what is left) on drop.
#[derive(Debug)]
pub struct InstanceCgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
}

impl Cgroups {
    /// The cgroups this server can use, and a note per controller it cannot.
    pub fn detect() -> (Option<Cgroups>, Vec<String>) {
        let mut notes = Vec::new();
        let tag = format!("p{}", std::process::id());
        let unified = Path::new(MOUNT).join("cgroup.controllers");
        if unified.is_file() {
            let base = std::env::var_os("FNGATE_CGROUP_PARENT")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(MOUNT).join("fngate"))
                .join(&tag);
            return match v2_setup(&base) {
                Ok(controllers) => {
                    for wanted in [Controller::Memory, Controller::Pids, Controller::Cpu] {
                        if !controllers.contains(&wanted) {
                            notes.push(format!("cgroup v2 controller {} is not available", wanted.name()));
                        }
                    }
                    (
                        Some(Cgroups {
                            layout: Layout::V2 { base, controllers },
                        }),
                        notes,
                    )
                }
                Err(err) => {
                    notes.push(format!("cgroup v2 at {}: {err}", base.display()));
                    (None, notes)
                }
            };
        }
        let mut usable = Vec::new();
        for controller in [Controller::Memory, Controller::Pids, Controller::Cpu] {
            let root = Path::new(MOUNT).join(controller.name());
            if !root.join("cgroup.procs").is_file() {
                notes.push(format!("cgroup v1 {} hierarchy is not mounted", controller.name()));
                continue;
            }
            let parent = root.join("fngate");
            clean_stale(&parent);
            let base = parent.join(&tag);
            match std::fs::create_dir_all(&base) {
                Ok(()) => usable.push((controller, base)),
                Err(err) => notes.push(format!(
                    "cgroup v1 {}: cannot create {}: {err}",
                    controller.name(),
                    base.display()
                )),
            }
        }
        if usable.is_empty() {
            return (None, notes);
        }
        (
            Some(Cgroups {
                layout: Layout::V1(usable),
            }),
            notes,
        )
    }

    pub fn version(&self) -> u8 {
        match self.layout {
            Layout::V1(_) => 1,
            Layout::V2 { .. } => 2,
        }
    }

    pub fn controllers(&self) -> Vec<Controller> {
        match &self.layout {
            Layout::V1(dirs) => dirs.iter().map(|(c, _)| *c).collect(),
            Layout::V2 { controllers, .. } => controllers.clone(),
        }
    }

    pub fn has(&self, controller: Controller) -> bool {
        self.controllers().contains(&controller)
    }

    /// A fresh group named `name` with `limits`; the process joins it by writing to the
    /// returned `cgroup.procs` files (the launcher does, before anything else runs).
    pub fn create(&self, name: &str, limits: &Limits) -> io::Result<(InstanceCgroup, Vec<PathBuf>)> {
        let mut group = InstanceCgroup {
            dirs: Vec::new(),
            v2: matches!(self.layout, Layout::V2 { .. }),
        };
        match &self.layout {
            Layout::V1(dirs) => {
                for (controller, base) in dirs {
                    let dir = base.join(name);
                    std::fs::create_dir(&dir)?;
                    group.dirs.push(dir.clone());
                    write_v1_limits(*controller, &dir, limits)?;
                }
            }
            Layout::V2 { base, controllers } => {
                let dir = base.join(name);
                std::fs::create_dir(&dir)?;
                group.dirs.push(dir.clone());
                write_v2_limits(controllers, &dir, limits)?;
            }
        }
        let procs = group.dirs.iter().map(|d| d.join("cgroup.procs")).collect();
        Ok((group, procs))
    }

    /// Removes this server's own (empty) parent groups at shutdown.
    pub fn remove_base(&self) {
        match &self.layout {
            Layout::V1(dirs) => {
                for (_, base) in dirs {
                    let _ = std::fs::remove_dir(base);
                }
            }
            Layout::V2 { base, .. } => {
                let _ = std::fs::remove_dir(base);
            }
        }
    }
}

fn write_v1_limits(controller: Controller, dir: &Path, limits: &Limits) -> io::Result<()> {
    match controller {
        Controller::Memory => {
            if let Some(bytes) = limits.memory_bytes {
                std::fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
                // With swap accounting, no swap either (Fn: MemorySwap = Memory).
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    std::fs::write(memsw, bytes.to_string())?;
                }
            }
        }
        Controller::Pids => {
            if let Some(pids) = limits.pids {
                std::fs::write(dir.join("pids.max"), pids.to_string())?;
            }
        }
        Controller::Cpu => {
            if let Some(quota) = limits.cpu_quota_us {
                std::fs::write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
            }
        }
    }
    Ok(())
}

fn write_v2_limits(controllers: &[Controller], dir: &Path, limits: &Limits) -> io::Result<()> {
    if let (true, Some(bytes)) = (controllers.contains(&Controller::Memory), limits.memory_bytes) {
        std::fs::write(dir.join("memory.max"), bytes.to_string())?;
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            std::fs::write(swap, "0")?;
        }
    }
    if let (true, Some(pids)) = (controllers.contains(&Controller::Pids), limits.pids) {
        std::fs::write(dir.join("pids.max"), pids.to_string())?;
    }
    if let (true, Some(quota)) = (controllers.contains(&Controller::Cpu), limits.cpu_quota_us) {
        std::fs::write(dir.join("cpu.max"), format!("{quota} {CPU_PERIOD_US}"))?;
    }
    Ok(())
}

/// Creates the server's v2 group and enables memory, pids and cpu for the groups below it
/// (each ancestor from the mount down must delegate them). Returns the controllers enabled.
fn v2_setup(base: &Path) -> io::Result<Vec<Controller>> {
    if let Some(parent) = base.parent() {
        clean_stale(parent);
    }
    std::fs::create_dir_all(base)?;
    let mut chain = vec![base.to_path_buf()];
    let mut dir = base.parent();
    while let Some(d) = dir {
        if !d.starts_with(MOUNT) {
            break;
        }
        chain.push(d.to_path_buf());
        dir = d.parent();
    }
    chain.reverse();
    let mut enabled = Vec::new();
    for controller in [Controller::Memory, Controller::Pids, Controller::Cpu] {
        let all = chain.iter().all(|dir| {
            let current = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
            current.split_whitespace().any(|c| c == controller.name())
                || std::fs::write(dir.join("cgroup.subtree_control"), format!("+{}", controller.name())).is_ok()
        });
        if all {
            enabled.push(controller);
        }
    }
    Ok(enabled)
}

/// Empties and removes the groups of servers that are no longer running.
fn clean_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix('p'))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(groups) = std::fs::read_dir(entry.path()) {
            for group in groups.flatten() {
                if group.path().is_dir() {
                    kill_and_remove(&group.path(), is_v2(parent));
                }
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

fn is_v2(path: &Path) -> bool {
    path.starts_with(MOUNT) && Path::new(MOUNT).join("cgroup.controllers").is_file()
}

/// Kills every process still in the group, then removes it.
fn kill_and_remove(dir: &Path, v2: bool) {
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() {
            return;
        }
        if v2 && std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(2));
            continue;
        }
        let pids = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

impl InstanceCgroup {
    /// Whether the memory controller killed a process of this group for going over its limit.
    pub fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|dir| {
            let events = if self.v2 {
                std::fs::read_to_string(dir.join("memory.events"))
            } else {
                std::fs::read_to_string(dir.join("memory.oom_control"))
            };
            events.unwrap_or_default().lines().any(|line| {
                line.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
            })
        })
    }

    /// Kills whatever is left in the groups (a process tree without its own pid namespace).
    pub fn kill_all(&self) {
        for dir in &self.dirs {
            if self.v2 {
                let _ = std::fs::write(dir.join("cgroup.kill"), "1");
                continue;
            }
            let pids = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

impl Drop for InstanceCgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // Usually empty by now (the pid namespace is gone); a process tree without one is
            // killed here.
            if std::fs::remove_dir(dir).is_err() {
                kill_and_remove(dir, self.v2);
            }
        }
    }
}
