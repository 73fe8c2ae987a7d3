// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The daemon's listening sockets: bound by the daemon itself (missing
//! directory created, owner-only or group-shared mode) or inherited from a
//! service manager (systemd socket activation, libvirt `--fd`).

use std::collections::HashMap;
use std::fs::DirBuilder;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{getsockname, getsockopt, sockopt, SockType, SockaddrStorage};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Group};
use vhost::vhost_user::Listener;

/// Bytes a UNIX socket path may have (sun_path is 108 with its NUL).
const SUN_PATH_MAX: usize = 107;

/// Errors creating or adopting a listening socket.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("creating socket directory {dir}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("socket path {0} is longer than the {SUN_PATH_MAX} bytes a UNIX socket address holds")]
    TooLong(PathBuf),
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    #[error("{0} is in use: another process accepts connections on it")]
    InUse(PathBuf),
    #[error("cannot listen on {path}")]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: giving the socket to group {gid} (mode 0660)")]
    Group {
        path: PathBuf,
        gid: u32,
        #[source]
        source: io::Error,
    },
    #[error("--fd {fd}: {why}")]
    Inherited { fd: RawFd, why: String },
    #[error("socket group {0:?}: no such group")]
    NoSuchGroup(String),
}

/// Resolves `--socket-group`: a group name, or a numeric gid.
pub fn lookup_group(name: &str) -> Result<Gid, ListenError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(ListenError::NoSuchGroup(name.to_string())),
    }
}

/// A listening socket handed to the process (e.g. by systemd), checked.
#[derive(Debug)]
pub struct Inherited {
    /// Where the socket is bound, as VMMs connect to it.
    pub path: PathBuf,
    fd: OwnedFd,
}

/// Takes file descriptor `fd` as the daemon's listening socket. It must be
/// a listening UNIX stream socket bound to a path (not abstract): that is
/// what systemd passes for `ListenStream=/path` with `Accept=no`.
///
/// The descriptor then belongs to the returned value; nothing else in the
/// process may use or close it.
pub fn inherit(fd: RawFd) -> Result<Inherited, ListenError> {
    let bad = |why: &str| ListenError::Inherited {
        fd,
        why: why.to_string(),
    };
    if fd < 0 {
        return Err(bad("not a file descriptor"));
    }
    // SAFETY: F_GETFD only reads the descriptor table, for any integer.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(bad("not an open file descriptor"));
    }
    // SAFETY: F_GETFD just succeeded, so `fd` is open; the borrow ends
    // before ownership is taken below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    match getsockopt(&borrowed, sockopt::SockType) {
        Ok(SockType::Stream) => {}
        Ok(_) => return Err(bad("not a stream socket (systemd: ListenStream=)")),
        Err(_) => return Err(bad("not a socket")),
    }
    let addr: SockaddrStorage =
        getsockname(fd).map_err(|e| bad(&format!("reading its address: {e}")))?;
    let Some(unix) = addr.as_unix_addr() else {
        return Err(bad("not a UNIX socket"));
    };
    let Some(path) = unix.path() else {
        return Err(bad(
            "a UNIX socket without a path (abstract or unbound); bind it to a path",
        ));
    };
    let path = path.to_path_buf();
    if !getsockopt(&borrowed, sockopt::AcceptConn).unwrap_or(false) {
        return Err(bad(
            "not a listening socket (systemd: ListenStream= with Accept=no)",
        ));
    }
    // Service managers pass descriptors without close-on-exec.
    let cloexec = FdFlag::from_bits_truncate(flags) | FdFlag::FD_CLOEXEC;
    fcntl(borrowed, FcntlArg::F_SETFD(cloexec)).map_err(|e| bad(&format!("F_SETFD: {e}")))?;
    // SAFETY: `fd` is an open socket checked above and, as documented, the
    // caller hands it over: no other owner closes it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Inherited { path, fd: owned })
}

