// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vhost-user side of one connection: features, configuration space,
//! shared memory, and moving requests between the virtqueues and the
//! `Server`.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use vhost::vhost_user::message::{
    VhostUserMMap, VhostUserMMapFlags, VhostUserProtocolFeatures, VhostUserShMemConfig,
    VhostUserVirtioFeatures,
};
use vhost::vhost_user::{Backend, VhostUserFrontendReqHandler};
use vhost_user_backend::{VhostUserBackend, VringRwLock, VringT};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::QueueT;
use vm_memory::{ByteValued, GuestAddressSpace};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{EventConsumer, EventNotifier};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::dax_window::{DeviceFd, VmmMapper};
use crate::features::Offer;
use crate::guest_policy::GuestPolicy;
use crate::isolated_window::IsolatedWindow;
use crate::meta::fmap::Extent;
use crate::meta::Famfs;
use crate::protocol::{self, Config, Notify};
use crate::server::{Access, Server, Window, MAX_EXTENTS};
use crate::status::SocketStats;
use crate::vring_serve;

/// Descriptors per virtqueue.
pub const QUEUE_SIZE: usize = 256;

/// The worker thread of the notification queue; worker `q` serves
/// request queue `q`.
pub const NOTIFY_THREAD: usize = protocol::NOTIFY_QUEUE as usize;

use crate::vring_serve::Mem;

/// Errors of a connection.
#[derive(Debug, thiserror::Error)]
pub enum VhuError {
    #[error("mount tag {0:?} is empty or longer than 35 bytes")]
    BadTag(String),
    #[error("eventfd: {0}")]
    EventFd(io::Error),
}

/// Whether a socket offers its VM the shared memory window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WindowMode {
    /// Shared memory region 0, mapped with SHMEM_MAP at the first INIT.
    #[default]
    Shm,
    /// No region at all: the device serves metadata only (NO_WINDOW) and
    /// the guest takes the window from a memory device of its own, such
    /// as a virtio-pmem device backed by the same DAX device.
    None,
}

impl std::str::FromStr for WindowMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shm" => Ok(WindowMode::Shm),
            "none" => Ok(WindowMode::None),
            _ => Err(format!("window={s}: expected shm or none")),
        }
    }
}

/// The DAX window of one connection, mapped with SHMEM_MAP.
pub struct ShmemWindow {
    fs: Arc<Famfs>,
    writable: bool,
    /// `WindowMode::Shm`: the window may be offered at all.
    offered: bool,
    backend: Mutex<Option<Backend>>,
    /// The frontend asked GET_SHMEM_CONFIG: it negotiated SHMEM.
    configured: AtomicBool,
    mapped: Mutex<bool>,
    /// Whether there is a window, fixed by the driver's first INIT until
    /// the device is reset: the configuration (NO_WINDOW) must not change
    /// while the driver runs, whatever the VMM sends meanwhile.
    frozen: Mutex<Option<bool>>,
    /// Where the mapped size is reported.
    stats: Arc<SocketStats>,
    /// `isolate=on`: files are mapped one by one as their maps are
    /// fetched, instead of the whole data area at INIT.
    isolated: Option<IsolatedWindow<VmmMapper<DeviceFd>>>,
}

impl ShmemWindow {
    fn new(
        fs: Arc<Famfs>,
        writable: bool,
        mode: WindowMode,
        isolate: bool,
        stats: Arc<SocketStats>,
    ) -> Self {
        let isolated = isolate.then(|| {
            IsolatedWindow::new(
                VmmMapper::new(DeviceFd(fs.clone())),
                fs.superblock().meta_size(),
                fs.geometry().dev_size,
                writable,
                stats.clone(),
            )
        });
        ShmemWindow {
            fs,
            writable,
            offered: mode == WindowMode::Shm,
            stats,
            isolated,
            backend: Mutex::new(None),
            configured: AtomicBool::new(false),
            mapped: Mutex::new(false),
            frozen: Mutex::new(None),
        }
    }

