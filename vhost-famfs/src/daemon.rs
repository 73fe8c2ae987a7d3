// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `vhost-famfs serve`: one daemon, one device, one or more vhost-user
//! sockets (one per VM), each with its own role. Every socket accepts a
//! new connection after the previous one ends, so a VMM can reconnect.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vhost::vhost_user::Listener;
use vhost_user_backend::VhostUserDaemon;
use vm_memory::{GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;

use crate::fuse::CachePolicy;
use crate::guest_policy::{parse_owner, GuestPolicy};
use crate::meta::{Famfs, Role};
use crate::server::Access;
use crate::vhu_famfs::VhostUserFamfs;
use crate::vhu_virtiofs::{DeviceDax, FsSettings, VhostUserFs};

/// One socket to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketSpec {
    pub path: PathBuf,
    /// None: master on the master host, client elsewhere.
    pub access: Option<Access>,
    pub tag: String,
    /// What the guest may put in the metadata it creates.
    pub policy: GuestPolicy,
    /// The device the socket is: virtio-famfs or virtio-fs.
    pub proto: Proto,
    /// virtio-fs only: how long guests may cache what they saw.
    pub cache: Option<CachePolicy>,
    /// virtio-fs only: the DAX window's size (shared memory region 0).
    pub dax_window: Option<u64>,
}

/// The device a socket presents to its VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Proto {
    /// virtio-famfs: our guest module, DAX window, one request per file.
    #[default]
    Famfs,
    /// virtio-fs (device 26): FUSE, the stock `virtiofs` guest driver.
    VirtioFs,
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "virtio-famfs" | "famfs" => Ok(Proto::Famfs),
            "virtio-fs" | "virtiofs" => Ok(Proto::VirtioFs),
            _ => Err(format!("proto={s}: expected virtio-famfs or virtio-fs")),
        }
    }
}

impl std::str::FromStr for SocketSpec {
    type Err = String;

    /// `PATH[,role=master|client|ro][,tag=TAG][,suid=on|off]`
    /// `[,uid-map=GUEST:HOST:COUNT]...[,gid-map=GUEST:HOST:COUNT]...`
    /// `[,squash=UID:GID][,proto=virtio-famfs|virtio-fs]`
    /// `[,cache=never|auto|always][,dax-window=SIZE]` (virtio-fs only)
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let path = parts
            .next()
            .filter(|p| !p.is_empty())
            .ok_or("empty socket path")?;
        let mut spec = SocketSpec {
            path: PathBuf::from(path),
            access: None,
            tag: DEFAULT_TAG.to_string(),
            policy: GuestPolicy::default(),
            proto: Proto::Famfs,
            cache: None,
            dax_window: None,
        };
        for p in parts {
            match p.split_once('=') {
                Some(("role", r)) => spec.access = Some(r.parse()?),
                Some(("tag", t)) => {
                    // The config space holds 36 bytes, NUL-padded.
                    if t.is_empty() || t.len() >= crate::protocol::TAG_LEN || t.contains('\0') {
                        return Err(format!("tag {t:?}: 1 to 35 bytes"));
                    }
                    spec.tag = t.to_string()
                }
                Some(("suid", v)) => {
                    spec.policy.suid = match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("suid={v}: expected on or off")),
                    }
                }
                Some(("uid-map", m)) => spec.policy.uids.push(m.parse()?, "uid-map")?,
                Some(("gid-map", m)) => spec.policy.gids.push(m.parse()?, "gid-map")?,
                Some(("squash", o)) => spec.policy.squash = Some(parse_owner(o)?),
                Some(("proto", v)) => spec.proto = v.parse()?,
                Some(("cache", v)) => spec.cache = Some(v.parse()?),
                Some(("dax-window", v)) => {
                    spec.dax_window = Some(crate::dax_window::parse_window_size(v)?)
                }
                _ => {
                    return Err(format!(
                        "{p:?}: expected role=, tag=, suid=, uid-map=, gid-map=, squash=, proto=, cache= or dax-window="
                    ))
                }
            }
        }
        if spec.cache.is_some() && spec.proto != Proto::VirtioFs {
            return Err("cache= applies to proto=virtio-fs sockets only".into());
        }
        if spec.dax_window.is_some() && spec.proto != Proto::VirtioFs {
            return Err("dax-window= applies to proto=virtio-fs sockets only".into());
        }
        Ok(spec)
    }
}

