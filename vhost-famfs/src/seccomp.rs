// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The daemon's seccomp filter (`serve --seccomp=kill|log|none`): once the
//! device and sockets are open, every thread may make only the system
//! calls listed here. The list was taken from `strace -f` of the daemon
//! serving real guests and the frontend tests (docs/sandboxing.md tells
//! how to take it again); one list for all threads, because the serving,
//! watcher and control threads share the allocator, logging and locking
//! paths that make most of the calls.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// What a system call outside the list does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeccompMode {
    /// No filter (debugging).
    None,
    /// The process is killed with SIGSYS.
    #[default]
    Kill,
    /// The call is allowed and the kernel logs it (audit or the kernel
    /// log): for finding what a new code path needs.
    Log,
}

impl std::str::FromStr for SeccompMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(SeccompMode::None),
            "kill" => Ok(SeccompMode::Kill),
            "log" => Ok(SeccompMode::Log),
            _ => Err(format!("{s:?}: expected none, kill or log")),
        }
    }
}

/// Errors building or installing the filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {0}")]
    Filter(#[from] seccompiler::Error),
    #[error("seccomp: {0}")]
    Backend(#[from] seccompiler::BackendError),
    #[error("seccomp: no filter for this architecture ({0})")]
    Arch(&'static str),
}

macro_rules! syscalls {
    ($($name:ident),* $(,)?) => {
        &[$((libc::$name, stringify!($name))),*]
    };
}

/// The calls every architecture has.
const COMMON: &[(libc::c_long, &str)] = syscalls![
    // Serving: vhost-user messages, virtqueues, eventfds, epoll.
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_recvfrom,
    SYS_sendto,
    SYS_accept4,
    SYS_connect,
    SYS_socket,
    SYS_shutdown,
    SYS_getsockopt,
    SYS_setsockopt,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_eventfd2,
    SYS_ppoll,
    SYS_close,
    SYS_fcntl,
    SYS_dup,
    SYS_dup3,
    SYS_ioctl,
    // Guest memory and the device.
    SYS_mmap,
    SYS_munmap,
    SYS_mremap,
    SYS_mprotect,
    SYS_madvise,
    SYS_msync,
    SYS_fsync,
    SYS_fdatasync,
    SYS_flock,
    SYS_fstat,
    SYS_newfstatat,
    SYS_statx,
    SYS_lseek,
    SYS_openat,
    SYS_unlinkat,
    SYS_getdents64,
    // Threads, time, signals, exit.
    SYS_clone,
    SYS_clone3,
    SYS_futex,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_sched_yield,
    SYS_sched_getaffinity,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_clock_gettime,
    SYS_gettimeofday,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_rt_sigtimedwait,
    SYS_sigaltstack,
    SYS_tgkill,
    SYS_getpid,
    SYS_gettid,
    SYS_getrandom,
    SYS_brk,
    SYS_prctl,
    SYS_exit,
    SYS_exit_group,
];

/// The x86_64 calls with no equivalent elsewhere.
#[cfg(target_arch = "x86_64")]
const ARCH: &[(libc::c_long, &str)] = syscalls![SYS_epoll_wait, SYS_poll, SYS_unlink];
#[cfg(not(target_arch = "x86_64"))]
const ARCH: &[(libc::c_long, &str)] = &[];

/// The system calls the filter allows, with their names.
pub fn allowed() -> impl Iterator<Item = (libc::c_long, &'static str)> {
    COMMON.iter().chain(ARCH).copied()
}

/// The BPF program: listed calls pass, others take `mode`'s action.
/// `None` for `SeccompMode::None`.
pub fn program(mode: SeccompMode) -> Result<Option<BpfProgram>, SeccompError> {
    let on_miss = match mode {
        SeccompMode::None => return Ok(None),
        SeccompMode::Kill => SeccompAction::KillProcess,
        SeccompMode::Log => SeccompAction::Log,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SeccompError::Arch(std::env::consts::ARCH))?;
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        allowed().map(|(nr, _)| (nr, Vec::new())).collect();
    let filter = SeccompFilter::new(rules, on_miss, SeccompAction::Allow, arch)?;
    Ok(Some(filter.try_into()?))
}

/// Installs the filter on every thread of the process (TSYNC), so that
/// threads started before it are covered too.
pub fn install(mode: SeccompMode) -> Result<(), SeccompError> {
    if let Some(p) = program(mode)? {
        seccompiler::apply_filter_all_threads(&p)?;
        log::info!(
            "seccomp filter installed: {} system calls allowed, others {}",
            allowed().count(),
            if mode == SeccompMode::Kill {
                "kill the daemon"
            } else {
                "logged"
            }
        );
    } else {
        log::warn!("running without a seccomp filter (--seccomp=none)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    /// Forks a child that installs `mode`'s filter and makes the system
    /// call `nr`, then exits 0; returns how the child ended.
    fn call_under_filter(mode: SeccompMode, nr: libc::c_long) -> WaitStatus {
        // Built before forking: the child of a threaded test harness must
        // not allocate.
        let prog = program(mode).unwrap().unwrap();
        // SAFETY: the child only makes raw system calls (prctl, seccomp,
        // `nr`, _exit): nothing that could wait on a lock held by
        // another thread of the parent.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = if seccompiler::apply_filter(&prog).is_err() {
                    2
                } else {
                    // SAFETY: the calls used here take no pointers
                    // (arguments are zero); their result is not used.
                    unsafe { libc::syscall(nr, 0, 0, 0, 0) };
                    0
                };
                // SAFETY: _exit ends the child without running the
                // parent's atexit handlers or destructors.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => waitpid(child, None).unwrap(),
        }
    }

    #[test]
    fn a_call_outside_the_list_kills_the_process() {
        // The daemon never changes its root directory or traces.
        for nr in [libc::SYS_chroot, libc::SYS_ptrace] {
            assert!(allowed().all(|(a, _)| a != nr));
            assert!(matches!(
                call_under_filter(SeccompMode::Kill, nr),
                WaitStatus::Signaled(_, Signal::SIGSYS, _)
            ));
        }
    }

    #[test]
    fn listed_calls_pass_and_log_mode_only_logs() {
        assert!(matches!(
            call_under_filter(SeccompMode::Kill, libc::SYS_getpid),
            WaitStatus::Exited(_, 0)
        ));
        assert!(matches!(
            call_under_filter(SeccompMode::Log, libc::SYS_chroot),
            WaitStatus::Exited(_, 0)
        ));
        assert!(program(SeccompMode::None).unwrap().is_none());
    }

    #[test]
    fn the_list_has_no_duplicates_or_privileged_calls() {
        let mut seen = std::collections::HashSet::new();
        for (nr, name) in allowed() {
            assert!(seen.insert(nr), "{name} listed twice");
        }
        for nr in [
            libc::SYS_setuid,
            libc::SYS_setgid,
            libc::SYS_setgroups,
            libc::SYS_execve,
            libc::SYS_mount,
            libc::SYS_ptrace,
            libc::SYS_init_module,
            libc::SYS_seccomp,
        ] {
            assert!(!seen.contains(&nr), "{nr} must stay forbidden");
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!("kill".parse(), Ok(SeccompMode::Kill));
        assert_eq!("log".parse(), Ok(SeccompMode::Log));
        assert_eq!("none".parse(), Ok(SeccompMode::None));
        assert!("trap".parse::<SeccompMode>().is_err());
        assert_eq!(SeccompMode::default(), SeccompMode::Kill);
    }
}
