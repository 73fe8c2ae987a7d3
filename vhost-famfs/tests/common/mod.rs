// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A VMM for tests and benchmarks: it drives a virtio-famfs daemon through
//! the vhost-user protocol with the `vhost` crate's frontend.
//!
//! `Vm::connect` negotiates features, hands over guest memory (a memfd)
//! and records what the backend sends on its channel (SHMEM_MAP). The
//! guest is simulated by split virtqueues laid out in that memory, through
//! which virtio-famfs requests travel as a driver would send them
//! (spec/virtio-famfs.md); replies are awaited on the call eventfd with
//! epoll. `Running` serves a device with an in-process `Daemon`;
//! `Fixture` makes that device, formatted and populated, and `serve`
//! starts a daemon on one socket with a VMM connected.
//!
//! Used by tests/frontend.rs (`pub mod common;`) and benches/daemon.rs
//! (`#[path = "../tests/common/mod.rs"] pub mod common;`). Each includes
//! the module as `pub` so that the items one of them does not use are
//! public API of that crate rather than dead code.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uuid::Uuid;
use vhost::vhost_user::message::{
    VhostUserConfigFlags, VhostUserHeaderFlag, VhostUserMMap, VhostUserProtocolFeatures,
    VhostUserShMemConfig, VhostUserVirtioFeatures,
};
use vhost::vhost_user::{
    Frontend, FrontendReqHandler, HandlerResult, VhostUserFrontend, VhostUserFrontendReqHandler,
};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vhost_famfs::daemon::{remove_sockets, Daemon, DaemonError, SocketSpec};
use vhost_famfs::device::Device;
use vhost_famfs::hostio;
use vhost_famfs::meta::entry::{FileRecord, LogRecord};
use vhost_famfs::meta::fmap;
use vhost_famfs::meta::format::{zeroed, FILE_FLAG_ALL_HOSTS_RO};
use vhost_famfs::meta::log::Log;
use vhost_famfs::meta::namespace::S_IFREG;
use vhost_famfs::meta::{Famfs, FileSpec, MkfsOptions, Node, OpenOptions, RelPath};
use vhost_famfs::protocol::*;
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ring::{
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
};
use vm_memory::{
    ByteValued, Bytes, FileOffset, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion,
};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// The system uuid of the host that formats devices (the master).
pub const MASTER: Uuid = Uuid::from_u128(0x6a1f_3c9e_0000_4000_8000_0000_0000_0001);
/// Guest memory.
pub const MEM_SIZE: usize = 16 << 20;
/// Descriptors per virtqueue, and descriptors reserved per chain.
pub const QSIZE: u16 = 64;
pub const SLOT: u16 = 8;
/// Guest memory reserved for the buffers of one chain.
pub const SLOT_AREA: u64 = 256 << 10;
/// Any single wait; a hang fails the test instead of blocking it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Sizes of the wire structures.
pub const HDR: usize = std::mem::size_of::<RespHdr>();
pub const REQ: usize = std::mem::size_of::<ReqHdr>();
pub const ATTR: usize = std::mem::size_of::<Attr>();
/// The smallest writable part a READDIR may come with (spec 7.9).
pub const READDIR_MIN: u32 = (HDR + 8 + 104) as u32;

/// Opens devices as the master host (`MASTER`).
pub fn open_opts(writable: bool) -> OpenOptions {
    OpenOptions {
        writable,
        system_uuid: Some(MASTER),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        ..Default::default()
    }
}

pub fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

// ---------------------------------------------------------------------
// The device
// ---------------------------------------------------------------------

/// A regular file of `size` bytes, mode 0644, owned by 1000:100.
pub fn file_spec(size: u64) -> FileSpec {
    FileSpec {
        size,
        mode: 0o644,
        uid: 1000,
        gid: 100,
        striping: None,
    }
}

/// Writes byte `pattern(i)` at offset `i` of every byte of `node`.
pub fn fill_pattern(fs: &Famfs, node: &Node, pattern: impl Fn(u64) -> u8) {
    let mut i = 0u64;
    hostio::fill(fs.device(), node, |b| {
        for x in b.iter_mut() {
            *x = pattern(i);
            i += 1;
        }
    })
    .unwrap();
}

/// Appends to the log of `fs`, through `dev`, a 4096-byte file at `path`
/// flagged ALL_HOSTS_RO in the device's last allocation unit, as
/// famfs's own tools would write it (this crate never creates one).
pub fn log_all_hosts_ro(dev: &Device, fs: &Famfs, path: &str, mode: u32) {
    let log = Log::new(dev, fs.superblock(), fs.geometry());
    let unit = fs.superblock().alloc_unit;
    let rec = LogRecord::File(FileRecord {
        path: rp(path),
        size: 4096,
        flags: FILE_FLAG_ALL_HOSTS_RO,
        uid: 0,
        gid: 0,
        mode,
        fmap: fmap::Fmap::Simple(vec![fmap::Extent {
            offset: dev.size() - unit,
            len: unit,
        }]),
    });
    log.append(&log.header().unwrap(), &rec).unwrap();
}