/// The mount tag when none is given.
pub const DEFAULT_TAG: &str = "famfs";

/// Errors starting or running the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: role master requested, but this host is a client of the file system (master system uuid {master})")]
    NotMaster { path: PathBuf, master: String },
    #[error("{0}: socket listed twice")]
    DuplicateSocket(PathBuf),
    #[error("{path}: {source}")]
    Listen {
        path: PathBuf,
        #[source]
        source: vhost::vhost_user::Error,
    },
    #[error("{0}")]
    Backend(String),
}

/// A socket's serving loop, shared with the watcher.
struct Endpoint {
    spec: SocketSpec,
    access: Access,
    /// The live connection, if a VMM is connected.
    live: Mutex<Option<Live>>,
    /// Closes the live connection's socket.
    hangup: Mutex<Option<vhost_user_backend::ShutdownHandle>>,
}

/// A socket's live connection, of either kind.
#[derive(Clone)]
enum Live {
    Famfs(VhostUserFamfs),
    Fs(VhostUserFs),
    FsDax(VhostUserFs<DeviceDax>),
}

impl Live {
    /// The log grew. virtio-fs has no notification queue (the Linux
    /// driver implements none): its guests see changes when their cache
    /// timeout ends.
    fn namespace_changed(&self) {
        if let Live::Famfs(c) = self {
            c.namespace_changed();
        }
    }

    fn request_exit(&self) {
        match self {
            Live::Famfs(c) => c.request_exit(),
            Live::Fs(c) => c.request_exit(),
            Live::FsDax(c) => c.request_exit(),
        }
    }
}

/// A running daemon.
pub struct Daemon {
    fs: Arc<Famfs>,
    endpoints: Vec<Arc<Endpoint>>,
    request_queues: usize,
    stop: Arc<AtomicBool>,
}

