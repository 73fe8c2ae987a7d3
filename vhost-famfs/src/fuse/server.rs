// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The FUSE server of the virtio-fs front door: decodes one request from
//! a descriptor chain, runs it against the file-system layer, encodes the
//! reply.
//!
//! Everything here is guest input: every length is checked before use,
//! every failure is an errno reply, never a panic. Requests the Linux
//! virtio-fs driver sends are answered; any other opcode gets ENOSYS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vm_memory::ByteValued;

use super::abi::*;
use super::cache::CachePolicy;
use super::chain::{ChainReader, ChainWriter};
use super::pending::Pending;
use crate::filesystem::{guest_name, FileSystem, FsResult, NewEntry, Stat};
use crate::meta::namespace::{S_IFMT, S_IFREG};
use crate::server::Access;
use crate::status::{SocketStats, FUSE_OPS};

/// Largest READ or WRITE payload announced (max_pages 4 KiB pages).
pub const MAX_PAGES_ANNOUNCED: u16 = 256;
pub const MAX_WRITE: u32 = MAX_PAGES_ANNOUNCED as u32 * 4096;
/// Oldest protocol minor version served (virtio-fs itself needs 7.31).
pub const MIN_MINOR: u32 = 27;

const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;

/// SETUPMAPPING / REMOVEMAPPING, i.e. the DAX window. Copy mode has none
/// and answers ENOSYS; a window implementation maps device ranges there.
pub trait DaxWindow: Send + Sync {
    /// `map_alignment` for FUSE_INIT (log2 of the range size), or None
    /// when there is no window (no FUSE_MAP_ALIGNMENT announced).
    fn map_alignment(&self) -> Option<u16>;
    /// Maps `inp.len` bytes of file `ino` from `inp.foffset` at window
    /// offset `inp.moffset` (`fs.fmap(ino)` gives its device extents).
    fn setup_mapping(
        &self,
        fs: &dyn FileSystem,
        ino: u64,
        inp: &SetupmappingIn,
        access: Access,
    ) -> FsResult<()>;
    fn remove_mapping(&self, ranges: &[RemovemappingOne]) -> FsResult<()>;
    /// The device was reset or stopped (the VMM dropped every mapping):
    /// forget them. Runs on frontend-request callbacks too.
    fn reset(&self) {}
    /// The guest unmounted (DESTROY) or mounts again (INIT): give every
    /// mapping back. Runs on a request queue's worker.
    fn unmount(&self) {
        self.reset();
    }
}

/// No window: copy mode.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWindow;

impl DaxWindow for NoWindow {
    fn map_alignment(&self) -> Option<u16> {
        None
    }
    fn setup_mapping(
        &self,
        _: &dyn FileSystem,
        _: u64,
        _: &SetupmappingIn,
        _: Access,
    ) -> FsResult<()> {
        Err(libc::ENOSYS)
    }
    fn remove_mapping(&self, _: &[RemovemappingOne]) -> FsResult<()> {
        Err(libc::ENOSYS)
    }
}

/// What a handler returns: a reply payload, no reply at all (FORGET,
/// INTERRUPT), or a reply already written, of that many bytes (READ).
enum Reply {
    Data(Vec<u8>),
    None,
    Used(u32),
}

type Res = FsResult<Reply>;

fn data<T: ByteValued>(v: &T) -> Res {
    Ok(Reply::Data(v.as_slice().to_vec()))
}

fn empty() -> Res {
    Ok(Reply::Data(Vec::new()))
}

/// Serves one virtio-fs connection.
pub struct FuseServer<F: FileSystem, D: DaxWindow = NoWindow> {
    fs: F,
    dax: D,
    cache: CachePolicy,
    pending: Pending,
    /// INIT answered and no DESTROY since.
    ready: AtomicBool,
    /// The guest allows shared mmap of FOPEN_DIRECT_IO files.
    direct_mmap: AtomicBool,
    /// The socket's request counters (`status`).
    stats: Arc<SocketStats>,
}

impl<F: FileSystem, D: DaxWindow> FuseServer<F, D> {
    pub fn new(fs: F, dax: D, cache: CachePolicy) -> Self {
        FuseServer {
            fs,
            dax,
            cache,
            pending: Pending::default(),
            ready: AtomicBool::new(false),
            direct_mmap: AtomicBool::new(false),
            stats: Arc::new(SocketStats::new(FUSE_OPS)),
        }
    }

