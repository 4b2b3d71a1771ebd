//! The seccomp filter every function process runs under (compiled by `seccompiler` in the
//! launcher). Default allow, with a refusal list: no function needs to debug or read other
//! processes, mount, load kernel code or modules, create namespaces, or use the kernel
//! interfaces that are mostly attack surface (io_uring, userfaultfd, perf, keyrings, bpf).
//! Three filters are stacked because each carries one errno: `EPERM` for the list, `ENOSYS` for
//! `clone3` (its flags sit in memory a filter cannot read; glibc then falls back to `clone`,
//! whose namespace flags are refused), and — when no memory cgroup bounds the instance —
//! `ENOMEM` for shared anonymous memory, which `RLIMIT_DATA` does not count.

use std::collections::BTreeMap;

use anyhow::Context;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use super::SeccompOptions;

/// System calls refused with EPERM, whatever their arguments.
fn refused() -> Vec<libc::c_long> {
    let mut calls = vec![
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_process_madvise,
        libc::SYS_pidfd_getfd,
        libc::SYS_kcmp,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_bpf,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_syslog,
        libc::SYS_vhangup,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_fanotify_init,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_migrate_pages,
        libc::SYS_move_pages,
        libc::SYS_lookup_dcookie,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        libc::SYS_uselib,
        libc::SYS_nfsservctl,
        libc::SYS__sysctl,
    ]);
    calls
}

const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

fn arch() -> anyhow::Result<TargetArch> {
    std::env::consts::ARCH
        .try_into()
        .map_err(|_| anyhow::anyhow!("no seccomp filter for {}", std::env::consts::ARCH))
}

fn masked(arg: u8, bits: u64) -> anyhow::Result<SeccompCondition> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(bits),
        bits,
    )?)
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> anyhow::Result<BpfProgram> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch()?)?;
    Ok(filter.try_into()?)
}

/// The filters for these options, in the order they are installed.
pub fn programs(options: &SeccompOptions) -> anyhow::Result<Vec<BpfProgram>> {
    let mut eperm: BTreeMap<i64, Vec<SeccompRule>> = refused().into_iter().map(|call| (call, vec![])).collect();
    // clone(flags, …): any namespace flag.
    let namespace_rules = NAMESPACE_FLAGS
        .iter()
        .map(|flag| SeccompRule::new(vec![masked(0, *flag as u64)?]).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;
    eperm.insert(libc::SYS_clone, namespace_rules);
    let mut filters = vec![
        compile(eperm, libc::EPERM)?,
        compile([(libc::SYS_clone3, vec![])].into_iter().collect(), libc::ENOSYS)?,
    ];
    if options.deny_shared_memory {
        let shared_anonymous = (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u64;
        let rules = [
            (
                libc::SYS_mmap,
                vec![SeccompRule::new(vec![masked(3, shared_anonymous)?])?],
            ),
            (libc::SYS_memfd_create, vec![]),
            (libc::SYS_shmget, vec![]),
        ]
        .into_iter()
        .collect();
        filters.push(compile(rules, libc::ENOMEM)?);
    }
    Ok(filters)
}

/// Installs the filters on the calling thread (the launcher, before it execs the function).
pub fn apply(options: &SeccompOptions) -> anyhow::Result<()> {
    for program in programs(options)? {
        seccompiler::apply_filter(&program).context("installing the seccomp filter")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_this_machine() {
        let filters = programs(&SeccompOptions {
            deny_shared_memory: true,
        })
        .unwrap();
        assert_eq!(filters.len(), 3);
        assert!(filters.iter().all(|f| !f.is_empty()));
    }
}
