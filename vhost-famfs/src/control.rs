// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The control socket (`serve --control-socket PATH`): each connection
//! gets the daemon's status report (`status::render`) and is closed; the
//! daemon reads nothing from it. `vhost-famfs status` is its client.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Errors of the control socket.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("control socket {0}: exists and is not a socket")]
    NotSocket(PathBuf),
}

/// How long a status reader may take to accept the report.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// A bound control socket, not yet answering.
pub struct ControlSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ControlSocket {
    /// Binds `path`, replacing a stale socket left by a daemon that died
    /// (never another kind of file).
    pub fn bind(path: &Path) -> Result<Self, ControlError> {
        let io = |source| ControlError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                std::fs::remove_file(path).map_err(io)?
            }
            Ok(_) => return Err(ControlError::NotSocket(path.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        Ok(ControlSocket {
            path: path.to_path_buf(),
            listener,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers every connection with `report()` on a thread of its own
    /// until `Control::stop`.
    pub fn serve(self, report: impl Fn() -> String + Send + 'static) -> Control {
        let stop = Arc::new(AtomicBool::new(false));
        // shutdown(2) on this twin wakes the accept in `stop`.
        let waker = self.listener.try_clone();
        let thread = {
            let stop = stop.clone();
            let listener = self.listener;
            std::thread::Builder::new()
                .name("control".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        match conn {
                            Ok(c) => answer(c, &report()),
                            Err(e) => {
                                log::warn!("control socket: accept: {e}");
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })
        };
        let thread = thread
            .and_then(|t| Ok((t, waker?)))
            .map_err(|e| log::error!("control socket: not served: {e}"))
            .ok();
        Control {
            path: self.path,
            stop,
            thread,
        }
    }
}

fn answer(mut c: UnixStream, report: &str) {
    // A reader that never reads must not hold up the next one.
    let _ = c.set_write_timeout(Some(WRITE_TIMEOUT));
    if let Err(e) = c.write_all(report.as_bytes()) {
        log::debug!("control socket: writing the report: {e}");
    }
}

/// The control socket's serving thread.
pub struct Control {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<(JoinHandle<()>, UnixListener)>,
}

impl Control {
    /// Ends the thread and removes the socket.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some((t, waker)) = self.thread.take() {
            // Wakes the thread blocked in accept, even where the path is
            // out of reach (privileges dropped).
            let _ = nix::sys::socket::shutdown(waker.as_raw_fd(), nix::sys::socket::Shutdown::Both);
            let _ = t.join();
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("removing {}: {e}", self.path.display());
        }
    }
}

/// Reads the report of the daemon listening on `path`.
pub fn query(path: &Path) -> Result<String, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut c = UnixStream::connect(path).map_err(io)?;
    let mut report = String::new();
    c.read_to_string(&mut report).map_err(io)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_connection_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl");
        // A stale socket is replaced; a regular file is not.
        drop(UnixListener::bind(&path).unwrap());
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ctl = {
            let n = n.clone();
            ControlSocket::bind(&path)
                .unwrap()
                .serve(move || format!("report {}\n", n.fetch_add(1, Ordering::Relaxed)))
        };
        assert_eq!(query(&path).unwrap(), "report 0\n");
        assert_eq!(query(&path).unwrap(), "report 1\n");
        ctl.stop();
        assert!(!path.exists());
        assert!(matches!(query(&path), Err(ControlError::Io { .. })));
        std::fs::write(&path, b"keep").unwrap();
        assert!(matches!(
            ControlSocket::bind(&path),
            Err(ControlError::NotSocket(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    }
}