    /// Region 0's size: the device rounded up to a power of two, as QEMU
    /// packs regions into one BAR.
    pub fn region_size(&self) -> u64 {
        self.fs.geometry().dev_size.next_power_of_two()
    }

    /// The device forgot its mappings (reset or stop): map again on the
    /// next INIT.
    fn forget(&self) {
        if let Some(iso) = &self.isolated {
            iso.reset();
        }
        *self.mapped.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.stats.set_mapped(0);
        *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether the window can be mapped: the frozen answer while the
    /// driver runs, else what the VMM has set up so far.
    fn available(&self) -> bool {
        if !self.offered {
            return false;
        }
        if let Some(a) = *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) {
            return a;
        }
        self.configured.load(Ordering::Acquire)
            && self
                .backend
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
    }

    /// Whether files are mapped one by one (`isolate=on`).
    pub fn is_isolated(&self) -> bool {
        self.isolated.is_some()
    }

    /// Live mappings of an isolated window (0 otherwise).
    pub fn live_mappings(&self) -> usize {
        self.isolated.as_ref().map_or(0, |i| i.live())
    }

    /// Fixes `available()` until the next reset (the driver's INIT).
    fn freeze(&self) -> bool {
        let a = self.available();
        *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        a
    }
}

impl Window for Arc<ShmemWindow> {
    fn ensure_mapped(&self) -> Result<(), i32> {
        let mut mapped = self.mapped.lock().unwrap_or_else(|e| e.into_inner());
        if *mapped {
            return Ok(());
        }
        let backend = self
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (Some(backend), true) = (backend, self.freeze()) else {
            if self.offered {
                log::warn!("no shared memory window (NO_WINDOW): serving metadata only");
            } else {
                log::info!("window=none: serving metadata only (NO_WINDOW)");
            }
            return Ok(());
        };
        if let Some(iso) = &self.isolated {
            // A new INIT: whatever an earlier mount left mapped goes; files
            // are mapped as their maps are fetched.
            iso.unmap_all();
            return Ok(());
        }
        // The metadata area is never mapped: a guest can neither read nor
        // write the superblock and log through the window.
        let meta = self.fs.superblock().meta_size();
        let dev = self.fs.device();
        let msg = VhostUserMMap {
            shmid: 0,
            fd_offset: meta,
            shm_offset: meta,
            len: self.fs.geometry().dev_size - meta,
            flags: if self.writable {
                VhostUserMMapFlags::WRITABLE.bits()
            } else {
                0
            },
            ..Default::default()
        };
        let t = std::time::Instant::now();
        match backend.shmem_map(&msg, dev.file()) {
            Ok(_) => {
                log::info!(
                    "window mapped: device {:#x}..{:#x} ({}) in {:?}",
                    meta,
                    dev.size(),
                    if self.writable {
                        "read-write"
                    } else {
                        "read-only"
                    },
                    t.elapsed()
                );
                *mapped = true;
                self.stats.set_mapped(msg.len);
                Ok(())
            }
            Err(e) => {
                log::error!("SHMEM_MAP failed: {e}");
                Err(libc::EIO)
            }
        }
    }

    fn map_file(&self, node: u64, ranges: &[Extent]) -> Result<(), i32> {
        match &self.isolated {
            // Nothing to map into without a window (NO_WINDOW).
            Some(iso) if self.frozen_available() => iso.map_file(node, ranges),
            _ => Ok(()),
        }
    }

    fn forget_files(&self, nodes: &[u64]) {
        if let Some(iso) = &self.isolated {
            iso.forget(nodes);
        }
    }
}

impl ShmemWindow {
    /// The driver's INIT found a window.
    fn frozen_available(&self) -> bool {
        self.frozen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(false)
    }
}