    /// Counts this connection's requests in `stats` (shared by the
    /// socket's successive connections; made with `FUSE_OPS`).
    pub fn with_stats(mut self, stats: Arc<SocketStats>) -> Self {
        self.stats = stats;
        self
    }

    pub fn filesystem(&self) -> &F {
        &self.fs
    }

    pub fn window(&self) -> &D {
        &self.dax
    }

    pub fn cache(&self) -> CachePolicy {
        self.cache
    }

    /// The device was reset: the guest must INIT again.
    pub fn reset(&self) {
        self.ready.store(false, Ordering::Release);
        self.pending.clear();
        self.dax.reset();
    }

    /// Serves the request in `r`, writing the reply to `w`. Returns the
    /// bytes written: 0 for requests without reply and for chains whose
    /// writable part cannot hold a reply header.
    pub fn handle(&self, r: &mut ChainReader<'_>, w: &mut ChainWriter<'_>) -> u32 {
        let hdr_len = std::mem::size_of::<OutHeader>();
        if w.is_poisoned() {
            log::debug!("descriptor chain with a readable buffer after a writable one");
            self.stats.request(None, true);
            return 0;
        }
        let total = r.available();
        let Ok(h) = r.read_obj::<InHeader>() else {
            log::debug!("request of {total} bytes has no header");
            self.stats.request(None, true);
            return reply(w, 0, Err(libc::EINVAL));
        };
        // The driver never waits for a reply to these, not even an error.
        let quiet = matches!(h.opcode, FORGET | BATCH_FORGET | INTERRUPT);
        if h.len as usize != total {
            log::debug!("request length {} but chain holds {total}", h.len);
            return if quiet {
                0
            } else {
                self.stats.request(Some(h.opcode), true);
                reply(w, h.unique, Err(libc::EINVAL))
            };
        }
        if !quiet && w.available() < hdr_len {
            log::debug!("reply buffer cannot hold a header");
            return 0;
        }
        let res = self.dispatch(&h, r, w);
        if quiet {
            return 0;
        }
        self.stats.request(Some(h.opcode), res.is_err());
        match res {
            Ok(Reply::None) => 0,
            Ok(Reply::Used(n)) => n,
            other => reply(w, h.unique, other),
        }
    }

    fn dispatch(&self, h: &InHeader, r: &mut ChainReader<'_>, w: &mut ChainWriter<'_>) -> Res {
        let id = h.nodeid;
        match h.opcode {
            FORGET => {
                let f: ForgetIn = r.read_obj()?;
                self.forget(id, f.nlookup);
                return Ok(Reply::None);
            }
            BATCH_FORGET => {
                self.batch_forget(r)?;
                return Ok(Reply::None);
            }
            // Interrupts are not needed: requests are served in order.
            INTERRUPT => return Ok(Reply::None),
            INIT => return self.init(r),
            _ => {}
        }
        if !self.ready.load(Ordering::Acquire) {
            return Err(libc::EIO);
        }
        self.fs.check_live()?;
        match h.opcode {
            LOOKUP => self.lookup(id, r),
            GETATTR => {
                let _: GetattrIn = r.read_obj()?;
                self.attr_reply(id)
            }
            SETATTR => self.setattr(id, r),
            OPEN => self.open(id, r),
            OPENDIR => self.opendir(id, r),
            READ => self.read(h, r, w),
            WRITE => self.write(id, r),
            READDIR => self.readdir(id, r, false),
            READDIRPLUS => self.readdir(id, r, true),
            // Nothing to do for these, but the node must be one this guest
            // may name, as for every other request.
            RELEASE | RELEASEDIR => {
                let _: ReleaseIn = r.read_obj()?;
                self.stat(id)?;
                empty()
            }
            FLUSH => {
                let _: FlushIn = r.read_obj()?;
                self.stat(id)?;
                empty()
            }
            FSYNC | FSYNCDIR => {
                let _: FsyncIn = r.read_obj()?;
                self.stat(id)?;
                empty()
            }
            SYNCFS => {
                let _: SyncfsIn = r.read_obj()?;
                empty()
            }
            STATFS => self.statfs(),
            CREATE => self.create(id, h, r),
            MKDIR => self.mkdir(id, h, r),
            FALLOCATE => self.fallocate(id, r),
            LSEEK => self.lseek(id, r),
            SETUPMAPPING => {
                let inp: SetupmappingIn = r.read_obj()?;
                let ino = self.famfs_id(id)?.ok_or(libc::EINVAL)?;
                // Checked before any window is touched: a node the socket
                // may not open (outside its export) is never mapped.
                if !self.fs.exports(ino) {
                    return Err(libc::ESTALE);
                }
                self.dax
                    .setup_mapping(&self.fs, ino, &inp, self.fs.access())?;
                empty()
            }
            REMOVEMAPPING => self.removemapping(r),
            DESTROY => {
                self.ready.store(false, Ordering::Release);
                self.pending.clear();
                self.dax.unmount();
                empty()
            }
            op => {
                log::debug!("FUSE opcode {op} not supported");
                Err(libc::ENOSYS)
            }
        }
    }

