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
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::features::Offer;
use crate::fuse::CachePolicy;
use crate::guest_policy::{parse_owner, GuestPolicy};
use crate::listen::Listeners;
use crate::meta::{Famfs, Role};
use crate::server::Access;
use crate::status::{render, SocketInfo, SocketStats, FUSE_OPS, OPS};
use crate::vhu_famfs::{FamfsSettings, VhostUserFamfs, WindowMode};
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
    /// virtio-famfs only: offer the shared memory window, or serve
    /// metadata only for a guest that maps the device some other way.
    pub window: WindowMode,
    /// virtio-famfs only: the optional features offered to the driver.
    pub offer: Offer,
    /// virtio-famfs only: map only the files the guest fetched a map for
    /// (`isolate=on`), instead of the whole data area.
    pub isolate: bool,
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
    /// `[,subtree=/PATH]`
    /// `[,window=shm|none]` (virtio-famfs only)
    /// `[,readdirplus=on|off][,entry-fmap=on|off]` (virtio-famfs only)
    /// `[,isolate=on|off]` (virtio-famfs only)
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let path = parts
            .next()
            .filter(|p| !p.is_empty())
            .ok_or("empty socket path")?;
        let mut spec = SocketSpec::at(PathBuf::from(path));
        SocketSpec::apply_options(&mut spec, parts)?;
        Ok(spec)
    }
}

impl SocketSpec {
    /// A socket at `path` with the default role, tag and policy.
    pub fn at(path: PathBuf) -> Self {
        SocketSpec {
            path,
            access: None,
            tag: DEFAULT_TAG.to_string(),
            policy: GuestPolicy::default(),
            proto: Proto::Famfs,
            cache: None,
            dax_window: None,
            window: WindowMode::default(),
            offer: Offer::default(),
            isolate: false,
        }
    }

    /// A socket at `path` (taken whole: it may contain commas) with the
    /// options that follow a path in the `--socket` form, e.g.
    /// `role=ro,tag=data` (`--socket-path` and `--fd` with
    /// `--socket-options`).
    pub fn with_options(path: PathBuf, options: &str) -> Result<Self, String> {
        let mut spec = SocketSpec::at(path);
        let opts = options.split(',').filter(|o| !o.is_empty());
        SocketSpec::apply_options(&mut spec, opts)?;
        Ok(spec)
    }