/// A famfs file system on a file-backed device in a temporary
/// directory, formatted by the master host, where sockets go too.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub dev: PathBuf,
    pub dev_size: u64,
    /// The daemon's own handle, opened after `populate`: it shows the
    /// daemon's view.
    pub fs: Arc<Famfs>,
}

impl Fixture {
    /// A device of `dev_size` bytes, formatted, then filled by
    /// `populate` through a writable handle of its own.
    pub fn build(dev_size: u64, populate: impl FnOnce(&Famfs)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let dev = dir.join("famfs.dev");
        Device::create_file(&dev, dev_size).unwrap();
        Famfs::mkfs(
            &Device::open(&dev, true).unwrap(),
            &MkfsOptions {
                system_uuid: Some(MASTER),
                system_uuid_file: "/nonexistent/system_uuid".into(),
                ..Default::default()
            },
        )
        .unwrap();
        populate(&Famfs::open(&dev, &open_opts(true)).unwrap());
        let fs = Arc::new(Famfs::open(&dev, &open_opts(true)).unwrap());
        Fixture {
            _tmp: tmp,
            dir,
            dev,
            dev_size,
            fs,
        }
    }

    /// A socket in the fixture's directory; `options` as after a
    /// `--socket` path.
    pub fn socket(&self, name: &str, options: &str) -> SocketSpec {
        SocketSpec::with_options(self.dir.join(name), options).unwrap()
    }

    pub fn stat(&self, path: &str) -> Node {
        self.fs.stat(path).unwrap()
    }

    pub fn ino(&self, path: &str) -> u64 {
        self.stat(path).ino
    }
}

// ---------------------------------------------------------------------
// The daemon
// ---------------------------------------------------------------------

/// A daemon running in its own thread.
pub struct Running {
    daemon: Arc<Daemon>,
    done: mpsc::Receiver<Result<(), DaemonError>>,
    thread: JoinHandle<()>,
}

impl Running {
    pub fn start(fs: &Arc<Famfs>, sockets: &[SocketSpec]) -> Self {
        Self::start_with(fs, sockets, 1)
    }