    fn init(&self, r: &mut ChainReader<'_>) -> Res {
        if r.available() < INIT_IN_MIN {
            return Err(libc::EINVAL);
        }
        let mut inp = InitIn::default();
        let n = r.available().min(std::mem::size_of::<InitIn>());
        r.read_exact(&mut inp.as_mut_slice()[..n])?;
        if inp.major < KERNEL_VERSION {
            log::warn!("guest speaks FUSE {}.{}: too old", inp.major, inp.minor);
            return Err(libc::EPROTO);
        }
        let mut out = InitOut {
            major: KERNEL_VERSION,
            minor: KERNEL_MINOR_VERSION,
            ..Default::default()
        };
        if inp.major > KERNEL_VERSION {
            // The guest will ask again with our major version.
            return Ok(Reply::Data(out.as_slice()[..8].to_vec()));
        }
        if inp.minor < MIN_MINOR {
            log::warn!("guest speaks FUSE 7.{}: 7.{MIN_MINOR} needed", inp.minor);
            return Err(libc::EPROTO);
        }
        let mut want = BIG_WRITES | DO_READDIRPLUS | READDIRPLUS_AUTO | PARALLEL_DIROPS | MAX_PAGES;
        if self.dax.map_alignment().is_some() {
            want |= MAP_ALIGNMENT;
        }
        let ext = inp.flags & INIT_EXT != 0 && n >= 24;
        let mut flags2 = 0;
        if ext {
            want |= INIT_EXT;
            flags2 = inp.flags2 & DIRECT_IO_ALLOW_MMAP_FLAGS2;
        }
        out.flags = inp.flags & want;
        out.flags2 = flags2;
        out.max_readahead = inp.max_readahead;
        out.max_background = 64;
        out.congestion_threshold = 48;
        out.max_write = MAX_WRITE;
        out.time_gran = 1;
        out.max_pages = MAX_PAGES_ANNOUNCED;
        out.map_alignment = self.dax.map_alignment().unwrap_or(0);
        self.direct_mmap
            .store(flags2 & DIRECT_IO_ALLOW_MMAP_FLAGS2 != 0, Ordering::Release);
        self.fs.refresh();
        self.pending.clear();
        // A guest mounting again without DESTROY left its mappings behind.
        self.dax.unmount();
        self.ready.store(true, Ordering::Release);
        log::info!(
            "FUSE {}.{} guest initialized (cache {:?}, flags {:#x}/{:#x})",
            inp.major,
            inp.minor,
            self.cache,
            out.flags,
            out.flags2
        );
        let size = if inp.minor < MINOR_FULL_INIT_OUT {
            COMPAT_22_INIT_OUT_SIZE
        } else {
            std::mem::size_of::<InitOut>()
        };
        Ok(Reply::Data(out.as_slice()[..size].to_vec()))
    }

    /// The famfs node id behind wire node id `id`: None for a reserved
    /// file not yet sized; ESTALE for an id this connection never gave.
    fn famfs_id(&self, id: u64) -> FsResult<Option<u64>> {
        if !Pending::is_pending_id(id) {
            return Ok(Some(id));
        }
        match self.pending.get(id) {
            Some(r) => Ok(r.committed),
            None => Err(libc::ESTALE),
        }
    }

    /// The attributes of wire node `id` (a reserved file is empty).
    fn stat(&self, id: u64) -> FsResult<Stat> {
        match self.famfs_id(id)? {
            Some(ino) => self.fs.getattr(ino),
            None => {
                let r = self.pending.get(id).ok_or(libc::ESTALE)?;
                Ok(Stat {
                    ino: id,
                    size: 0,
                    blocks: 0,
                    generation: 0,
                    mode: S_IFREG | (r.new.perm & 0o7777),
                    uid: r.new.uid,
                    gid: r.new.gid,
                    nlink: 1,
                    all_hosts_ro: false,
                })
            }
        }
    }

