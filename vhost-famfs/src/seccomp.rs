// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The daemon's seccomp filter (`serve --seccomp=kill|log|none`): once the
//! device and sockets are open, every thread may make only the system
//! calls listed here (openat fails with EACCES, see `REFUSED`). The list
//! was taken from `strace -f` of the daemon serving real guests and the
//! sandbox test, and checked against the frontend tests
//! (docs/sandboxing.md tells how to take it again); one list for all
//! threads, because the serving,
//! watcher and control threads share the allocator, logging and locking
//! paths that make most of the calls.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

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

/// The calls every architecture has. Seen under strace after the filter
/// was installed unless marked "not seen".
const COMMON: &[(libc::c_long, &str)] = syscalls![
    // vhost-user messages (with fds), eventfds, epoll, the control socket.
    SYS_read,
    SYS_write,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_accept4,
    SYS_getsockopt,
    SYS_setsockopt,
    SYS_shutdown,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_eventfd2,
    SYS_fcntl,
    SYS_close,
    // Waking an accept at shutdown (socket is AF_UNIX only, below).
    SYS_socket,
    SYS_connect,
    // Guest memory and the device window; the append lock.
    SYS_mmap,
    SYS_munmap,
    SYS_mprotect,
    SYS_madvise,
    SYS_flock,
    // Allocator growth (not seen: brk, mremap for large reallocs).
    SYS_brk,
    SYS_mremap,
    // Threads (one per queue and connection) and their names (prctl is
    // PR_SET_NAME only, below).
    SYS_clone3,
    SYS_futex,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_sigaltstack,
    SYS_prctl,
    SYS_sched_getaffinity,
    SYS_gettid,
    SYS_getrandom,
    // Sleeping, time (vDSO, but a VM's clocksource may fall back to the
    // call: not seen), the stop signals.
    SYS_clock_nanosleep,
    SYS_clock_gettime,
    SYS_rt_sigprocmask,
    SYS_rt_sigtimedwait,
    // A fault (SIGSEGV/SIGBUS: std's handler resets to the default and
    // returns) or an abort must end the daemon as that signal, not as
    // SIGSYS (not seen).
    SYS_rt_sigaction,
    SYS_rt_sigreturn,
    SYS_getpid,
    SYS_tgkill,
    SYS_exit,
    SYS_exit_group,
];

/// Calls whose name differs by architecture: removing the sockets, waiting
/// on epoll.
#[cfg(target_arch = "x86_64")]
const ARCH: &[(libc::c_long, &str)] = syscalls![SYS_unlink, SYS_epoll_wait];
#[cfg(not(target_arch = "x86_64"))]
const ARCH: &[(libc::c_long, &str)] = syscalls![SYS_unlinkat, SYS_epoll_pwait];

/// The system calls the filter allows, with their names.
pub fn allowed() -> impl Iterator<Item = (libc::c_long, &'static str)> {
    COMMON.iter().chain(ARCH).copied()
}

/// `nr`'s argument rules: calls allowed only with one first argument.
fn rules_for(nr: libc::c_long) -> Result<Vec<SeccompRule>, SeccompError> {
    let only = |value: libc::c_int| -> Result<Vec<SeccompRule>, SeccompError> {
        let c = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value as u64)?;
        Ok(vec![SeccompRule::new(vec![c])?])
    };
    match nr {
        libc::SYS_socket => only(libc::AF_UNIX),
        libc::SYS_prctl => only(libc::PR_SET_NAME),
        _ => Ok(Vec::new()),
    }
}

/// Calls that fail with EACCES instead of killing: nothing is opened
/// after start-up, but glibc's malloc, once a process has more than 8
/// arenas (threads), opens /sys/devices/system/cpu/online to count the
/// CPUs, and falls back to sched_getaffinity when it cannot.
const REFUSED: &[(libc::c_long, &str)] = syscalls![SYS_openat];