impl Daemon {
    /// Checks the sockets' roles against the host's and binds nothing yet.
    pub fn new(
        fs: Arc<Famfs>,
        sockets: &[SocketSpec],
        request_queues: usize,
    ) -> Result<Self, DaemonError> {
        let mut endpoints: Vec<Arc<Endpoint>> = Vec::new();
        for s in sockets {
            if endpoints.iter().any(|e| e.spec.path == s.path) {
                return Err(DaemonError::DuplicateSocket(s.path.clone()));
            }
            let access = match (s.access, fs.role()) {
                (Some(Access::Master), Role::Client) => {
                    return Err(DaemonError::NotMaster {
                        path: s.path.clone(),
                        master: fs.superblock().system_uuid.to_string(),
                    })
                }
                (Some(a), _) => a,
                (None, Role::Master) => Access::Master,
                (None, Role::Client) => Access::Client,
            };
            endpoints.push(Arc::new(Endpoint {
                spec: s.clone(),
                access,
                live: Mutex::new(None),
                hangup: Mutex::new(None),
            }));
        }
        Ok(Daemon {
            fs,
            endpoints,
            request_queues: request_queues.max(1),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Binds every socket and serves until `shutdown`. Each socket has its
    /// own thread; a watcher announces log changes to every connection.
    pub fn run(&self) -> Result<(), DaemonError> {
        let mut listeners = Vec::new();
        for e in &self.endpoints {
            let l = Listener::new(&e.spec.path, true).map_err(|source| DaemonError::Listen {
                path: e.spec.path.clone(),
                source,
            })?;
            log::info!(
                "listening on {} ({:?}, role {:?}, tag {:?})",
                e.spec.path.display(),
                e.spec.proto,
                e.access,
                e.spec.tag
            );
            listeners.push(l);
        }
        std::thread::scope(|s| {
            s.spawn(|| self.watch());
            let handles: Vec<_> = self
                .endpoints
                .iter()
                .zip(listeners)
                .map(|(e, l)| s.spawn(move || self.serve_socket(e, l)))
                .collect();
            let mut result = Ok(());
            for h in handles {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(DaemonError::Backend("socket thread panicked".into())));
                if result.is_ok() {
                    result = r;
                }
            }
            self.stop.store(true, Ordering::Release);
            result
        })
    }

    /// Stops serving: live connections are closed and `run` returns.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        for e in &self.endpoints {
            // Wake a thread blocked in accept by connecting once.
            let _ = std::os::unix::net::UnixStream::connect(&e.spec.path);
            if let Some(c) = e.live.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                c.request_exit();
            }
            if let Some(h) = e.hangup.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                h.shutdown();
            }
        }
    }

    /// The socket paths, to remove them on exit.
    pub fn socket_paths(&self) -> Vec<PathBuf> {
        self.endpoints.iter().map(|e| e.spec.path.clone()).collect()
    }

    fn serve_socket(&self, e: &Endpoint, mut listener: Listener) -> Result<(), DaemonError> {
        let be = |err: &dyn std::fmt::Display| DaemonError::Backend(err.to_string());
        while !self.stop.load(Ordering::Acquire) {
            let name = format!("vhost-famfs:{}", e.spec.tag);
            let mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
            let ended = match e.spec.proto {
                Proto::Famfs => {
                    let backend = VhostUserFamfs::new(
                        self.fs.clone(),
                        e.access,
                        &e.spec.tag,
                        self.request_queues,
                        e.spec.policy.clone(),
                    )
                    .map_err(|err| be(&err))?;
                    let mut daemon =
                        VhostUserDaemon::new(name, backend.clone(), mem).map_err(|err| be(&err))?;
                    // The watcher's eventfd belongs with the notification queue.
                    if let Some(h) = daemon
                        .get_epoll_handlers()
                        .get(crate::vhu_famfs::NOTIFY_THREAD)
                    {
                        h.register_listener(
                            std::os::fd::AsRawFd::as_raw_fd(backend.notify_eventfd()),
                            EventSet::IN,
                            u64::from(backend.notify_event_id()),
                        )
                        .map_err(|err| be(&err))?;
                    }
                    self.serve_connection(e, &mut listener, &mut daemon, Live::Famfs(backend))
                }
                Proto::VirtioFs => {
                    let settings = FsSettings {
                        access: e.access,
                        tag: e.spec.tag.clone(),
                        request_queues: self.request_queues,
                        policy: e.spec.policy.clone(),
                        cache: e.spec.cache.unwrap_or_default(),
                    };
                    if let Some(window) = e.spec.dax_window {
                        let backend = VhostUserFs::with_dax(self.fs.clone(), &settings, window)
                            .map_err(|err| be(&err))?;
                        let mut daemon = VhostUserDaemon::new(name, backend.clone(), mem)
                            .map_err(|err| be(&err))?;
                        self.serve_connection(e, &mut listener, &mut daemon, Live::FsDax(backend))
                    } else {
                        let backend =
                            VhostUserFs::new(self.fs.clone(), &settings).map_err(|err| be(&err))?;
                        let mut daemon = VhostUserDaemon::new(name, backend.clone(), mem)
                            .map_err(|err| be(&err))?;
                        self.serve_connection(e, &mut listener, &mut daemon, Live::Fs(backend))
                    }
                }
            };
            if !ended {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// Accepts one VMM on `listener` and serves it until it disconnects.
    /// Returns false when accepting failed.
    fn serve_connection<B>(
        &self,
        e: &Endpoint,
        listener: &mut Listener,
        daemon: &mut VhostUserDaemon<B>,
        live: Live,
    ) -> bool
    where
        B: vhost_user_backend::VhostUserBackend<
                Bitmap = (),
                Vring = vhost_user_backend::VringRwLock,
            > + Clone
            + 'static,
    {
        if let Err(err) = daemon.start(listener) {
            if !self.stop.load(Ordering::Acquire) {
                log::error!("{}: accepting a connection: {err}", e.spec.path.display());
                return false;
            }
            return true;
        }
        log::info!(
            "{}: VMM connected ({:?})",
            e.spec.path.display(),
            e.spec.proto
        );
        *e.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(live.clone());
        *e.hangup.lock().unwrap_or_else(|p| p.into_inner()) = daemon.shutdown_handle();
        if self.stop.load(Ordering::Acquire) {
            daemon.request_shutdown();
        }
        match daemon.wait() {
            Ok(())
            | Err(vhost_user_backend::Error::HandleRequest(
                vhost::vhost_user::Error::Disconnected,
            )) => log::info!("{}: VMM disconnected", e.spec.path.display()),
            Err(err) => log::warn!("{}: connection ended: {err}", e.spec.path.display()),
        }
        *e.live.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *e.hangup.lock().unwrap_or_else(|p| p.into_inner()) = None;
        live.request_exit();
        true
    }

    /// Polls the log head and tells every connection when it grew.
    fn watch(&self) {
        let mut seen = self.fs.applied();
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(WATCH_INTERVAL);
            if let Err(e) = self.fs.refresh() {
                // A stale file system was reported once, when found.
                if self.fs.stale().is_none() {
                    log::warn!("reading the log: {e}");
                }
                continue;
            }
            let now = self.fs.applied();
            if now != seen {
                log::debug!("log grew from {seen} to {now} entries");
                seen = now;
                for e in &self.endpoints {
                    if let Some(c) = e.live.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                        c.namespace_changed();
                    }
                }
            }
        }
    }
}