    fn fuse_attr(&self, st: &Stat) -> Attr {
        Attr {
            ino: st.ino,
            size: st.size,
            blocks: st.blocks,
            mode: st.mode,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            blksize: 4096,
            ..Default::default()
        }
    }

    /// An entry reply for `st`, under the node id the guest knows it by.
    fn entry(&self, st: &Stat) -> EntryOut {
        let t = self.cache.timeout();
        let nodeid = match self.pending.alias_of(st.ino) {
            Some(alias) => {
                self.pending.looked_up(alias);
                alias
            }
            None => st.ino,
        };
        EntryOut {
            nodeid,
            generation: st.generation,
            entry_valid: t.as_secs(),
            attr_valid: t.as_secs(),
            entry_valid_nsec: t.subsec_nanos(),
            attr_valid_nsec: t.subsec_nanos(),
            attr: self.fuse_attr(st),
        }
    }

    fn attr_reply(&self, id: u64) -> Res {
        let st = self.stat(id)?;
        let t = self.cache.timeout();
        data(&AttrOut {
            attr_valid: t.as_secs(),
            attr_valid_nsec: t.subsec_nanos(),
            dummy: 0,
            attr: self.fuse_attr(&st),
        })
    }

    fn forget(&self, id: u64, n: u64) {
        if Pending::is_pending_id(id) {
            self.pending.forget(id, n);
        }
    }

    fn batch_forget(&self, r: &mut ChainReader<'_>) -> FsResult<()> {
        let b: BatchForgetIn = r.read_obj()?;
        // The count is the guest's word: never trust it past the bytes.
        let room = r.available() / std::mem::size_of::<ForgetOne>();
        for _ in 0..(b.count as usize).min(room) {
            let one: ForgetOne = r.read_obj()?;
            self.forget(one.nodeid, one.nlookup);
        }
        Ok(())
    }

    fn lookup(&self, parent: u64, r: &mut ChainReader<'_>) -> Res {
        let name = read_cname(r)?;
        let parent = self.famfs_id(parent)?.ok_or(libc::ENOTDIR)?;
        if let Some(id) = self.pending.find(parent, &name) {
            self.pending.looked_up(id);
            let mut e = self.entry(&self.stat(id)?);
            e.nodeid = id;
            return data(&e);
        }
        let st = self.fs.lookup(parent, &name)?;
        data(&self.entry(&st))
    }

    fn setattr(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let inp: SetattrIn = r.read_obj()?;
        if inp.valid & (FATTR_MODE | FATTR_UID | FATTR_GID) != 0 {
            // famfs keeps the mode and owner a file was created with.
            return Err(libc::EPERM);
        }
        if inp.valid & FATTR_SIZE != 0 {
            self.set_size(id, inp.size)?;
        }
        // Times are not stored by famfs: accepted and ignored.
        self.attr_reply(id)
    }

    /// Sizes a reserved file (appending its log entry) or accepts the
    /// size a file already has; famfs files never change size.
    fn set_size(&self, id: u64, size: u64) -> FsResult<()> {
        match self.famfs_id(id)? {
            None if size == 0 => Ok(()),
            None => {
                let res = self.pending.get(id).ok_or(libc::ESTALE)?;
                let st = self.fs.create(res.parent, &res.name, size, res.new)?;
                self.pending.commit(id, st.ino);
                Ok(())
            }
            Some(ino) => {
                let st = self.fs.getattr(ino)?;
                if st.is_dir() {
                    Err(libc::EISDIR)
                } else if st.size == size {
                    Ok(())
                } else {
                    Err(libc::EPERM)
                }
            }
        }
    }

    fn open(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let inp: OpenIn = r.read_obj()?;
        let st = self.stat(id)?;
        if st.is_dir() {
            return Err(libc::EISDIR);
        }
        let writing = inp.flags as i32 & libc::O_ACCMODE != libc::O_RDONLY;
        if writing {
            self.check_writable(&st)?;
        }
        data(&OpenOut {
            fh: 0,
            open_flags: self
                .cache
                .open_flags(self.direct_mmap.load(Ordering::Acquire)),
            padding: 0,
        })
    }

    fn check_writable(&self, st: &Stat) -> FsResult<()> {
        if self.fs.access() == Access::ReadOnly {
            Err(libc::EROFS)
        } else if st.all_hosts_ro {
            Err(libc::EACCES)
        } else {
            Ok(())
        }
    }

    fn opendir(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let _: OpenIn = r.read_obj()?;
        let st = self.stat(id)?;
        if !st.is_dir() {
            return Err(libc::ENOTDIR);
        }
        data(&OpenOut {
            fh: 0,
            open_flags: self.cache.opendir_flags(),
            padding: 0,
        })
    }