/// Binds a listening socket at `path`: its missing parent directories are
/// created (mode 0755), a stale socket left by a dead daemon is replaced,
/// and the socket is owner-only (0600), or 0660 and owned by `group`.
pub fn bind(path: &Path, group: Option<Gid>) -> Result<UnixListener, ListenError> {
    if path.as_os_str().len() > SUN_PATH_MAX {
        return Err(ListenError::TooLong(path.to_path_buf()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|source| ListenError::Dir {
                    dir: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    remove_stale(path)?;
    // Created owner-only, so no one else can connect before the group and
    // mode below are set. The umask is process-wide: nothing else creates
    // files while the daemon binds its sockets.
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(|source| ListenError::Bind {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(gid) = group {
        let shared = nix::unistd::chown(path, None, Some(gid))
            .map_err(io::Error::from)
            .and_then(|()| std::fs::set_permissions(path, PermissionsExt::from_mode(0o660)));
        if let Err(source) = shared {
            let _ = std::fs::remove_file(path);
            return Err(ListenError::Group {
                path: path.to_path_buf(),
                gid: gid.as_raw(),
                source,
            });
        }
    }
    Ok(listener)
}

/// Removes a socket nobody listens on any more; refuses to replace a file
/// that is not a socket, or a socket another process still serves.
fn remove_stale(path: &Path) -> Result<(), ListenError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ListenError::Bind {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket(path.to_path_buf()));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ListenError::InUse(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(|source| ListenError::Bind {
        path: path.to_path_buf(),
        source,
    })
}

/// How the daemon gets its listening sockets: inherited ones by path,
/// the rest bound by the daemon.
#[derive(Debug, Default)]
pub struct Listeners {
    group: Option<Gid>,
    inherited: Mutex<HashMap<PathBuf, OwnedFd>>,
    inherited_paths: Vec<PathBuf>,
    /// Sockets bound so far: the ones to remove on exit.
    bound: Mutex<Vec<PathBuf>>,
}

impl Listeners {
    /// Sockets the daemon binds get `group` (see [`bind`]); the inherited
    /// ones are served at their own paths and left as they are.
    pub fn new(group: Option<Gid>, inherited: Vec<Inherited>) -> Self {
        let inherited_paths = inherited.iter().map(|i| i.path.clone()).collect();
        Listeners {
            group,
            inherited: Mutex::new(inherited.into_iter().map(|i| (i.path, i.fd)).collect()),
            inherited_paths,
            bound: Mutex::default(),
        }
    }

    /// The listener for `path`: the inherited socket bound there, or a new
    /// one.
    pub fn open(&self, path: &Path) -> Result<Listener, ListenError> {
        let fd = self
            .inherited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path);
        let listener = match fd {
            Some(fd) => {
                let l = UnixListener::from(fd);
                // Accepting blocks in the daemon's socket threads.
                l.set_nonblocking(false)
                    .map_err(|source| ListenError::Bind {
                        path: path.to_path_buf(),
                        source,
                    })?;
                l
            }
            None => {
                let l = bind(path, self.group)?;
                self.bound
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(path.to_path_buf());
                l
            }
        };
        Ok(Listener::from(listener))
    }

    /// The sockets bound so far (not inherited ones, nor ones that failed
    /// because another process serves them): the daemon removes these on
    /// exit.
    pub fn bound(&self) -> Vec<PathBuf> {
        self.bound.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the socket at `path` belongs to the service manager (the
    /// daemon must not remove it on exit).
    pub fn is_inherited(&self, path: &Path) -> bool {
        self.inherited_paths.iter().any(|p| p == path)
    }
}

impl AsFd for Inherited {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn bind_creates_the_directory_and_is_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/vm.sock");
        let _l = bind(&p, None).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(t.path().join("a/b")).unwrap().mode() & 0o022,
            0
        );
    }

    #[test]
    fn bind_refuses_files_and_live_sockets_and_replaces_stale_ones() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("file");
        std::fs::write(&f, b"keep me").unwrap();
        assert!(matches!(bind(&f, None), Err(ListenError::NotASocket(_))));
        assert_eq!(std::fs::read(&f).unwrap(), b"keep me");
        let s = t.path().join("s.sock");
        let live = bind(&s, None).unwrap();
        assert!(matches!(bind(&s, None), Err(ListenError::InUse(_))));
        drop(live);
        // The file stays behind a dead listener: stale, replaced.
        assert!(s.exists());
        bind(&s, None).unwrap();
    }

    #[test]
    fn bind_gives_the_socket_to_a_group() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("g.sock");
        let gid = nix::unistd::getegid();
        let _l = bind(&p, Some(gid)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o777, 0o660);
        assert_eq!(m.gid(), gid.as_raw());
    }

    #[test]
    fn long_paths_and_unknown_groups_are_refused() {
        let p = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        assert!(matches!(bind(&p, None), Err(ListenError::TooLong(_))));
        assert!(lookup_group("no-such-group-vhost-famfs").is_err());
        assert_eq!(lookup_group("4242").unwrap().as_raw(), 4242);
    }

    #[test]
    fn inherit_checks_what_it_is_given() {
        let t = tempfile::tempdir().unwrap();
        // A file is not a socket.
        let f = std::fs::File::create(t.path().join("f")).unwrap();
        let e = inherit(f.into_raw_fd()).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        assert!(inherit(-1).is_err());
        // A connected (not listening) socket.
        let (a, _b) = UnixStream::pair().unwrap();
        let e = inherit(a.into_raw_fd()).unwrap_err().to_string();
        assert!(
            e.contains("without a path") || e.contains("not a listening"),
            "{e}"
        );
        // A listening socket bound to a path.
        let p = t.path().join("l.sock");
        let l = UnixListener::bind(&p).unwrap();
        let i = inherit(l.into_raw_fd()).unwrap();
        assert_eq!(i.path, p);
        let flags = fcntl(i.as_fd(), FcntlArg::F_GETFD).unwrap();
        assert!(FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
        let ls = Listeners::new(None, vec![i]);
        assert!(ls.is_inherited(&p));
        let _listener = ls.open(&p).unwrap();
        assert!(UnixStream::connect(&p).is_ok());
    }
}