/// How often the watcher reads the log head.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// Removes the sockets (on shutdown).
pub fn remove_sockets(paths: &[PathBuf]) {
    for p in paths {
        remove_socket(p);
    }
}

fn remove_socket(p: &Path) {
    if let Err(e) = std::fs::remove_file(p) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("removing {}: {e}", p.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_specs_parse() {
        let s: SocketSpec = "/run/a.sock,role=ro,tag=data".parse().unwrap();
        assert_eq!(s.path, PathBuf::from("/run/a.sock"));
        assert_eq!(s.access, Some(Access::ReadOnly));
        assert_eq!(s.tag, "data");
        let d: SocketSpec = "/x".parse().unwrap();
        assert_eq!((d.access, d.tag.as_str()), (None, DEFAULT_TAG));
        assert!("".parse::<SocketSpec>().is_err());
        assert!("/x,role=boss".parse::<SocketSpec>().is_err());
        assert!("/x,color=red".parse::<SocketSpec>().is_err());
        assert!("/x,tag=".parse::<SocketSpec>().is_err());
        assert!(format!("/x,tag={}", "t".repeat(36))
            .parse::<SocketSpec>()
            .is_err());
        assert!(format!("/x,tag={}", "t".repeat(35))
            .parse::<SocketSpec>()
            .is_ok());
    }

    #[test]
    fn socket_guest_policies_parse() {
        let s: SocketSpec =
            "/a,suid=on,uid-map=0:100000:65536,uid-map=70000:70000:1,gid-map=0:5:1,squash=7:8"
                .parse()
                .unwrap();
        let p = &s.policy;
        assert!(p.suid);
        assert_eq!(p.uids.to_host(70_000), 70_000);
        assert_eq!(p.uids.to_host(1), 100_001);
        assert_eq!(p.gids.to_host(0), 5);
        assert_eq!(p.squash, Some((7, 8)));
        let d: SocketSpec = "/a".parse().unwrap();
        assert_eq!(d.policy, GuestPolicy::default());
        assert!(!d.policy.suid);
        for bad in [
            "/a,suid=yes",
            "/a,uid-map=0:1",
            "/a,uid-map=0:1:0",
            "/a,uid-map=0:100:10,uid-map=5:500:1",
            "/a,gid-map=x:1:1",
            "/a,squash=1",
            "/a,squash=a:b",
        ] {
            assert!(bad.parse::<SocketSpec>().is_err(), "{bad}");
        }
    }
}
