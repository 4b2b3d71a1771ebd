//! Starting a sandboxed process: `clone` with the new namespaces, then `execve` of fngate's own
//! binary as the launcher (`fngate-sandbox`, see [`super::launcher`]), which reads its
//! [`LaunchSpec`] from fd 3, applies it and execs the function. The cloned child does nothing
//! but arrange its descriptors and exec, so it needs no allocation after the fork-like clone of a
//! multi-threaded server; the launcher is a fresh single-threaded process and may do anything.
//!
//! The child is fngate's direct child and, with `CLONE_NEWPID`, the init of its own pid
//! namespace: when it dies the kernel kills everything else in the namespace (daemons that
//! `setsid` included), and it dies with fngate (`PR_SET_PDEATHSIG`, even on `kill -9`).

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::LaunchSpec;
use super::cgroup::InstanceCgroup;

/// argv[0] the launcher is recognised by (`launcher::main_if_launcher`).
pub const LAUNCHER_ARGV0: &str = "fngate-sandbox";
/// Where the launcher finds its spec and fngate's pidfd.
pub const SPEC_FD: RawFd = 3;
pub const PARENT_PIDFD: RawFd = 4;
/// Largest spec accepted (env is bounded by the 4 KB config limits; paths are short).
const MAX_SPEC_BYTES: usize = 256 * 1024;
const CHILD_STACK: usize = 64 * 1024;

pub enum Stdin {
    Null,
    /// A pipe whose write end the caller gets (the probe waits on it).
    Pipe,
}

pub struct Spawned {
    pub child: Child,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Clones and execs the launcher with `spec`; returns once the launcher runs (its own failures
/// show up on its stderr and exit status).
pub fn spawn(
    spec: &LaunchSpec,
    namespaces: CloneFlags,
    stdin: Stdin,
    cgroup: Option<InstanceCgroup>,
) -> io::Result<Spawned> {
    let json = serde_json::to_vec(spec).map_err(io::Error::other)?;
    if json.len() > MAX_SPEC_BYTES {
        return Err(io::Error::other(format!(
            "the sandbox spec is {} bytes, more than {MAX_SPEC_BYTES}",
            json.len()
        )));
    }
    let (spec_read, spec_write) = pipe()?;
    // Room for the whole spec, so it is written before the clone and never blocks.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        libc::fcntl(
            spec_write.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            MAX_SPEC_BYTES as libc::c_int,
        )
    };
    std::fs::File::from(spec_write).write_all(&json)?;
    let (stdin_child, stdin_parent) = match stdin {
        Stdin::Null => (OwnedFd::from(std::fs::File::open("/dev/null")?), None),
        Stdin::Pipe => {
            let (read, write) = pipe()?;
            (read, Some(write))
        }
    };
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (error_read, error_write) = pipe()?;
    let parent_pidfd = parent_pidfd()?;