    /// Serves with `request_queues` request queues per socket.
    pub fn start_with(fs: &Arc<Famfs>, sockets: &[SocketSpec], request_queues: usize) -> Self {
        let daemon = Arc::new(Daemon::new(fs.clone(), sockets, request_queues).unwrap());
        let (tx, done) = mpsc::channel();
        let d = daemon.clone();
        let thread = std::thread::spawn(move || {
            let _ = tx.send(d.run());
        });
        // Nothing announces a bound socket: look for it.
        let deadline = Instant::now() + TIMEOUT;
        for s in sockets {
            while !s.path.exists() {
                assert!(
                    Instant::now() < deadline,
                    "{} never bound",
                    s.path.display()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Running {
            daemon,
            done,
            thread,
        }
    }

    /// The daemon's status report (`vhost-famfs status`).
    pub fn status(&self) -> String {
        self.daemon.status()
    }

    /// Shuts the daemon down; `run` must return Ok and the sockets must go.
    pub fn stop(self) {
        self.daemon.shutdown();
        let r = self
            .done
            .recv_timeout(TIMEOUT)
            .expect("Daemon::run did not return within 5 s of shutdown()");
        assert!(r.is_ok(), "Daemon::run failed: {r:?}");
        self.thread.join().unwrap();
        let paths = self.daemon.socket_paths();
        remove_sockets(&paths);
        for p in &paths {
            assert!(!p.exists(), "{} left behind", p.display());
        }
    }
}

// ---------------------------------------------------------------------
// The VMM: backend channel
// ---------------------------------------------------------------------

/// What arrived on the backend channel.
pub enum BackendMsg {
    Map(VhostUserMMap, File),
    Unmap(VhostUserMMap),
    Failed(String),
}

/// Holds the replies to SHMEM_MAP while closed, as a slow VMM would.
#[derive(Default)]
pub struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    pub fn set_closed(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }

    /// Waits until the gate is open (at most `TIMEOUT`).
    fn pass(&self) {
        let g = self.closed.lock().unwrap();
        let _ = self.opened.wait_timeout_while(g, TIMEOUT, |c| *c).unwrap();
    }
}

/// Records SHMEM_MAP/UNMAP requests, keeping a copy of the mapped fd.
pub struct Recorder(mpsc::Sender<BackendMsg>, Arc<Gate>);

impl VhostUserFrontendReqHandler for Recorder {
    fn shmem_map(&self, req: &VhostUserMMap, fd: &dyn AsRawFd) -> HandlerResult<u64> {
        // SAFETY: the handler owns the received fd until this call returns;
        // it is only borrowed here to duplicate it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) };
        let file = File::from(fd.try_clone_to_owned()?);
        let _ = self.0.send(BackendMsg::Map(*req, file));
        self.1.pass();
        Ok(0)
    }

    fn shmem_unmap(&self, req: &VhostUserMMap) -> HandlerResult<u64> {
        let _ = self.0.send(BackendMsg::Unmap(*req));
        Ok(0)
    }
}

// ---------------------------------------------------------------------
// The VMM: guest memory and split virtqueues
// ---------------------------------------------------------------------

/// One segment of a descriptor chain.
#[derive(Clone, Debug)]
pub enum Seg {
    /// Device-readable bytes.
    R(Vec<u8>),
    /// A device-writable buffer of this many bytes.
    W(u32),
    /// A device-writable buffer with these initial contents.
    Wd(Vec<u8>),
    /// A raw descriptor (address, length, device-writable).
    Raw(u64, u32, bool),
}

/// Poison in writable buffers: the device must not write past its reply.
pub const POISON: u8 = 0xe7;

pub struct Vq {
    pub index: usize,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    pub data: u64,
    pub next_avail: u16,
    pub last_used: u16,
    pub kick: EventFd,
    pub call: EventFd,
    pub epoll: Epoll,
}

impl Vq {
    pub fn new(index: usize) -> Self {
        let base = index as u64 * 0x10000;
        let call = EventFd::new(EFD_NONBLOCK).unwrap();
        let epoll = Epoll::new().unwrap();
        epoll
            .ctl(
                ControlOperation::Add,
                call.as_raw_fd(),
                EpollEvent::new(EventSet::IN, 0),
            )
            .unwrap();
        Vq {
            index,
            desc: base,
            avail: base + 0x1000,
            used: base + 0x2000,
            data: 0x10_0000 + index as u64 * u64::from(QSIZE / SLOT) * SLOT_AREA,
            next_avail: 0,
            last_used: 0,
            kick: EventFd::new(EFD_NONBLOCK).unwrap(),
            call,
            epoll,
        }
    }

    pub fn write_desc(mem: &GuestMemoryMmap, at: u64, addr: u64, len: u32, flags: u32, next: u16) {
        mem.write_obj(addr, GuestAddress(at)).unwrap();
        mem.write_obj(len, GuestAddress(at + 8)).unwrap();
        mem.write_obj(flags as u16, GuestAddress(at + 12)).unwrap();
        mem.write_obj(next, GuestAddress(at + 14)).unwrap();
    }

    /// Writes a chain into the next free slot, makes it available and
    /// kicks. Returns its head and its writable buffers (address, length,
    /// poisoned).
    pub fn add(
        &mut self,
        mem: &GuestMemoryMmap,
        segs: &[Seg],
        indirect: bool,
    ) -> (u16, Vec<(u64, u32, bool)>) {
        assert!(!segs.is_empty() && segs.len() <= SLOT as usize);
        let slot = self.next_avail % (QSIZE / SLOT);
        let head = slot * SLOT;
        let area = self.data + u64::from(slot) * SLOT_AREA;
        let mut off = 0u64;
        let mut descs = Vec::new();
        let mut writable = Vec::new();
        for s in segs {
            let at = area + off;
            let (addr, len, flags) = match s {
                Seg::R(b) => {
                    mem.write_slice(b, GuestAddress(at)).unwrap();
                    (at, b.len() as u32, 0)
                }
                Seg::W(n) => {
                    mem.write_slice(&vec![POISON; *n as usize], GuestAddress(at))
                        .unwrap();
                    writable.push((at, *n, true));
                    (at, *n, VRING_DESC_F_WRITE)
                }
                Seg::Wd(b) => {
                    mem.write_slice(b, GuestAddress(at)).unwrap();
                    writable.push((at, b.len() as u32, false));
                    (at, b.len() as u32, VRING_DESC_F_WRITE)
                }
                Seg::Raw(addr, len, w) => (*addr, *len, if *w { VRING_DESC_F_WRITE } else { 0 }),
            };
            if !matches!(s, Seg::Raw(..)) {
                off = (off + u64::from(len)).next_multiple_of(16);
                assert!(off < SLOT_AREA);
            }
            descs.push((addr, len, flags));
        }
        let n = descs.len();
        let next_flag = |i: usize| if i + 1 < n { VRING_DESC_F_NEXT } else { 0 };
        if indirect {
            let table = area + off;
            for (i, &(addr, len, flags)) in descs.iter().enumerate() {
                let at = table + 16 * i as u64;
                Self::write_desc(mem, at, addr, len, flags | next_flag(i), i as u16 + 1);
            }
            let at = self.desc + 16 * u64::from(head);
            Self::write_desc(mem, at, table, 16 * n as u32, VRING_DESC_F_INDIRECT, 0);
        } else {
            for (i, &(addr, len, flags)) in descs.iter().enumerate() {
                let idx = head + i as u16;
                let at = self.desc + 16 * u64::from(idx);
                Self::write_desc(mem, at, addr, len, flags | next_flag(i), idx + 1);
            }
        }
        let ring = self.avail + 4 + 2 * u64::from(self.next_avail % QSIZE);
        mem.write_obj(head, GuestAddress(ring)).unwrap();
        // used_event (EVENT_IDX): interrupt as soon as the next entry is used.
        let used_event = self.avail + 4 + 2 * u64::from(QSIZE);
        mem.write_obj(self.last_used, GuestAddress(used_event))
            .unwrap();
        fence(Ordering::SeqCst);
        self.next_avail = self.next_avail.wrapping_add(1);
        mem.write_obj(self.next_avail, GuestAddress(self.avail + 2))
            .unwrap();
        fence(Ordering::SeqCst);
        self.kick.write(1).unwrap();
        (head, writable)
    }

    /// Waits on the call eventfd for the next used entry: (id, len).
    pub fn wait_used(&mut self, mem: &GuestMemoryMmap, timeout: Duration) -> Option<(u32, u32)> {
        let deadline = Instant::now() + timeout;
        let mut events = [EpollEvent::default()];
        loop {
            fence(Ordering::SeqCst);
            let idx: u16 = mem.read_obj(GuestAddress(self.used + 2)).unwrap();
            if idx != self.last_used {
                fence(Ordering::SeqCst);
                let e = self.used + 4 + 8 * u64::from(self.last_used % QSIZE);
                let id: u32 = mem.read_obj(GuestAddress(e)).unwrap();
                let len: u32 = mem.read_obj(GuestAddress(e + 4)).unwrap();
                self.last_used = self.last_used.wrapping_add(1);
                return Some((id, len));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            if self.epoll.wait(ms, &mut events).unwrap() > 0 {
                let _ = self.call.read();
            }
        }
    }

    pub fn config(&self, base: u64) -> VringConfigData {
        VringConfigData {
            queue_max_size: QSIZE,
            queue_size: QSIZE,
            flags: 0,
            desc_table_addr: base + self.desc,
            used_ring_addr: base + self.used,
            avail_ring_addr: base + self.avail,
            log_addr: None,
        }
    }
}

/// How the VMM sets the device up.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub protocol: VhostUserProtocolFeatures,
    /// Send GET_SHMEM_CONFIG (only with SHMEM).
    pub shmem_config: bool,
    pub event_idx: bool,
    pub notify: bool,
    /// Virtqueues to set up: the notification queue and the request
    /// queues (the daemon must offer at least this many).
    pub queues: usize,
    /// Accept F_INTERLEAVE (compact striped maps).
    pub interleave: bool,
    /// Accept F_READDIRPLUS and F_ENTRY_FMAP if offered.
    pub readdirplus: bool,
    pub entry_fmap: bool,
}

impl Opts {
    pub fn full() -> Self {
        Opts {
            protocol: VhostUserProtocolFeatures::MQ
                | VhostUserProtocolFeatures::CONFIG
                | VhostUserProtocolFeatures::BACKEND_REQ
                | VhostUserProtocolFeatures::REPLY_ACK
                | VhostUserProtocolFeatures::SHMEM,
            shmem_config: true,
            event_idx: true,
            notify: true,
            queues: 2,
            interleave: true,
            readdirplus: true,
            entry_fmap: true,
        }
    }
}

/// A connected VMM with one guest.
pub struct Vm {
    pub frontend: Frontend,
    pub mem: GuestMemoryMmap,
    pub queues: Vec<Vq>,
    backend_msgs: mpsc::Receiver<BackendMsg>,
    /// Our copy of the backend channel, shut down to stop its thread.
    backend_chan: Option<(UnixStream, JoinHandle<()>)>,
    pub shmem: Option<VhostUserShMemConfig>,
    /// The features the device offered, and those accepted.
    pub offered: u64,
    pub features: u64,
    /// Closing it delays the replies to SHMEM_MAP.
    pub map_gate: Arc<Gate>,
    unique: u64,
}

impl Vm {
    /// Connects and sets the device up as a VMM does before the guest
    /// driver runs; the driver has not sent INIT yet.
    pub fn connect(path: &Path, opts: Opts) -> Vm {
        let mut fe = Frontend::connect(path, opts.queues as u64).unwrap();
        fe.set_hdr_flags(VhostUserHeaderFlag::NEED_REPLY);
        fe.set_owner().unwrap();

        let offered = fe.get_features().unwrap();
        assert_ne!(offered & (1 << VIRTIO_F_VERSION_1), 0, "{offered:#x}");
        assert_ne!(
            offered & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits(),
            0
        );
        // Only virtio-famfs devices offer these (a virtio-fs device
        // connects with both off).
        if opts.notify {
            assert_ne!(offered & (1 << F_NOTIFY), 0);
        }
        if opts.interleave {
            assert_ne!(offered & (1 << F_INTERLEAVE), 0);
        }
        assert_ne!(offered & (1 << VIRTIO_RING_F_INDIRECT_DESC), 0);
        assert_ne!(offered & (1 << VIRTIO_RING_F_EVENT_IDX), 0);
        let mut features = offered;
        if !opts.event_idx {
            features &= !(1 << VIRTIO_RING_F_EVENT_IDX);
        }
        if !opts.notify {
            features &= !(1 << F_NOTIFY);
        }
        if !opts.interleave {
            features &= !(1 << F_INTERLEAVE);
        }
        if !opts.readdirplus {
            features &= !(1 << F_READDIRPLUS);
        }
        if !opts.entry_fmap {
            features &= !(1 << F_ENTRY_FMAP);
        }
        fe.set_features(features).unwrap();

        let proto = fe.get_protocol_features().unwrap();
        assert!(proto.contains(opts.protocol), "{proto:?}");
        fe.set_protocol_features(opts.protocol).unwrap();
        assert!(fe.get_queue_num().unwrap() >= opts.queues as u64);

        let shmem = (opts.shmem_config && opts.protocol.contains(VhostUserProtocolFeatures::SHMEM))
            .then(|| fe.get_shmem_config().unwrap());

        let (tx, backend_msgs) = mpsc::channel();
        let map_gate = Arc::new(Gate::default());
        let backend_chan = opts
            .protocol
            .contains(VhostUserProtocolFeatures::BACKEND_REQ)
            .then(|| {
                let mut h =
                    FrontendReqHandler::new(Arc::new(Recorder(tx.clone(), map_gate.clone())))
                        .unwrap();
                h.set_reply_ack_flag(opts.protocol.contains(VhostUserProtocolFeatures::REPLY_ACK));
                fe.set_backend_request_fd(&h.get_tx_raw_fd()).unwrap();
                // SAFETY: `h` owns this socket and is alive here; it is only
                // borrowed to duplicate it.
                let ours = unsafe { BorrowedFd::borrow_raw(h.get_tx_raw_fd()) };
                let ours = UnixStream::from(ours.try_clone_to_owned().unwrap());
                let t = std::thread::spawn(move || loop {
                    if let Err(e) = h.handle_request() {
                        let _ = tx.send(BackendMsg::Failed(e.to_string()));
                        break;
                    }
                });
                (ours, t)
            });

        // Guest memory: a memfd, shared with the backend.
        let memfd =
            nix::sys::memfd::memfd_create("guest-ram", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap();
        let file = File::from(memfd);
        file.set_len(MEM_SIZE as u64).unwrap();
        let region = GuestRegionMmap::new(
            MmapRegion::from_file(FileOffset::new(file, 0), MEM_SIZE).unwrap(),
            GuestAddress(0),
        )
        .unwrap();
        let info = VhostUserMemoryRegionInfo::from_guest_region(&region).unwrap();
        let base = info.userspace_addr;
        let mem = GuestMemoryMmap::from_regions(vec![region]).unwrap();
        fe.set_mem_table(&[info]).unwrap();

        let queues: Vec<Vq> = (0..opts.queues).map(Vq::new).collect();
        for q in &queues {
            fe.set_vring_num(q.index, QSIZE).unwrap();
            fe.set_vring_addr(q.index, &q.config(base)).unwrap();
            fe.set_vring_base(q.index, 0).unwrap();
            fe.set_vring_call(q.index, &q.call).unwrap();
            fe.set_vring_kick(q.index, &q.kick).unwrap();
            fe.set_vring_enable(q.index, true).unwrap();
        }
        Vm {
            frontend: fe,
            mem,
            queues,
            backend_msgs,
            backend_chan,
            shmem,
            offered,
            features,
            map_gate,
            unique: 0,
        }
    }

    pub fn config(&mut self) -> Config {
        let size = std::mem::size_of::<Config>();
        let (_, data) = self
            .frontend
            .get_config(
                0,
                size as u32,
                VhostUserConfigFlags::empty(),
                &vec![0; size],
            )
            .unwrap();
        parse(&data)
    }

    /// Pushes a chain on queue `q` and waits for it to be used. Returns the
    /// used length and that many bytes of its writable buffers.
    pub fn submit_on(&mut self, q: usize, segs: &[Seg], indirect: bool) -> (u32, Vec<u8>) {
        let vq = &mut self.queues[q];
        let (head, writable) = vq.add(&self.mem, segs, indirect);
        let (id, len) = vq
            .wait_used(&self.mem, TIMEOUT)
            .unwrap_or_else(|| panic!("queue {q}: no reply to {segs:?} within {TIMEOUT:?}"));
        assert_eq!(id, u32::from(head), "queue {q}: used id");
        let total: u32 = writable.iter().map(|w| w.1).sum();
        assert!(len <= total, "used length {len} > writable {total}");
        let mut out = Vec::new();
        let mut poisoned = Vec::new();
        for (addr, n, p) in writable {
            let mut b = vec![0u8; n as usize];
            self.mem.read_slice(&mut b, GuestAddress(addr)).unwrap();
            out.extend_from_slice(&b);
            poisoned.extend(std::iter::repeat_n(p, n as usize));
        }
        let overrun = (len as usize..out.len()).find(|&i| poisoned[i] && out[i] != POISON);
        assert!(overrun.is_none(), "device wrote past its {len}-byte reply");
        out.truncate(len as usize);
        (len, out)
    }

    pub fn submit(&mut self, segs: &[Seg]) -> (u32, Vec<u8>) {
        self.submit_on(FIRST_REQUEST_QUEUE as usize, segs, false)
    }

    pub fn next_unique(&mut self) -> u64 {
        self.unique += 1;
        0x5eed_0000_0000 + self.unique
    }

    pub fn req_hdr(&mut self, opcode: u32, nodeid: u64, body_len: usize) -> ReqHdr {
        ReqHdr {
            opcode: opcode.into(),
            len: ((REQ + body_len) as u32).into(),
            unique: self.next_unique().into(),
            nodeid: nodeid.into(),
        }
    }

    /// Sends one request (header and body in separate descriptors, reply
    /// buffer of `resp_cap` bytes) and returns the reply header and payload.
    pub fn request(
        &mut self,
        opcode: u32,
        nodeid: u64,
        body: &[u8],
        resp_cap: u32,
    ) -> (RespHdr, Vec<u8>) {
        self.request_on(FIRST_REQUEST_QUEUE as usize, opcode, nodeid, body, resp_cap)
    }

    /// `request` on queue `q`.
    pub fn request_on(
        &mut self,
        q: usize,
        opcode: u32,
        nodeid: u64,
        body: &[u8],
        resp_cap: u32,
    ) -> (RespHdr, Vec<u8>) {
        let hdr = self.req_hdr(opcode, nodeid, body.len());
        let mut segs = vec![Seg::R(hdr.as_slice().to_vec())];
        if !body.is_empty() {
            segs.push(Seg::R(body.to_vec()));
        }
        segs.push(Seg::W(resp_cap));
        let (len, out) = self.submit_on(q, &segs, false);
        check_reply(&hdr, len, &out)
    }

    /// A request: Ok(payload) or Err(errno). Errors carry no payload.
    pub fn call(
        &mut self,
        opcode: u32,
        nodeid: u64,
        body: &[u8],
        cap: u32,
    ) -> Result<Vec<u8>, i32> {
        let (h, p) = self.request(opcode, nodeid, body, cap);
        match h.error.to_native() {
            0 => Ok(p),
            e => {
                assert!(p.is_empty(), "error {e} with a {}-byte payload", p.len());
                Err(e as i32)
            }
        }
    }

    pub fn init(&mut self) -> Result<InitOut, i32> {
        let inp = InitIn {
            major: VERSION_MAJOR.into(),
            minor: VERSION_MINOR.into(),
            ..Default::default()
        };
        self.call(OP_INIT, 0, inp.as_slice(), 256)
            .map(|p| parse_exact(&p))
    }

    pub fn statfs(&mut self) -> Result<StatfsOut, i32> {
        self.call(OP_STATFS, 0, &[], 256).map(|p| parse_exact(&p))
    }

    /// LOOKUP's attributes, whichever reply format was negotiated.
    pub fn lookup(&mut self, parent: u64, name: &(impl AsRef<[u8]> + ?Sized)) -> Result<Attr, i32> {
        if self.features & (1 << F_ENTRY_FMAP) != 0 {
            return self.lookup_entry(parent, name, 512).map(|(a, _)| a);
        }
        self.call(
            OP_LOOKUP,
            parent,
            &name_body(LookupIn::default(), name.as_ref()),
            256,
        )
        .map(|p| parse_exact(&p))
    }

    /// LOOKUP with F_ENTRY_FMAP negotiated, reply buffer of `cap` bytes:
    /// the attributes and the inline map's bytes (empty: none).
    pub fn lookup_entry(
        &mut self,
        parent: u64,
        name: &(impl AsRef<[u8]> + ?Sized),
        cap: u32,
    ) -> Result<(Attr, Vec<u8>), i32> {
        let p = self.call(
            OP_LOOKUP,
            parent,
            &name_body(LookupIn::default(), name.as_ref()),
            cap,
        )?;
        let e: EntryOut = parse(&p);
        let head = std::mem::size_of::<EntryOut>();
        assert_eq!(e.padding.to_native(), 0, "entry_out padding");
        assert_eq!(
            p.len(),
            head + e.fmap_len.to_native() as usize,
            "entry_out.fmap_len vs reply length"
        );
        Ok((e.attr, p[head..].to_vec()))
    }

    pub fn getattr(&mut self, node: u64) -> Result<Attr, i32> {
        self.call(OP_GETATTR, node, &[], 256)
            .map(|p| parse_exact(&p))
    }

    pub fn readdir(&mut self, node: u64, cookie: u64, cap: u32) -> Result<(u32, Vec<Entry>), i32> {
        let inp = ReaddirIn {
            cookie: cookie.into(),
        };
        let p = self.call(OP_READDIR, node, inp.as_slice(), cap)?;
        Ok(parse_readdir(&p))
    }

    pub fn readdirplus(
        &mut self,
        node: u64,
        cookie: u64,
        cap: u32,
    ) -> Result<(u32, Vec<EntryPlus>), i32> {
        let inp = ReaddirIn {
            cookie: cookie.into(),
        };
        let p = self.call(OP_READDIRPLUS, node, inp.as_slice(), cap)?;
        Ok(parse_readdirplus(&p))
    }

    /// GET_FMAP of a simple map: (error, fmap_out, extents); fmap_out is
    /// zero if absent.
    pub fn get_fmap(&mut self, node: u64, cap: u32) -> (i32, FmapOut, Vec<(u64, u64)>) {
        let (err, out, chunk, exts) = self.get_fmap_any(node, cap);
        assert_eq!(chunk, None, "interleaved reply");
        (err, out, exts)
    }

    /// GET_FMAP of any map: (error, fmap_out, chunk size if interleaved,
    /// extents or strips).
    pub fn get_fmap_any(
        &mut self,
        node: u64,
        cap: u32,
    ) -> (i32, FmapOut, Option<u64>, Vec<(u64, u64)>) {
        let (h, p) = self.request(OP_GET_FMAP, node, &[], cap);
        let err = h.error.to_native() as i32;
        let mut head = std::mem::size_of::<FmapOut>();
        if p.len() < head {
            assert!(p.is_empty(), "partial fmap_out");
            return (err, zeroed(), None, Vec::new());
        }
        let out: FmapOut = parse(&p);
        let mut chunk = None;
        if err == 0 && out.kind.to_native() == FMAP_INTERLEAVED {
            let ie: FmapInterleave = parse(&p[head..]);
            chunk = Some(ie.chunk_size.to_native());
            head += std::mem::size_of::<FmapInterleave>();
        } else {
            let kind = out.kind.to_native();
            assert!(
                kind == FMAP_SIMPLE || kind == FMAP_INTERLEAVED,
                "kind {kind}"
            );
        }
        assert_eq!((p.len() - head) % 16, 0);
        let exts = p[head..]
            .chunks(std::mem::size_of::<Extent>())
            .map(|c| {
                let e: Extent = parse(c);
                (e.offset.to_native(), e.len.to_native())
            })
            .collect();
        (err, out, chunk, exts)
    }

    pub fn create(&mut self, parent: u64, name: &str, size: u64) -> Result<Attr, i32> {
        let inp = CreateIn {
            mode: (S_IFREG | 0o640).into(),
            uid: 7.into(),
            gid: 8.into(),
            size: size.into(),
            ..Default::default()
        };
        self.call(OP_CREATE, parent, &name_body(inp, name.as_bytes()), 256)
            .map(|p| parse_exact(&p))
    }

    pub fn mkdir(&mut self, parent: u64, name: &str) -> Result<Attr, i32> {
        let inp = MkdirIn {
            mode: 0o711.into(),
            uid: 7.into(),
            gid: 8.into(),
            ..Default::default()
        };
        self.call(OP_MKDIR, parent, &name_body(inp, name.as_bytes()), 256)
            .map(|p| parse_exact(&p))
    }

    /// The next message of the backend channel.
    pub fn backend_msg(&self) -> BackendMsg {
        self.backend_msgs
            .recv_timeout(TIMEOUT)
            .expect("no message on the backend channel")
    }

    pub fn no_backend_msg(&self) {
        match self.backend_msgs.try_recv() {
            Err(_) => {}
            Ok(BackendMsg::Map(m, _)) => panic!("unexpected SHMEM_MAP {m:?}"),
            Ok(BackendMsg::Unmap(m)) => panic!("unexpected SHMEM_UNMAP {m:?}"),
            Ok(BackendMsg::Failed(e)) => panic!("backend channel failed: {e}"),
        }
    }

    /// Posts a notification buffer on queue 0 (split over two
    /// descriptors, as a driver may post it); returns its head.
    pub fn post_notify_buffer(&mut self) -> (u16, Vec<(u64, u32, bool)>) {
        let q = &mut self.queues[NOTIFY_QUEUE as usize];
        q.add(&self.mem, &[Seg::W(8), Seg::W(24)], false)
    }

    /// Waits for a notification in the buffer `posted`.
    pub fn wait_notify(
        &mut self,
        posted: &(u16, Vec<(u64, u32, bool)>),
        timeout: Duration,
    ) -> Option<Notify> {
        let q = &mut self.queues[NOTIFY_QUEUE as usize];
        let (id, len) = q.wait_used(&self.mem, timeout)?;
        assert_eq!(id, u32::from(posted.0));
        assert_eq!(len as usize, std::mem::size_of::<Notify>());
        let mut b = Vec::new();
        for &(addr, n, _) in &posted.1 {
            let mut part = vec![0u8; n as usize];
            self.mem.read_slice(&mut part, GuestAddress(addr)).unwrap();
            b.extend(part);
        }
        Some(parse(&b))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some((sock, thread)) = self.backend_chan.take() {
            // Unblocks the handler thread's recv.
            let _ = sock.shutdown(std::net::Shutdown::Both);
            let _ = thread.join();
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub nodeid: u64,
    pub cookie: u64,
    pub dtype: u32,
    /// The name's bytes as the device sent them.
    pub name: Vec<u8>,
}

pub fn parse<T: ByteValued>(b: &[u8]) -> T {
    let mut v: T = zeroed();
    let n = std::mem::size_of::<T>();
    assert!(b.len() >= n, "{} bytes, {} needed", b.len(), n);
    v.as_mut_slice().copy_from_slice(&b[..n]);
    v
}

/// A reply payload that must be exactly one `T`.
pub fn parse_exact<T: ByteValued>(b: &[u8]) -> T {
    assert_eq!(b.len(), std::mem::size_of::<T>(), "reply payload length");
    parse(b)
}

pub fn parse_readdir(p: &[u8]) -> (u32, Vec<Entry>) {
    parse_listing(p, "READDIR", |e| {
        let d: Dirent = parse(e);
        let at = std::mem::size_of::<Dirent>();
        let (name, end) = padded_name(e, at, d.namelen.to_native(), "dirent padding");
        let entry = Entry {
            nodeid: d.nodeid.to_native(),
            cookie: d.cookie.to_native(),
            dtype: d.type_.to_native(),
            name,
        };
        (entry, end)
    })
}

/// A READDIR or READDIRPLUS reply: `ReaddirOut`, then its entries, each
/// read by `entry` from where it starts, which also says its length;
/// checks the framing and returns the flags and the entries.
fn parse_listing<E>(
    p: &[u8],
    op: &str,
    mut entry: impl FnMut(&[u8]) -> (E, usize),
) -> (u32, Vec<E>) {
    let out: ReaddirOut = parse(p);
    let mut at = std::mem::size_of::<ReaddirOut>();
    let mut entries = Vec::new();
    for _ in 0..out.nentries.to_native() {
        let (e, len) = entry(&p[at..]);
        at += len;
        entries.push(e);
    }
    assert_eq!(at, p.len(), "{op} reply length");
    let flags = out.flags.to_native();
    assert!(
        flags & READDIR_F_EOF != 0 || !entries.is_empty(),
        "no EOF, no entry"
    );
    (flags, entries)
}

/// The name of `namelen` bytes at `at` in an entry, and where its zero
/// padding to 8 bytes ends.
fn padded_name(e: &[u8], at: usize, namelen: u32, padding: &str) -> (Vec<u8>, usize) {
    let n = namelen as usize;
    assert!((1..=79).contains(&n), "namelen {n}");
    let name = e[at..at + n].to_vec();
    let end = at + n.next_multiple_of(8);
    assert!(e[at + n..end].iter().all(|&b| b == 0), "{padding}");
    (name, end)
}

/// One READDIRPLUS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPlus {
    pub attr: Attr,
    pub cookie: u64,
    pub dtype: u32,
    pub name: Vec<u8>,
    /// The inline map's bytes (empty: none).
    pub fmap: Vec<u8>,
}

/// Parses a READDIRPLUS reply, checking its framing.
pub fn parse_readdirplus(p: &[u8]) -> (u32, Vec<EntryPlus>) {
    parse_listing(p, "READDIRPLUS", |e| {
        let d: DirentPlus = parse(e);
        assert_eq!(d.padding.to_native(), 0, "direntplus padding");
        let at = std::mem::size_of::<DirentPlus>();
        let (name, end) = padded_name(e, at, d.namelen.to_native(), "name padding");
        let flen = d.fmap_len.to_native() as usize;
        assert_eq!(flen % 8, 0, "fmap_len {flen}");
        assert!(end + flen <= e.len(), "entry straddles the reply end");
        let entry = EntryPlus {
            attr: d.attr,
            cookie: d.cookie.to_native(),
            dtype: d.type_.to_native(),
            name,
            fmap: e[end..end + flen].to_vec(),
        };
        (entry, end + flen)
    })
}

/// An op-specific struct whose `namelen` is set, followed by the name.
pub fn name_body<T: ByteValued>(mut inp: T, name: &[u8]) -> Vec<u8> {
    // namelen is the 4 bytes before padding in LookupIn, the last field
    // of MkdirIn, and at offset 24 of CreateIn.
    let at = match std::mem::size_of::<T>() {
        8 => 0,
        16 => 12,
        32 => 24,
        n => panic!("no namelen in a {n}-byte struct"),
    };
    inp.as_mut_slice()[at..at + 4].copy_from_slice(&(name.len() as u32).to_le_bytes());
    let mut body = inp.as_slice().to_vec();
    body.extend_from_slice(name);
    body
}

/// Checks a reply against its request: used length, header length, unique.
pub fn check_reply(req: &ReqHdr, used: u32, out: &[u8]) -> (RespHdr, Vec<u8>) {
    assert!(
        used as usize >= HDR,
        "used length {used}: no response header"
    );
    let h: RespHdr = parse(out);
    assert_eq!(h.len.to_native(), used, "RespHdr.len vs used length");
    assert_eq!(h.unique.to_native(), req.unique.to_native(), "unique");
    assert!(h.error.to_native() < 4096, "error {}", h.error.to_native());
    (h, out[HDR..].to_vec())
}

/// Reads a whole directory with READDIR replies of `cap` bytes; returns
/// the entries and the number of replies.
pub fn read_all(vm: &mut Vm, dir: u64, cap: u32) -> (Vec<Entry>, usize) {
    read_listing(
        "READDIR",
        |cookie| vm.readdir(dir, cookie, cap).unwrap(),
        |e| e.cookie,
    )
}

/// Reads a whole directory one reply at a time until EOF: `reply(c)` is
/// the reply from cookie `c` on, `cookie(e)` the cookie of entry `e`.
/// Returns the entries and the number of replies.
pub fn read_listing<E>(
    op: &str,
    mut reply: impl FnMut(u64) -> (u32, Vec<E>),
    cookie: impl Fn(&E) -> u64,
) -> (Vec<E>, usize) {
    let mut all: Vec<E> = Vec::new();
    let mut at = 0;
    for replies in 1..1000 {
        let (flags, entries) = reply(at);
        if let Some(last) = entries.last() {
            at = cookie(last);
        }
        all.extend(entries);
        if flags & READDIR_F_EOF != 0 {
            return (all, replies);
        }
    }
    panic!("{op} never reached EOF");
}

/// A daemon serving `sock` alone, and a VMM connected to it.
pub fn serve(fs: &Arc<Famfs>, sock: &SocketSpec, opts: Opts) -> (Running, Vm) {
    let srv = Running::start(fs, std::slice::from_ref(sock));
    let vm = Vm::connect(&sock.path, opts);
    (srv, vm)
}

pub fn stop(srv: Running, vm: Vm) {
    vm.no_backend_msg();
    drop(vm);
    srv.stop();
}