struct Inner {
    server: Server<Arc<ShmemWindow>>,
    window: Arc<ShmemWindow>,
    config: Config,
    request_queues: usize,
    mem: RwLock<Option<Mem>>,
    event_idx: AtomicBool,
    acked_features: AtomicU64,
    /// Raised by the namespace watcher; handled on the worker thread.
    notify_evt: EventFd,
    /// Log generation last announced.
    announced: AtomicU64,
    /// One exit event per worker thread (`queues_per_thread`).
    exit: vring_serve::WorkerExits,
    stats: Arc<SocketStats>,
}

/// One vhost-user connection (one VM).
#[derive(Clone)]
pub struct VhostUserFamfs {
    inner: Arc<Inner>,
}

/// What one virtio-famfs socket offers its VM.
#[derive(Clone, Debug)]
pub struct FamfsSettings {
    pub access: Access,
    pub tag: String,
    pub request_queues: usize,
    pub policy: GuestPolicy,
    /// The shared memory window, or metadata only (`window=`).
    pub window: WindowMode,
    /// The optional feature bits (`readdirplus=`, `entry-fmap=`).
    pub offer: Offer,
    /// Map only the files whose maps the guest fetched (`isolate=on`).
    pub isolate: bool,
}

impl FamfsSettings {
    /// A socket with the defaults: window offered, every feature offered.
    pub fn new(access: Access, tag: &str, request_queues: usize, policy: GuestPolicy) -> Self {
        FamfsSettings {
            access,
            tag: tag.to_string(),
            request_queues,
            policy,
            window: WindowMode::Shm,
            offer: Offer::default(),
            isolate: false,
        }
    }
}

impl VhostUserFamfs {
    pub fn new(
        fs: Arc<Famfs>,
        access: Access,
        tag: &str,
        request_queues: usize,
        policy: GuestPolicy,
    ) -> Result<Self, VhuError> {
        let s = FamfsSettings::new(access, tag, request_queues, policy);
        Self::with_stats(fs, &s, Arc::default())
    }

    /// As `new`, with the settings of `s`, counting requests and the
    /// mapped window in `stats`.
    pub fn with_stats(
        fs: Arc<Famfs>,
        s: &FamfsSettings,
        stats: Arc<SocketStats>,
    ) -> Result<Self, VhuError> {
        let (access, tag, request_queues) = (s.access, s.tag.as_str(), s.request_queues);
        let (policy, window) = (s.policy.clone(), s.window);
        let mut offer = s.offer;
        // An isolated window maps files only through GET_FMAP: a map handed
        // out inline would not be mapped.
        // It alone unmaps what the driver forgets.
        if s.isolate {
            offer.entry_fmap = false;
            offer.forget = true;
        }
        let tag_bytes = tag.as_bytes();
        if tag_bytes.is_empty() || tag_bytes.len() >= protocol::TAG_LEN {
            return Err(VhuError::BadTag(tag.to_string()));
        }
        let window = Arc::new(ShmemWindow::new(
            fs.clone(),
            access != Access::ReadOnly,
            window,
            s.isolate,
            stats.clone(),
        ));
        let sb = fs.superblock();
        let mut config: Config = crate::meta::format::zeroed();
        config.tag[..tag_bytes.len()].copy_from_slice(tag_bytes);
        config.num_request_queues = (request_queues as u32).into();
        config.fs_uuid = *sb.fs_uuid.as_bytes();
        config.magic = protocol::MAGIC.into();
        config.device_size = fs.geometry().dev_size.into();
        config.alloc_unit = sb.alloc_unit.into();
        config.meta_size = sb.meta_size().into();
        config.max_extents = MAX_EXTENTS.into();
        config.version = ((protocol::VERSION_MAJOR << 16) | protocol::VERSION_MINOR).into();
        let mut flags = 0;
        match access {
            Access::Master => flags |= protocol::CFG_F_MAY_CREATE,
            Access::ReadOnly => flags |= protocol::CFG_F_READ_ONLY,
            Access::Client => {}
        }
        config.flags = flags.into();
        let announced = fs.applied();
        let inner = Inner {
            server: Server::new(fs, access, window.clone())
                .with_policy(policy)
                .with_offer(offer)
                .with_stats(stats.clone()),
            window,
            config,
            request_queues,
            mem: RwLock::new(None),
            event_idx: AtomicBool::new(false),
            acked_features: AtomicU64::new(0),
            notify_evt: EventFd::new(EFD_NONBLOCK).map_err(VhuError::EventFd)?,
            announced: AtomicU64::new(announced),
            exit: vring_serve::WorkerExits::new(1 + request_queues).map_err(VhuError::EventFd)?,
            stats,
        };
        Ok(VhostUserFamfs {
            inner: Arc::new(inner),
        })
    }