    let exe = CString::new("/proc/self/exe").map_err(io::Error::other)?;
    let argv0 = CString::new(LAUNCHER_ARGV0).map_err(io::Error::other)?;
    let argv = [argv0.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // (source, target) descriptors for the launcher.
    let wiring = [
        (stdin_child.as_raw_fd(), 0),
        (stdout_write.as_raw_fd(), 1),
        (stderr_write.as_raw_fd(), 2),
        (spec_read.as_raw_fd(), SPEC_FD),
        (parent_pidfd.as_raw_fd(), PARENT_PIDFD),
    ];
    let error_fd = error_write.as_raw_fd();
    let keep_capabilities = namespaces.contains(CloneFlags::CLONE_NEWUSER);
    let mut stack = vec![0u8; CHILD_STACK];
    let child_main = Box::new(move || -> isize {
        // Only async-signal-safe system calls from here to execve: this is a copy of a
        // multi-threaded process whose locks may be held by threads that do not exist here.
        // SAFETY: plain system calls on descriptors and pointers prepared before the clone.
        unsafe {
            // First above every target, so no dup2 overwrites a source still needed.
            let mut high = [0; 5];
            for (i, (source, _)) in wiring.iter().enumerate() {
                high[i] = libc::fcntl(*source, libc::F_DUPFD_CLOEXEC, 10);
                if high[i] < 0 {
                    return report_and_exit(error_fd);
                }
            }
            for (i, (_, target)) in wiring.iter().enumerate() {
                if libc::dup2(high[i], *target) < 0 {
                    return report_and_exit(error_fd);
                }
            }
            // In a new user namespace the child holds every capability there, but its uid is not
            // mapped yet, so execve would drop them all: raised as ambient capabilities they
            // survive into the launcher, which maps its ids, builds the root and then clears
            // every set.
            if keep_capabilities && raise_ambient_capabilities() < 0 {
                return report_and_exit(error_fd);
            }
            // Nothing else of fngate's reaches the launcher.
            libc::close_range(5, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int);
            if libc::setsid() < 0 || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) < 0 {
                return report_and_exit(error_fd);
            }
            libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
            report_and_exit(error_fd)
        }
    });
    // CLONE_VM | CLONE_VFORK, as posix_spawn does: the child borrows this address space until
    // its execve instead of copying a large server's page tables only to tear them down again
    // (measured: most of the time to start a launcher), and this thread waits meanwhile. Every
    // signal stays blocked across it, so no handler of fngate's runs in the child; the launcher
    // unblocks them.
    let all = nix::sys::signal::SigSet::all();
    let mut previous = nix::sys::signal::SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&all),
        Some(&mut previous),
    )
    .map_err(io::Error::from)?;
    let flags = namespaces | CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
    // SAFETY: the child only makes the system calls above (see there), on its own stack, and
    // this thread is suspended until the child has exec'd or exited.
    let cloned = unsafe { nix::sched::clone(child_main, &mut stack, flags, Some(libc::SIGCHLD)) };
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&previous), None);
    let pid = cloned.map_err(io::Error::from)?;
    drop((stdin_child, stdout_write, stderr_write, spec_read, error_write));
    // The clone child owns a pid we have not reaped, so the pid cannot be reused meanwhile.
    let pidfd = pidfd_open(pid);
    let mut child = Child {
        pid,
        pidfd,
        status: None,
        own_pid_namespace: namespaces.contains(CloneFlags::CLONE_NEWPID),
        cgroup,
    };
    // EOF once the launcher is exec'd (the write end is close-on-exec); an errno otherwise.
    let mut errno = [0u8; 4];
    let read = std::fs::File::from(error_read).read(&mut errno).unwrap_or(0);
    if read == 4 {
        child.kill();
        let _ = child.wait_blocking();
        return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
    }
    let pidfd_ok = child.pidfd.is_ok();
    if !pidfd_ok {
        child.kill();
        let _ = child.wait_blocking();
        return Err(io::Error::other("pidfd_open failed for the sandboxed process"));
    }
    Ok(Spawned {
        child,
        stdin: stdin_parent,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// In the clone child: inheritable = permitted, then every capability raised as ambient.
/// Only system calls on stack values.
unsafe fn raise_ambient_capabilities() -> i32 {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget/capset with a v3 header and two data words; prctl with integers.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) < 0 {
            return -1;
        }
        for word in &mut data {
            word.inheritable = word.permitted;
        }
        if libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) < 0 {
            return -1;
        }
        for cap in 0..64 {
            let word = data[cap / 32].permitted;
            if word & (1 << (cap % 32)) != 0 {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                );
            }
        }
    }
    0
}