    /// READ: the data goes from the device mapping straight into the
    /// reply buffers, behind a header written last.
    fn read(&self, h: &InHeader, r: &mut ChainReader<'_>, w: &mut ChainWriter<'_>) -> Res {
        let inp: ReadIn = r.read_obj()?;
        let hdr_len = std::mem::size_of::<OutHeader>();
        let Some(ino) = self.famfs_id(h.nodeid)? else {
            return empty();
        };
        let want = (inp.size as usize)
            .min(MAX_WRITE as usize)
            .min(w.available().saturating_sub(hdr_len));
        let mut hdr_w = w.split_front(hdr_len)?;
        let (len, error) = match self
            .fs
            .read(ino, inp.offset, want, &mut |s| w.copy_from_slice(s))
        {
            Ok(n) => (hdr_len + n, 0),
            Err(e) => (hdr_len, -e),
        };
        hdr_w.write_obj(&OutHeader {
            len: len as u32,
            error,
            unique: h.unique,
        })?;
        Ok(Reply::Used(len as u32))
    }

    fn write(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let inp: WriteIn = r.read_obj()?;
        let len = inp.size as usize;
        if len > r.available() {
            return Err(libc::EINVAL);
        }
        let st = self.stat(id)?;
        self.check_writable(&st)?;
        let Some(ino) = self.famfs_id(id)? else {
            // Not sized yet: famfs files never grow.
            return if len == 0 {
                data(&WriteOut::default())
            } else {
                Err(libc::ENOSPC)
            };
        };
        let n = self
            .fs
            .write(ino, inp.offset, len, &mut |s| r.copy_to_slice(s))?;
        data(&WriteOut {
            size: n as u32,
            padding: 0,
        })
    }

    fn readdir(&self, id: u64, r: &mut ChainReader<'_>, plus: bool) -> Res {
        let inp: ReadIn = r.read_obj()?;
        let dir = self.famfs_id(id)?.ok_or(libc::ENOTDIR)?;
        let cap = (inp.size as usize).min(MAX_WRITE as usize);
        let mut out = Vec::new();
        self.fs.readdir(dir, inp.offset, &mut |name, st| {
            let head = if plus {
                std::mem::size_of::<Direntplus>()
            } else {
                std::mem::size_of::<Dirent>()
            };
            let size = head + name.len().next_multiple_of(8);
            if out.len() + size > cap {
                return false;
            }
            let d = Dirent {
                ino: st.ino,
                off: st.ino,
                namelen: name.len() as u32,
                type_: if st.is_dir() {
                    libc::DT_DIR
                } else {
                    libc::DT_REG
                }
                .into(),
            };
            if plus {
                let p = Direntplus {
                    entry_out: self.entry(st),
                    dirent: d,
                };
                out.extend_from_slice(p.as_slice());
            } else {
                out.extend_from_slice(d.as_slice());
            }
            out.extend_from_slice(name);
            out.resize(out.len().next_multiple_of(8), 0);
            true
        })?;
        Ok(Reply::Data(out))
    }

    fn statfs(&self) -> Res {
        let s = self.fs.statfs()?;
        let u = s.usage;
        let bsize = u64::from(s.bsize.max(1));
        let st = Kstatfs {
            blocks: u.total_bytes / bsize,
            bfree: u.free_bytes / bsize,
            bavail: u.free_bytes / bsize,
            files: u.files + u.dirs,
            ffree: u.log_slots.saturating_sub(u.log_used),
            bsize: s.bsize,
            namelen: s.namelen,
            frsize: s.bsize,
            ..Default::default()
        };
        data(&StatfsOut { st })
    }