    /// The eventfd the namespace watcher writes; register it with the
    /// epoll handler of worker `NOTIFY_THREAD` under `notify_event_id()`.
    pub fn notify_eventfd(&self) -> &EventFd {
        &self.inner.notify_evt
    }

    /// The device event id of the namespace watcher's eventfd.
    pub fn notify_event_id(&self) -> u16 {
        (self.num_queues() + 1) as u16
    }

    /// Tells this connection that the log grew; it will announce it on
    /// the notification queue.
    pub fn namespace_changed(&self) {
        let _ = self.inner.notify_evt.write(1);
    }

    /// Asks every worker thread to exit.
    pub fn request_exit(&self) {
        self.inner.exit.notify_all();
    }

    pub fn server(&self) -> &Server<Arc<ShmemWindow>> {
        &self.inner.server
    }

    fn mem(&self) -> Option<Mem> {
        self.inner
            .mem
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves every available request of a request queue.
    fn process_requests(&self, vring: &VringRwLock) -> io::Result<()> {
        let Some(mem) = self.mem() else {
            return Ok(());
        };
        let m = mem.memory();
        let event_idx = self.inner.event_idx.load(Ordering::Acquire);
        vring_serve::process_queue(vring, &mem, event_idx, |chain| {
            let head = chain.head_index();
            // Device-readable descriptors after device-writable ones.
            let mut seen_writable = false;
            let bad_layout = chain.clone().any(|d| {
                seen_writable |= d.is_write_only();
                seen_writable && !d.is_write_only()
            });
            match (chain.clone().reader(&m), chain.writer(&m)) {
                (Ok(_), Ok(mut w)) if bad_layout => self.inner.server.reject(&mut w),
                (Ok(mut r), Ok(mut w)) => self.inner.server.handle(&mut r, &mut w),
                _ => {
                    log::debug!("descriptor chain {head} is malformed");
                    self.inner.stats.request(None, true);
                    0
                }
            }
        })
    }

    /// Announces a log change in one buffer of the notification queue.
    fn process_notifications(&self, vring: &VringRwLock) -> io::Result<()> {
        let _ = self.inner.notify_evt.read();
        if self.inner.acked_features.load(Ordering::Acquire) & (1 << protocol::F_NOTIFY) == 0 {
            return Ok(());
        }
        let fs = self.inner.server.fs();
        let _ = fs.refresh();
        let generation = fs.applied();
        if self.inner.announced.load(Ordering::Acquire) == generation {
            return Ok(());
        }
        let Some(mem) = self.mem() else {
            return Ok(());
        };
        let m = mem.memory();
        let chain = vring
            .get_mut()
            .get_queue_mut()
            .pop_descriptor_chain(m.clone());
        let Some(chain) = chain else {
            // No buffer posted: announce when the driver posts one.
            return Ok(());
        };
        let head = chain.head_index();
        let msg = Notify {
            type_: protocol::NOTIFY_NAMESPACE_CHANGED.into(),
            padding: 0u32.into(),
            log_generation: generation.into(),
        };
        let used = match chain.writer(&m) {
            Ok(mut w) if w.available_bytes() >= std::mem::size_of::<Notify>() => {
                w.write_obj(msg).map_err(io::Error::other)?;
                self.inner.announced.store(generation, Ordering::Release);
                std::mem::size_of::<Notify>() as u32
            }
            _ => 0,
        };
        vring.add_used(head, used).map_err(io::Error::other)?;
        vring.signal_used_queue()?;
        Ok(())
    }
}

impl VhostUserBackend for VhostUserFamfs {
    type Bitmap = ();
    type Vring = VringRwLock;