    fn apply_options<'a>(
        spec: &mut SocketSpec,
        options: impl Iterator<Item = &'a str>,
    ) -> Result<(), String> {
        // The first option given that only virtio-famfs sockets take.
        let mut famfs_only = None;
        for p in options {
            match p.split_once('=') {
                Some(("role", r)) => spec.access = Some(r.parse()?),
                Some(("tag", t)) => {
                    // The config space holds 36 bytes, NUL-padded.
                    if t.is_empty() || t.len() >= crate::protocol::TAG_LEN || t.contains('\0') {
                        return Err(format!("tag {t:?}: 1 to 35 bytes"));
                    }
                    spec.tag = t.to_string()
                }
                Some(("suid", v)) => spec.policy.suid = on_off("suid", v)?,
                Some(("readdirplus", v)) => {
                    spec.offer.readdirplus = on_off("readdirplus", v)?;
                    famfs_only.get_or_insert("readdirplus=");
                }
                Some(("entry-fmap", v)) => {
                    spec.offer.entry_fmap = on_off("entry-fmap", v)?;
                    famfs_only.get_or_insert("entry-fmap=");
                }
                Some(("uid-map", m)) => spec.policy.uids.push(m.parse()?, "uid-map")?,
                Some(("gid-map", m)) => spec.policy.gids.push(m.parse()?, "gid-map")?,
                Some(("squash", o)) => spec.policy.squash = Some(parse_owner(o)?),
                Some(("subtree", p)) => {
                    if p.is_empty() {
                        return Err("subtree=: expected a directory, e.g. subtree=/tenant-a".into());
                    }
                    spec.policy.subtree = Some(p.as_bytes().to_vec())
                }
                Some(("proto", v)) => spec.proto = v.parse()?,
                Some(("cache", v)) => spec.cache = Some(v.parse()?),
                Some(("dax-window", v)) => {
                    spec.dax_window = Some(crate::dax_window::parse_window_size(v)?)
                }
                Some(("window", v)) => {
                    spec.window = v.parse()?;
                    famfs_only.get_or_insert("window=");
                }
                Some(("isolate", v)) => {
                    spec.isolate = on_off("isolate", v)?;
                    famfs_only.get_or_insert("isolate=");
                }
                _ => {
                    return Err(format!(
                        "{p:?}: expected role=, tag=, suid=, uid-map=, gid-map=, squash=, subtree=, proto=, cache=, dax-window=, window=, isolate=, readdirplus= or entry-fmap="
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
        if let (Some(o), Proto::VirtioFs) = (famfs_only, spec.proto) {
            return Err(format!("{o} applies to proto=virtio-famfs sockets only"));
        }
        // A guest with no window from the daemon maps the device itself:
        // there is nothing to isolate.
        if spec.isolate && spec.window == WindowMode::None {
            return Err("isolate=on needs the daemon's window (not window=none)".into());
        }
        Ok(())
    }
}

/// An `on`/`off` option value.
fn on_off(option: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{option}={v}: expected on or off")),
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
    #[error("{path}: {err}")]
    Export {
        path: PathBuf,
        err: crate::export::ExportError,
    },
    #[error(transparent)]
    Listen(#[from] crate::listen::ListenError),
    #[error("{0}")]
    Backend(String),
    #[error("confining the daemon: {0}")]
    Sandbox(String),
    #[error("waiting for a VMM to connect: {0}")]
    Wait(std::io::Error),
}

/// A socket's serving loop, shared with the watcher.
struct Endpoint {
    spec: SocketSpec,
    access: Access,
    /// The live connection, if a VMM is connected.
    live: Mutex<Option<Live>>,
    /// Closes the live connection's socket.
    hangup: Mutex<Option<vhost_user_backend::ShutdownHandle>>,
    /// What its connections did (`status`).
    stats: Arc<SocketStats>,
}

/// How one connection attempt of a socket ended.
enum Ended {
    /// The daemon is stopping.
    Stopped,
    /// Accepting failed; try again shortly.
    AcceptFailed,
    /// The VMM came and went; wait for the next.
    Disconnected,
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
    /// Where the listening sockets come from (bound or inherited).
    listeners: Listeners,
    /// Written by `shutdown` to wake the threads waiting for a VMM. Not
    /// shutdown(2) on the listeners: an inherited one belongs to the
    /// service manager, which serves the next VMM with it.
    wake: EventFd,
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
            if let Some(sub) = &s.policy.subtree {
                // Checked now so that a typo fails at start, not at mount.
                crate::export::Export::resolve(&fs, sub).map_err(|err| DaemonError::Export {
                    path: s.path.clone(),
                    err,
                })?;
                log::info!(
                    "{}: exports {} only",
                    s.path.display(),
                    crate::meta::path::escape(sub)
                );
            }
            endpoints.push(Arc::new(Endpoint {
                spec: s.clone(),
                access,
                live: Mutex::new(None),
                hangup: Mutex::new(None),
                stats: Arc::new(SocketStats::new(match s.proto {
                    Proto::Famfs => OPS,
                    Proto::VirtioFs => FUSE_OPS,
                })),
            }));
        }
        Ok(Daemon {
            fs,
            endpoints,
            request_queues: request_queues.max(1),
            stop: Arc::new(AtomicBool::new(false)),
            listeners: Listeners::default(),
            wake: EventFd::new(EFD_NONBLOCK).map_err(DaemonError::Wait)?,
        })
    }

    /// Serves inherited sockets and gives bound ones a group (see
    /// [`Listeners`]); by default every socket is bound, owner-only.
    pub fn with_listeners(mut self, listeners: Listeners) -> Self {
        self.listeners = listeners;
        self
    }

    /// Binds every socket and serves until `shutdown`. Each socket has its
    /// own thread; a watcher announces log changes to every connection.
    pub fn run(&self) -> Result<(), DaemonError> {
        self.run_with(|| Ok(()))
    }

    /// As `run`, calling `sandbox` once the sockets are bound and before
    /// any serving thread starts (to drop privileges, install seccomp).
    pub fn run_with(
        &self,
        sandbox: impl FnOnce() -> Result<(), DaemonError>,
    ) -> Result<(), DaemonError> {
        let mut listeners = Vec::new();
        for e in &self.endpoints {
            let l = self.listeners.open(&e.spec.path)?;
            log::info!(
                "listening on {}{} ({:?}, role {:?}, tag {:?})",
                e.spec.path.display(),
                if self.listeners.is_inherited(&e.spec.path) {
                    " (inherited)"
                } else {
                    ""
                },
                e.spec.proto,
                e.access,
                e.spec.tag
            );
            listeners.push(l);
        }
        sandbox()?;
        let result = std::thread::scope(|s| {
            s.spawn(|| self.watch());
            let handles: Vec<_> = self
                .endpoints
                .iter()
                .zip(listeners.iter_mut())
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
        });
        result
    }

    /// Stops serving: live connections are closed and `run` returns.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        // Wake the threads waiting for a VMM (wait_for_vmm).
        let _ = self.wake.write(1);
        for e in &self.endpoints {
            if let Some(c) = e.live.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                c.request_exit();
            }
            if let Some(h) = e.hangup.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                h.shutdown();
            }
        }
    }

    /// Every socket's status report (`status::render`).
    pub fn status(&self) -> String {
        let sockets: Vec<_> = self
            .endpoints
            .iter()
            .map(|e| {
                let info = SocketInfo {
                    path: e.spec.path.clone(),
                    tag: e.spec.tag.clone(),
                    role: match e.access {
                        Access::Master => "master",
                        Access::Client => "client",
                        Access::ReadOnly => "ro",
                    }
                    .to_string(),
                };
                (info, e.stats.snapshot())
            })
            .collect();
        render(&sockets)
    }

    /// The sockets the daemon bound, to remove them on exit (inherited
    /// ones belong to the service manager that passed them; one that
    /// another process serves is not ours).
    pub fn socket_paths(&self) -> Vec<PathBuf> {
        self.listeners.bound()
    }

    /// Waits until a VMM connects to `listener` (true) or the daemon
    /// stops (false), so that the accept that follows never blocks.
    fn wait_for_vmm(&self, listener: &Listener) -> Result<bool, DaemonError> {
        use std::os::fd::AsRawFd;
        const CONNECT: u64 = 0;
        const STOP: u64 = 1;
        let epoll = Epoll::new().map_err(DaemonError::Wait)?;
        for (fd, token) in [
            (listener.as_raw_fd(), CONNECT),
            (self.wake.as_raw_fd(), STOP),
        ] {
            epoll
                .ctl(
                    ControlOperation::Add,
                    fd,
                    EpollEvent::new(EventSet::IN, token),
                )
                .map_err(DaemonError::Wait)?;
        }
        let mut events = [EpollEvent::default(); 2];
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Ok(false);
            }
            match epoll.wait(-1, &mut events) {
                Ok(n) if events[..n].iter().any(|e| e.data() == CONNECT) => {
                    return Ok(!self.stop.load(Ordering::Acquire))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DaemonError::Wait(e)),
            }
        }
    }

    fn serve_socket(&self, e: &Endpoint, listener: &mut Listener) -> Result<(), DaemonError> {
        let be = |err: &dyn std::fmt::Display| DaemonError::Backend(err.to_string());
        while !self.stop.load(Ordering::Acquire) {
            let name = format!("vhost-famfs:{}", e.spec.tag);
            let mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
            let ended = match e.spec.proto {
                Proto::Famfs => {
                    let settings = FamfsSettings {
                        window: e.spec.window,
                        offer: e.spec.offer,
                        isolate: e.spec.isolate,
                        ..FamfsSettings::new(
                            e.access,
                            &e.spec.tag,
                            self.request_queues,
                            e.spec.policy.clone(),
                        )
                    };
                    let backend =
                        VhostUserFamfs::with_stats(self.fs.clone(), &settings, e.stats.clone())
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
                    self.serve_connection(e, listener, &mut daemon, Live::Famfs(backend))?
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
                        let backend = VhostUserFs::with_dax(
                            self.fs.clone(),
                            &settings,
                            window,
                            e.stats.clone(),
                        )
                        .map_err(|err| be(&err))?;
                        let mut daemon = VhostUserDaemon::new(name, backend.clone(), mem)
                            .map_err(|err| be(&err))?;
                        self.serve_connection(e, listener, &mut daemon, Live::FsDax(backend))?
                    } else {
                        let backend =
                            VhostUserFs::with_stats(self.fs.clone(), &settings, e.stats.clone())
                                .map_err(|err| be(&err))?;
                        let mut daemon = VhostUserDaemon::new(name, backend.clone(), mem)
                            .map_err(|err| be(&err))?;
                        self.serve_connection(e, listener, &mut daemon, Live::Fs(backend))?
                    }
                }
            };
            match ended {
                Ended::Stopped => break,
                Ended::AcceptFailed => std::thread::sleep(Duration::from_millis(200)),
                Ended::Disconnected => {}
            }
        }
        Ok(())
    }

    /// Waits for a VMM on `listener`, accepts it and serves it until it
    /// disconnects.
    fn serve_connection<B>(
        &self,
        e: &Endpoint,
        listener: &mut Listener,
        daemon: &mut VhostUserDaemon<B>,
        live: Live,
    ) -> Result<Ended, DaemonError>
    where
        B: vhost_user_backend::VhostUserBackend<
                Bitmap = (),
                Vring = vhost_user_backend::VringRwLock,
            > + Clone
            + 'static,
    {
        if !self.wait_for_vmm(listener)? {
            return Ok(Ended::Stopped);
        }
        if let Err(err) = daemon.start(listener) {
            if self.stop.load(Ordering::Acquire) {
                return Ok(Ended::Stopped);
            }
            log::error!("{}: accepting a connection: {err}", e.spec.path.display());
            return Ok(Ended::AcceptFailed);
        }
        log::info!(
            "{}: VMM connected ({:?})",
            e.spec.path.display(),
            e.spec.proto
        );
        e.stats.set_connected(true);
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
        e.stats.set_connected(false);
        *e.live.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *e.hangup.lock().unwrap_or_else(|p| p.into_inner()) = None;
        live.request_exit();
        Ok(Ended::Disconnected)
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
    fn socket_window_mode_parses() {
        let d: SocketSpec = "/x".parse().unwrap();
        assert_eq!(d.window, WindowMode::Shm);
        let s: SocketSpec = "/x,window=none".parse().unwrap();
        assert_eq!(s.window, WindowMode::None);
        let s: SocketSpec = "/x,window=shm".parse().unwrap();
        assert_eq!(s.window, WindowMode::Shm);
        assert!("/x,window=pmem".parse::<SocketSpec>().is_err());
        assert!("/x,proto=virtio-fs,window=none"
            .parse::<SocketSpec>()
            .is_err());
    }

    #[test]
    fn socket_path_with_separate_options() {
        let s = SocketSpec::with_options(PathBuf::from("/run/a,b.sock"), "role=ro,tag=t").unwrap();
        assert_eq!(s.path, PathBuf::from("/run/a,b.sock"));
        assert_eq!((s.access, s.tag.as_str()), (Some(Access::ReadOnly), "t"));
        let d = SocketSpec::with_options(PathBuf::from("/x"), "").unwrap();
        assert_eq!(d, SocketSpec::at(PathBuf::from("/x")));
        assert_eq!(d, "/x".parse().unwrap());
        assert!(SocketSpec::with_options(PathBuf::from("/x"), "color=red").is_err());
        assert!(SocketSpec::with_options(PathBuf::from("/x"), "role=boss").is_err());
    }

    #[test]
    fn socket_subtree_parses() {
        let s: SocketSpec = "/a,subtree=/tenant-a/vm1,role=ro".parse().unwrap();
        assert_eq!(s.policy.subtree.as_deref(), Some(&b"/tenant-a/vm1"[..]));
        assert_eq!(s.access, Some(Access::ReadOnly));
        let o =
            SocketSpec::with_options(PathBuf::from("/b"), "subtree=/t,proto=virtio-fs").unwrap();
        assert_eq!(o.policy.subtree.as_deref(), Some(&b"/t"[..]));
        assert_eq!(o.proto, Proto::VirtioFs);
        assert_eq!("/a".parse::<SocketSpec>().unwrap().policy.subtree, None);
        assert!("/a,subtree=".parse::<SocketSpec>().is_err());
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

    #[test]
    fn socket_isolate_parses_for_famfs_sockets_only() {
        let s: SocketSpec = "/a,isolate=on,role=ro".parse().unwrap();
        assert!(s.isolate);
        assert!(!"/a,isolate=off".parse::<SocketSpec>().unwrap().isolate);
        assert!(!"/a".parse::<SocketSpec>().unwrap().isolate);
        for bad in [
            "/a,isolate=yes",
            "/a,isolate=",
            "/a,proto=virtio-fs,isolate=on",
            "/a,window=none,isolate=on",
        ] {
            assert!(bad.parse::<SocketSpec>().is_err(), "{bad}");
        }
    }
}