    fn create(&self, parent: u64, h: &InHeader, r: &mut ChainReader<'_>) -> Res {
        let inp: CreateIn = r.read_obj()?;
        let name = read_cname(r)?;
        let parent = self.famfs_id(parent)?.ok_or(libc::ENOTDIR)?;
        if self.fs.access() != Access::Master {
            return Err(libc::EROFS);
        }
        let mode = inp.mode & !inp.umask;
        if mode & S_IFMT != 0 && mode & S_IFMT != S_IFREG {
            return Err(libc::EINVAL);
        }
        guest_name(&name)?;
        match self.fs.lookup(parent, &name) {
            Ok(_) => return Err(libc::EEXIST),
            Err(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let new = NewEntry {
            perm: mode & 0o7777,
            uid: h.uid,
            gid: h.gid,
        };
        let id = self.pending.reserve(parent, &name, new)?;
        let mut e = self.entry(&self.stat(id)?);
        e.nodeid = id;
        let o = OpenOut {
            fh: 0,
            open_flags: self
                .cache
                .open_flags(self.direct_mmap.load(Ordering::Acquire)),
            padding: 0,
        };
        let mut out = e.as_slice().to_vec();
        out.extend_from_slice(o.as_slice());
        Ok(Reply::Data(out))
    }

    fn mkdir(&self, parent: u64, h: &InHeader, r: &mut ChainReader<'_>) -> Res {
        let inp: MkdirIn = r.read_obj()?;
        let name = read_cname(r)?;
        let parent = self.famfs_id(parent)?.ok_or(libc::ENOTDIR)?;
        let new = NewEntry {
            perm: inp.mode & !inp.umask & 0o7777,
            uid: h.uid,
            gid: h.gid,
        };
        let st = self.fs.mkdir(parent, &name, new)?;
        data(&self.entry(&st))
    }

    fn fallocate(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let inp: FallocateIn = r.read_obj()?;
        if inp.mode != 0 {
            return Err(libc::EOPNOTSUPP);
        }
        let end = inp.offset.checked_add(inp.length).ok_or(libc::EFBIG)?;
        if inp.length == 0 {
            return Err(libc::EINVAL);
        }
        match self.famfs_id(id)? {
            None => self.set_size(id, end)?,
            Some(ino) => {
                let st = self.fs.getattr(ino)?;
                if st.is_dir() {
                    return Err(libc::EISDIR);
                }
                if end > st.size {
                    return Err(libc::EPERM);
                }
            }
        }
        empty()
    }

    fn lseek(&self, id: u64, r: &mut ChainReader<'_>) -> Res {
        let inp: LseekIn = r.read_obj()?;
        let size = self.stat(id)?.size;
        // A famfs file is data from 0 to its size, without holes.
        let offset = match inp.whence {
            SEEK_DATA if inp.offset < size => inp.offset,
            SEEK_HOLE if inp.offset < size => size,
            SEEK_DATA | SEEK_HOLE => return Err(libc::ENXIO),
            _ => return Err(libc::EINVAL),
        };
        data(&LseekOut { offset })
    }

    fn removemapping(&self, r: &mut ChainReader<'_>) -> Res {
        let inp: RemovemappingIn = r.read_obj()?;
        let count = inp.count as usize;
        let one = std::mem::size_of::<RemovemappingOne>();
        if count == 0 || count > REMOVEMAPPING_MAX_ENTRY || count * one > r.available() {
            return Err(libc::EINVAL);
        }
        let ranges = (0..count)
            .map(|_| r.read_obj::<RemovemappingOne>())
            .collect::<FsResult<Vec<_>>>()?;
        self.dax.remove_mapping(&ranges)?;
        empty()
    }
}

/// Reads a NUL-terminated name (what follows may be request extensions).
fn read_cname(r: &mut ChainReader<'_>) -> FsResult<Vec<u8>> {
    let n = r.available().min(crate::protocol::NAME_MAX as usize + 1);
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    let end = match buf.iter().position(|&b| b == 0) {
        Some(end) => end,
        None if n > crate::protocol::NAME_MAX as usize => return Err(libc::ENAMETOOLONG),
        None => return Err(libc::EINVAL),
    };
    buf.truncate(end);
    if buf.is_empty() {
        return Err(libc::EINVAL);
    }
    Ok(buf)
}

/// Writes a reply header and payload (an error: the header alone).
fn reply(w: &mut ChainWriter<'_>, unique: u64, res: Res) -> u32 {
    let hdr_len = std::mem::size_of::<OutHeader>();
    let (error, payload) = match res {
        Ok(Reply::Data(p)) => (0, p),
        Ok(Reply::None) => return 0,
        Ok(Reply::Used(n)) => return n,
        Err(e) => (-e, Vec::new()),
    };
    let (error, payload) = if hdr_len + payload.len() > w.available() {
        (-libc::ERANGE, Vec::new())
    } else {
        (error, payload)
    };
    if w.available() < hdr_len {
        return 0;
    }
    let hdr = OutHeader {
        len: (hdr_len + payload.len()) as u32,
        error,
        unique,
    };
    if w.write_obj(&hdr)
        .and_then(|_| w.write_all(&payload))
        .is_err()
    {
        log::debug!("writing the reply failed");
    }
    w.written() as u32
}
