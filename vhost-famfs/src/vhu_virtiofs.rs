// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vhost-user side of one virtio-fs connection (virtio device 26):
//! features, the configuration space (tag and request queue count), and
//! moving FUSE requests between the virtqueues and the `FuseServer`.
//!
//! Queue 0 is the high-priority queue (FORGET and friends), queues 1..=N
//! carry requests; each has a worker thread of its own.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use vhost::vhost_user::message::{
    VhostUserProtocolFeatures, VhostUserShMemConfig, VhostUserVirtioFeatures,
};
use vhost::vhost_user::Backend;
use vhost_user_backend::{VhostUserBackend, VringRwLock};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use vm_memory::{ByteValued, GuestAddressSpace};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{EventConsumer, EventNotifier};

use crate::dax_window::{DaxMap, DeviceFd, VmmMapper};
use crate::filesystem::FamfsFs;
use crate::fuse::abi::VirtioFsConfig;
use crate::fuse::chain::split_chain;
use crate::fuse::{CachePolicy, DaxWindow, FuseServer, NoWindow};
use crate::guest_policy::GuestPolicy;
use crate::meta::Famfs;
use crate::server::Access;
use crate::status::{SocketStats, FUSE_OPS};
use crate::vhu_famfs::{VhuError, QUEUE_SIZE};
use crate::vring_serve;

use crate::vring_serve::Mem;

/// The vhost-user side of a FUSE window: whether the device offers shared
/// memory region 0 (virtio-fs's DAX cache window) and who maps into it.
pub trait ShmemWindow: DaxWindow {
    /// The window's size, or None in copy mode.
    fn region_size(&self) -> Option<u64>;
    /// The backend channel SHMEM_MAP/UNMAP travel on.
    fn set_backend(&self, backend: Backend);
}

impl ShmemWindow for NoWindow {
    fn region_size(&self) -> Option<u64> {
        None
    }
    fn set_backend(&self, _: Backend) {}
}

/// The DAX window of a virtio-fs socket given `dax-window=`.
pub type DeviceDax = DaxMap<VmmMapper<DeviceFd>>;

impl ShmemWindow for DeviceDax {
    fn region_size(&self) -> Option<u64> {
        Some(self.size())
    }
    fn set_backend(&self, backend: Backend) {
        self.mapper().set_backend(backend);
    }
}

struct Inner<D: DaxWindow> {
    server: FuseServer<FamfsFs, D>,
    config: VirtioFsConfig,
    request_queues: usize,
    mem: RwLock<Option<Mem>>,
    event_idx: AtomicBool,
    /// One exit event per worker thread.
    exit: vring_serve::WorkerExits,
}

/// One vhost-user virtio-fs connection (one VM).
pub struct VhostUserFs<D: DaxWindow = NoWindow> {
    inner: Arc<Inner<D>>,
}

impl<D: DaxWindow> Clone for VhostUserFs<D> {
    fn clone(&self) -> Self {
        VhostUserFs {
            inner: self.inner.clone(),
        }
    }
}

/// A socket's virtio-fs settings.
#[derive(Clone, Debug)]
pub struct FsSettings {
    pub access: Access,
    pub tag: String,
    pub request_queues: usize,
    pub policy: GuestPolicy,
    pub cache: CachePolicy,
}

impl VhostUserFs<NoWindow> {
    /// A copy-mode device (no DAX window).
    pub fn new(fs: Arc<Famfs>, s: &FsSettings) -> Result<Self, VhuError> {
        Self::with_window(fs, s, NoWindow)
    }

    /// As `new`, counting requests in `stats` (made with `FUSE_OPS`).
    pub fn with_stats(
        fs: Arc<Famfs>,
        s: &FsSettings,
        stats: Arc<SocketStats>,
    ) -> Result<Self, VhuError> {
        Self::build(fs, s, NoWindow, stats)
    }
}

impl VhostUserFs<DeviceDax> {
    /// A DAX-mode device: shared memory region 0 of `window` bytes;
    /// requests are counted in `stats` (made with `FUSE_OPS`).
    pub fn with_dax(
        fs: Arc<Famfs>,
        s: &FsSettings,
        window: u64,
        stats: Arc<SocketStats>,
    ) -> Result<Self, VhuError> {
        let dax = DaxMap::new(
            VmmMapper::new(DeviceFd(fs.clone())),
            window,
            fs.superblock().meta_size(),
            fs.geometry().dev_size,
            s.access != Access::ReadOnly,
        );
        Self::build(fs, s, dax, stats)
    }
}