/// The BPF programs, in the order they are installed: the refusal of
/// `REFUSED` calls (first: the allow list forbids installing more), then
/// the allow list (listed and refused calls pass, others take `mode`'s
/// action). The kernel runs both and takes the stricter answer. `None`
/// for `SeccompMode::None`.
pub fn programs(mode: SeccompMode) -> Result<Option<Vec<BpfProgram>>, SeccompError> {
    let on_miss = match mode {
        SeccompMode::None => return Ok(None),
        SeccompMode::Kill => SeccompAction::KillProcess,
        SeccompMode::Log => SeccompAction::Log,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SeccompError::Arch(std::env::consts::ARCH))?;
    let rules = allowed()
        .chain(REFUSED.iter().copied())
        .map(|(nr, _)| Ok((nr, rules_for(nr)?)))
        .collect::<Result<BTreeMap<_, _>, SeccompError>>()?;
    let allow = SeccompFilter::new(rules, on_miss, SeccompAction::Allow, arch)?;
    let refused = REFUSED.iter().map(|(nr, _)| (*nr, Vec::new())).collect();
    let refuse = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )?;
    Ok(Some(vec![refuse.try_into()?, allow.try_into()?]))
}

/// Installs the filters on every thread of the process (TSYNC), so that
/// threads started before them are covered too.
pub fn install(mode: SeccompMode) -> Result<(), SeccompError> {
    let Some(programs) = programs(mode)? else {
        log::warn!("running without a seccomp filter (--seccomp=none)");
        return Ok(());
    };
    for p in &programs {
        seccompiler::apply_filter_all_threads(p)?;
    }
    log::info!(
        "seccomp filter installed: {} system calls allowed, {} refused (EACCES), others {}",
        allowed().count(),
        REFUSED.len(),
        if mode == SeccompMode::Kill {
            "kill the daemon"
        } else {
            "logged"
        }
    );
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
        let progs = programs(mode).unwrap().unwrap();
        // SAFETY: the child only makes raw system calls (prctl, seccomp,
        // `nr`, _exit): nothing that could wait on a lock held by
        // another thread of the parent.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = if !progs.iter().all(|p| seccompiler::apply_filter(p).is_ok()) {
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
    fn socket_and_prctl_pass_only_with_their_argument() {
        // Forks a child making `nr` with first argument `arg` under the
        // kill filter.
        let with_arg = |nr: libc::c_long, arg: libc::c_long| {
            let progs = programs(SeccompMode::Kill).unwrap().unwrap();
            // SAFETY: as in `call_under_filter`: raw system calls only.
            match unsafe { fork() }.unwrap() {
                ForkResult::Child => {
                    let code = if !progs.iter().all(|p| seccompiler::apply_filter(p).is_ok()) {
                        2
                    } else {
                        // SAFETY: socket and prctl(PR_SET_NAME / others)
                        // with a null name pointer only fail with EFAULT.
                        unsafe { libc::syscall(nr, arg, libc::SOCK_STREAM, 0, 0, 0) };
                        0
                    };
                    // SAFETY: as above.
                    unsafe { libc::_exit(code) }
                }
                ForkResult::Parent { child } => waitpid(child, None).unwrap(),
            }
        };
        let killed = |s| matches!(s, WaitStatus::Signaled(_, Signal::SIGSYS, _));
        assert!(!killed(with_arg(libc::SYS_socket, libc::AF_UNIX.into())));
        assert!(killed(with_arg(libc::SYS_socket, libc::AF_INET.into())));
        assert!(!killed(with_arg(libc::SYS_prctl, libc::PR_SET_NAME.into())));
        assert!(killed(with_arg(
            libc::SYS_prctl,
            libc::PR_SET_DUMPABLE.into()
        )));
    }

    #[test]
    fn opening_a_file_fails_with_eacces_and_lives() {
        let progs = programs(SeccompMode::Kill).unwrap().unwrap();
        // SAFETY: as in `call_under_filter`: raw system calls only.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = if !progs.iter().all(|p| seccompiler::apply_filter(p).is_ok()) {
                    2
                } else {
                    // SAFETY: a NUL-terminated static path; the result
                    // and errno are only compared.
                    let r = unsafe {
                        libc::syscall(
                            libc::SYS_openat,
                            libc::AT_FDCWD,
                            c"/sys/devices/system/cpu/online".as_ptr(),
                            libc::O_RDONLY,
                        )
                    };
                    // SAFETY: errno of this thread.
                    let errno = unsafe { *libc::__errno_location() };
                    if r == -1 && errno == libc::EACCES {
                        0
                    } else {
                        3
                    }
                };
                // SAFETY: as above.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                assert!(matches!(
                    waitpid(child, None).unwrap(),
                    WaitStatus::Exited(_, 0)
                ));
            }
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
        assert!(programs(SeccompMode::None).unwrap().is_none());
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