/// In the clone child: sends errno to the parent and exits.
unsafe fn report_and_exit(error_fd: RawFd) -> isize {
    // SAFETY: errno location and write on an open descriptor; no allocation.
    unsafe {
        let errno = *libc::__errno_location();
        let bytes = errno.to_ne_bytes();
        libc::write(error_fd, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A pidfd of fngate itself, handed to every launcher: readable once fngate has exited, so a
/// launcher that re-arms `PR_SET_PDEATHSIG` after changing uid can tell it missed the death.
fn parent_pidfd() -> io::Result<std::os::fd::BorrowedFd<'static>> {
    static FD: OnceLock<Option<OwnedFd>> = OnceLock::new();
    FD.get_or_init(|| pidfd_open(Pid::this()).ok())
        .as_ref()
        .map(|fd| fd.as_fd())
        .ok_or_else(|| io::Error::other("pidfd_open of fngate itself failed"))
}

/// A sandboxed process: fngate's direct child, waited for through its pidfd.
pub struct Child {
    pid: Pid,
    pidfd: io::Result<OwnedFd>,
    status: Option<WaitStatus>,
    /// Killing the child then ends its whole tree (it is the init of its pid namespace).
    own_pid_namespace: bool,
    /// Removed once the child is reaped.
    cgroup: Option<InstanceCgroup>,
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// SIGKILL through the pidfd (never hits a reused pid). With a pid namespace this ends the
    /// whole tree; without one, its process group and cgroup are killed too.
    pub fn kill(&self) {
        if !self.own_pid_namespace
            && let Some(cgroup) = &self.cgroup
        {
            cgroup.kill_all();
        }
        if self.status.is_some() {
            // Reaped: the pid (and so the group id) may belong to someone else now.
            return;
        }
        if !self.own_pid_namespace {
            // The child called setsid, so its pid is its group's id.
            let _ = nix::sys::signal::killpg(self.pid, Signal::SIGKILL);
        }
        if let Ok(pidfd) = &self.pidfd {
            // SAFETY: pidfd_send_signal on our descriptor.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    Signal::SIGKILL as libc::c_int,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        } else {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        }
    }

    /// The exit status if the process has exited (reaps it).
    pub fn try_wait(&mut self) -> Option<WaitStatus> {
        if self.status.is_none() {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => self.status = Some(status),
                // ECHILD: already reaped elsewhere; treat as gone.
                Err(_) => self.status = Some(WaitStatus::Exited(self.pid, -1)),
            }
        }
        self.status
    }

    pub fn is_alive(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// Whether its memory cgroup killed a process for going over the limit.
    pub fn oom_killed(&self) -> bool {
        self.cgroup.as_ref().is_some_and(InstanceCgroup::oom_killed)
    }

    /// Waits for the exit without blocking a runtime thread (the pidfd turns readable).
    pub async fn wait(&mut self) -> WaitStatus {
        let watch = self
            .pidfd
            .as_ref()
            .ok()
            .and_then(|fd| fd.try_clone().ok())
            .and_then(|fd| {
                // SAFETY: `fd` is a duplicate the AsyncFd owns for as long as it is registered.
                unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
            });
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            match &watch {
                Some(fd) => {
                    if let Ok(mut guard) = fd.readable().await {
                        guard.clear_ready();
                    }
                }
                None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }

    /// Blocking wait (a thread that may block, or a process that is already dead).
    pub fn wait_blocking(&mut self) -> Option<WaitStatus> {
        if self.status.is_none() {
            self.status = Some(waitpid(self.pid, None).unwrap_or(WaitStatus::Exited(self.pid, -1)));
        }
        self.status
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
        if self.try_wait().is_some() {
            return;
        }
        reap_later(self.pid, self.cgroup.take());
    }
}

/// Reaps killed children on a thread of its own, so a drop never blocks and no zombie stays;
/// their cgroups are removed once they are reaped.
fn reap_later(pid: Pid, cgroup: Option<InstanceCgroup>) {
    type Job = (Pid, Option<InstanceCgroup>);
    static REAPER: OnceLock<Option<std::sync::Mutex<std::sync::mpsc::Sender<Job>>>> = OnceLock::new();
    let sender = REAPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fngate-reaper".into())
            .spawn(move || {
                for (pid, cgroup) in rx {
                    let _ = waitpid(pid, None);
                    drop(cgroup);
                }
            })
            .ok()
            .map(|_| std::sync::Mutex::new(tx))
    });
    let sent = sender
        .as_ref()
        .and_then(|tx| tx.lock().ok())
        .is_some_and(|tx| tx.send((pid, cgroup)).is_ok());
    if !sent {
        // No thread: a last try that at least does not block.
        let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
    }
}