impl<D: DaxWindow> VhostUserFs<D> {
    pub fn with_window(fs: Arc<Famfs>, s: &FsSettings, dax: D) -> Result<Self, VhuError> {
        Self::build(fs, s, dax, Arc::new(SocketStats::new(FUSE_OPS)))
    }

    fn build(
        fs: Arc<Famfs>,
        s: &FsSettings,
        dax: D,
        stats: Arc<SocketStats>,
    ) -> Result<Self, VhuError> {
        let tag = s.tag.as_bytes();
        let mut config = VirtioFsConfig {
            tag: [0; 36],
            num_request_queues: s.request_queues as u32,
        };
        if tag.is_empty() || tag.len() > config.tag.len() {
            return Err(VhuError::BadTag(s.tag.clone()));
        }
        config.tag[..tag.len()].copy_from_slice(tag);
        let fs = FamfsFs::new(fs, s.access, s.policy.clone());
        let inner = Inner {
            server: FuseServer::new(fs, dax, s.cache).with_stats(stats),
            config,
            request_queues: s.request_queues,
            mem: RwLock::new(None),
            event_idx: AtomicBool::new(false),
            exit: vring_serve::WorkerExits::new(1 + s.request_queues).map_err(VhuError::EventFd)?,
        };
        Ok(VhostUserFs {
            inner: Arc::new(inner),
        })
    }

    pub fn server(&self) -> &FuseServer<FamfsFs, D> {
        &self.inner.server
    }

    /// Asks every worker thread to exit.
    pub fn request_exit(&self) {
        self.inner.exit.notify_all();
    }

    fn mem(&self) -> Option<Mem> {
        self.inner
            .mem
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves every available request of a queue.
    fn process_queue(&self, vring: &VringRwLock) -> io::Result<()> {
        let Some(mem) = self.mem() else {
            return Ok(());
        };
        let m = mem.memory();
        let event_idx = self.inner.event_idx.load(Ordering::Acquire);
        vring_serve::process_queue(vring, &mem, event_idx, |chain| {
            let head = chain.head_index();
            match split_chain(&m, chain) {
                Ok((mut r, mut w)) => self.inner.server.handle(&mut r, &mut w),
                Err(e) => {
                    log::debug!("descriptor chain {head}: {e}");
                    0
                }
            }
        })
    }
}

impl<D: ShmemWindow + 'static> VhostUserBackend for VhostUserFs<D> {
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
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        let base = VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::REPLY_ACK;
        if self.inner.server.window().region_size().is_none() {
            return base;
        }
        // Each mapping becomes a memory region the VMM hands over: more than
        // SET_MEM_TABLE's 8, so regions are added one by one.
        base | VhostUserProtocolFeatures::BACKEND_REQ
            | VhostUserProtocolFeatures::SHMEM
            | VhostUserProtocolFeatures::CONFIGURE_MEM_SLOTS
    }

    fn set_backend_req_fd(&self, backend: Backend) {
        self.inner.server.window().set_backend(backend);
    }

    fn get_shmem_config(&self) -> io::Result<VhostUserShMemConfig> {
        match self.inner.server.window().region_size() {
            Some(size) => Ok(VhostUserShMemConfig::new(1, &[size])),
            None => Ok(VhostUserShMemConfig::new(0, &[])),
        }
    }

    fn reset_device(&self) {
        self.inner.server.reset();
    }

    fn set_event_idx(&self, enabled: bool) {
        self.inner.event_idx.store(enabled, Ordering::Release);
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let bytes = self.inner.config.as_slice();
        let start = (offset as usize).min(bytes.len());
        let end = start.saturating_add(size as usize).min(bytes.len());
        let mut out = bytes[start..end].to_vec();
        out.resize(size as usize, 0);
        out
    }

    fn update_memory(&self, mem: Mem) -> io::Result<()> {
        *self.inner.mem.write().unwrap_or_else(|e| e.into_inner()) = Some(mem);
        Ok(())
    }

    /// One worker per queue: requests on different queues are served in
    /// parallel, and a slow request never holds up FORGETs.
    fn queues_per_thread(&self) -> Vec<u64> {
        vring_serve::one_queue_per_thread(self.num_queues())
    }

    fn exit_event(&self, thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        self.inner.exit.for_thread(thread_index)
    }

    fn stop_vring(&self, _queue_index: u32) -> io::Result<()> {
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
        match (thread_id, device_event) {
            (t, 0) if t < self.num_queues() => self.process_queue(&vrings[0]),
            (t, d) => {
                log::warn!("unexpected event {d} on worker {t}");
                Ok(())
            }
        }
    }
}