    fn num_queues(&self) -> usize {
        1 + self.inner.request_queues
    }

    fn max_queue_size(&self) -> usize {
        QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        (1 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_INDIRECT_DESC)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | self.inner.server.offered()
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn acked_features(&self, features: u64) {
        self.inner.acked_features.store(features, Ordering::Release);
        self.inner.server.set_features(features);
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        let base = VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::BACKEND_REQ
            | VhostUserProtocolFeatures::REPLY_ACK
            | VhostUserProtocolFeatures::SHMEM;
        // Each mapping of an isolated window becomes a memory region the
        // VMM hands over: more than SET_MEM_TABLE's 8, so one by one.
        if self.inner.window.is_isolated() {
            base | VhostUserProtocolFeatures::CONFIGURE_MEM_SLOTS
        } else {
            base
        }
    }

    fn reset_device(&self) {
        self.inner.window.forget();
        self.inner.server.reset();
    }

    fn set_event_idx(&self, enabled: bool) {
        self.inner.event_idx.store(enabled, Ordering::Release);
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let mut cfg = self.inner.config;
        if !self.inner.window.available() {
            cfg.flags = (cfg.flags.to_native() | protocol::CFG_F_NO_WINDOW).into();
        }
        let bytes = cfg.as_slice();
        let start = (offset as usize).min(bytes.len());
        let end = start.saturating_add(size as usize).min(bytes.len());
        let mut out = bytes[start..end].to_vec();
        // Reads past the structure return zeros, as the spec requires.
        out.resize(size as usize, 0);
        out
    }

    fn update_memory(&self, mem: Mem) -> io::Result<()> {
        *self.inner.mem.write().unwrap_or_else(|e| e.into_inner()) = Some(mem);
        Ok(())
    }

    fn set_backend_req_fd(&self, backend: Backend) {
        if let Some(iso) = &self.inner.window.isolated {
            iso.mapper().set_backend(backend.clone());
        }
        *self
            .inner
            .window
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(backend);
    }

    fn get_shmem_config(&self) -> io::Result<VhostUserShMemConfig> {
        self.inner.window.configured.store(true, Ordering::Release);
        if !self.inner.window.offered {
            return Ok(VhostUserShMemConfig::new(0, &[]));
        }
        Ok(VhostUserShMemConfig::new(
            1,
            &[self.inner.window.region_size()],
        ))
    }

    /// Worker `NOTIFY_THREAD` serves the notification queue (and the
    /// watcher's eventfd); every request queue has a worker of its own, so
    /// that requests on different queues are served in parallel.
    fn queues_per_thread(&self) -> Vec<u64> {
        vring_serve::one_queue_per_thread(self.num_queues())
    }

    fn exit_event(&self, thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        self.inner.exit.for_thread(thread_index)
    }

    fn stop_vring(&self, _queue_index: u32) -> io::Result<()> {
        // QEMU drops every shared-memory mapping when it stops the device
        // (guest reset, driver unload): the driver will INIT again.
        self.inner.window.forget();
        self.inner.server.reset();
        Ok(())
    }

    fn handle_event(
        &self,
        device_event: u16,
        evset: EventSet,
        vrings: &[VringRwLock],
        thread_id: usize,
    ) -> io::Result<()> {
        if evset != EventSet::IN {
            return Ok(());
        }
        // Each worker holds one queue (queues_per_thread): its event 0.
        match (thread_id, device_event) {
            (NOTIFY_THREAD, 0) => self.process_notifications(&vrings[0]),
            (NOTIFY_THREAD, d) if d == self.notify_event_id() => {
                self.process_notifications(&vrings[0])
            }
            (t, 0) if t < self.num_queues() => self.process_requests(&vrings[0]),
            (t, d) => {
                log::warn!("unexpected event {d} on worker {t}");
                Ok(())
            }
        }
    }
}
