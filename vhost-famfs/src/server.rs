// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-famfs request server: decodes a request from a descriptor
//! chain, runs it against the file system, encodes the reply.
//!
//! Everything here is guest input: every length is checked before use,
//! and every failure becomes an errno in the reply, never a panic.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use virtio_queue::{Reader, Writer};
use vm_memory::ByteValued;

use crate::features::{Negotiated, Offer};
use crate::filesystem::{guest_name, stat_of, Errno, FamfsFs, FileSystem, NewEntry, Stat};
use crate::fmap_reply;
use crate::guest_policy::GuestPolicy;
use crate::meta::namespace::{Node, S_IFMT};
use crate::meta::Famfs;
use crate::protocol::*;
use crate::status::SocketStats;

/// What a connection may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// May create files and directories (the master host's VMs).
    Master,
    /// Reads metadata; reads and writes existing files' data.
    Client,
    /// Reads only; the window is mapped without write permission.
    ReadOnly,
}

impl std::str::FromStr for Access {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "master" => Ok(Access::Master),
            "client" => Ok(Access::Client),
            "ro" | "read-only" | "readonly" => Ok(Access::ReadOnly),
            _ => Err(format!("{s:?}: expected master, client or ro")),
        }
    }
}

/// Maps the DAX window into the guest; INIT waits for it.
pub trait Window: Send + Sync {
    /// Makes sure the window is mapped; Err is an errno for the reply.
    fn ensure_mapped(&self) -> Result<(), i32>;
    /// Makes file `node`'s device `ranges` accessible before its map is
    /// sent (an isolated window maps files one by one; a whole window has
    /// nothing to do).
    fn map_file(&self, _node: u64, _ranges: &[crate::meta::fmap::Extent]) -> Result<(), i32> {
        Ok(())
    }
    /// The driver no longer holds these nodes (FORGET).
    fn forget_files(&self, _nodes: &[u64]) {}
}

/// Most extents one GET_FMAP reply may carry.
pub const MAX_EXTENTS: u32 = 4096;

/// Most entry bytes one READDIR reply carries.
pub const MAX_READDIR_BYTES: u32 = 64 << 10;

/// Result of one handler: the payload after the response header, or an
/// errno with an optional payload (E2BIG carries the needed count).
type Reply = Result<Vec<u8>, (i32, Vec<u8>)>;

fn err(errno: i32) -> Reply {
    Err((errno, Vec::new()))
}

/// A file-system errno as a reply error without payload.
fn fs_err(errno: Errno) -> (i32, Vec<u8>) {
    (errno, Vec::new())
}

/// Serves one connection's requests: decodes them and runs them against
/// the file-system layer `F`.
pub struct Server<W: Window, F: FileSystem = FamfsFs> {
    fs: F,
    window: W,
    /// An INIT succeeded since the last device reset.
    ready: AtomicBool,
    /// The virtio-famfs feature bits the device offers.
    offered: u64,
    /// The feature bits the driver accepted (SET_FEATURES).
    acked: AtomicU64,
    /// The socket's request counters (`status`).
    stats: Arc<SocketStats>,
}

impl<W: Window> Server<W, FamfsFs> {
    pub fn new(fs: Arc<Famfs>, access: Access, window: W) -> Self {
        Server::with_fs(FamfsFs::new(fs, access, GuestPolicy::default()), window)
    }

    /// Applies `policy` to guest-created entries and the owners shown.
    pub fn with_policy(self, policy: GuestPolicy) -> Self {
        let fs = FamfsFs::new(self.fs.famfs().clone(), self.fs.access(), policy);
        Server { fs, ..self }
    }

    pub fn fs(&self) -> &Arc<Famfs> {
        self.fs.famfs()
    }
}

impl<W: Window, F: FileSystem> Server<W, F> {
    /// A server over any implementation of the file-system layer.
    pub fn with_fs(fs: F, window: W) -> Self {
        Server {
            fs,
            window,
            ready: AtomicBool::new(false),
            offered: Offer::default().bits(),
            acked: AtomicU64::new(0),
            stats: Arc::default(),
        }
    }

    /// Offers the features of `offer` (the default offers them all).
    pub fn with_offer(mut self, offer: Offer) -> Self {
        self.offered = offer.bits();
        self
    }

    /// The virtio-famfs feature bits this device offers.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Counts this connection's requests in `stats` (shared by the
    /// socket's successive connections).
    pub fn with_stats(mut self, stats: Arc<SocketStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The features the driver accepted (SET_FEATURES).
    pub fn set_features(&self, acked: u64) {
        self.acked.store(acked, Ordering::Release);
    }

    /// The features in force: offered and accepted.
    fn negotiated(&self) -> Negotiated {
        Negotiated::new(self.offered, self.acked.load(Ordering::Acquire))
    }

    /// The device was reset: the driver must INIT again.
    pub fn reset(&self) {
        self.ready.store(false, Ordering::Release);
    }

    pub fn filesystem(&self) -> &F {
        &self.fs
    }

    pub fn access(&self) -> Access {
        self.fs.access()
    }

    pub fn window(&self) -> &W {
        &self.window
    }

    /// Handles the request in `r`, writing the reply to `w`. Returns the
    /// number of bytes written (0 when the writable part cannot even hold
    /// a response header).
    pub fn handle(&self, r: &mut Reader<'_>, w: &mut Writer<'_>) -> u32 {
        let total = r.available_bytes();
        let mut opcode = None;
        let (unique, reply) = match r.read_obj::<ReqHdr>() {
            Ok(h) => {
                opcode = Some(h.opcode.to_native());
                let len = h.len.to_native() as usize;
                let unique = h.unique.to_native();
                if len < std::mem::size_of::<ReqHdr>() || len != total {
                    log::debug!("request length {len} outside 24..={total}");
                    (unique, err(libc::EINVAL))
                } else {
                    let body = len - std::mem::size_of::<ReqHdr>();
                    let mut body_r = Limited {
                        inner: r,
                        left: body,
                    };
                    (unique, self.dispatch(&h, &mut body_r, w.available_bytes()))
                }
            }
            Err(_) => (0, err(libc::EINVAL)),
        };
        self.stats.request(opcode, reply.is_err());
        write_reply(w, unique, reply)
    }

    /// Answers a chain whose layout is wrong (a readable descriptor after
    /// a writable one) with EINVAL.
    pub fn reject(&self, w: &mut Writer<'_>) -> u32 {
        self.stats.request(None, true);
        write_reply(w, 0, err(libc::EINVAL))
    }

    fn dispatch(&self, h: &ReqHdr, r: &mut Limited<'_, '_>, room: usize) -> Reply {
        let node = h.nodeid.to_native();
        let payload_room = room.saturating_sub(std::mem::size_of::<RespHdr>());
        let op = h.opcode.to_native();
        // The device was reformatted under us: the tree is stale, and node
        // ids would name the wrong files (spec: answer EIO).
        self.fs.check_live().map_err(fs_err)?;
        if op != OP_INIT && !self.ready.load(Ordering::Acquire) {
            return err(libc::EPROTO);
        }
        // (fixed readable body, or None when a name follows; minimum payload room)
        let sz = std::mem::size_of::<Attr>();
        let feat = self.negotiated();
        let lookup_min = if feat.entry_fmap {
            std::mem::size_of::<EntryOut>()
        } else {
            sz
        };
        let (body, min) = match op {
            OP_INIT => (Some(16), 32),
            OP_STATFS => (Some(0), 64),
            OP_LOOKUP => (None, lookup_min),
            OP_GETATTR => (Some(0), sz),
            OP_READDIR => (Some(8), 8 + 104),
            OP_READDIRPLUS if feat.readdirplus => (Some(8), 8 + DIRENTPLUS_MAX),
            OP_GET_FMAP => (Some(0), 16),
            OP_CREATE | OP_MKDIR => (None, sz),
            _ => (None, 0),
        };
        if body.is_some_and(|b| b != r.left) {
            return err(libc::EINVAL);
        }
        if payload_room < min {
            return err(libc::ERANGE);
        }
        match op {
            OP_INIT => self.init(r),
            OP_STATFS => self.statfs(),
            OP_LOOKUP => self.lookup(node, r, feat, payload_room),
            OP_GETATTR => self.fs.getattr(node).map(reply_attr).map_err(fs_err),
            OP_READDIR => self.readdir(node, r, payload_room),
            OP_READDIRPLUS if feat.readdirplus => self.readdirplus(node, r, feat, payload_room),
            OP_GET_FMAP => self.get_fmap(node, feat, payload_room),
            OP_CREATE => self.create(node, r),
            OP_MKDIR => self.mkdir(node, r),
            OP_FORGET if feat.forget => self.forget(node, r),
            op => {
                log::debug!("unknown opcode {op}");
                err(libc::ENOSYS)
            }
        }
    }

    fn init(&self, r: &mut Limited<'_, '_>) -> Reply {
        let inp: InitIn = r.read_obj()?;
        if inp.flags.to_native() != 0 || inp.padding.to_native() != 0 {
            return err(libc::EINVAL);
        }
        if inp.major.to_native() != VERSION_MAJOR {
            log::warn!(
                "driver speaks protocol {}.{}, device {VERSION_MAJOR}.{VERSION_MINOR}",
                inp.major.to_native(),
                inp.minor.to_native()
            );
        }
        self.window.ensure_mapped().map_err(|e| (e, Vec::new()))?;
        self.fs.refresh();
        let out = InitOut {
            major: VERSION_MAJOR.into(),
            minor: VERSION_MINOR.into(),
            flags: 0u32.into(),
            max_readdir_bytes: MAX_READDIR_BYTES.into(),
            root_nodeid: self.fs.root().into(),
            log_generation: self.fs.generation().into(),
        };
        self.ready.store(true, Ordering::Release);
        Ok(out.as_slice().to_vec())
    }

    fn statfs(&self) -> Reply {
        let s = self.fs.statfs().map_err(fs_err)?;
        let u = s.usage;
        let out = StatfsOut {
            total_bytes: u.total_bytes.into(),
            free_bytes: u.free_bytes.into(),
            largest_free: u.largest_free.into(),
            files: u.files.into(),
            dirs: u.dirs.into(),
            log_slots: u.log_slots.into(),
            log_used: u.log_used.into(),
            bsize: s.bsize.into(),
            namelen: s.namelen.into(),
        };
        Ok(out.as_slice().to_vec())
    }

    fn lookup(&self, parent: u64, r: &mut Limited<'_, '_>, feat: Negotiated, room: usize) -> Reply {
        let inp: LookupIn = r.read_obj()?;
        if inp.padding.to_native() != 0 {
            return err(libc::EINVAL);
        }
        let name = read_name(r, inp.namelen.to_native())?;
        let st = self.fs.lookup(parent, &name).map_err(fs_err)?;
        if !feat.entry_fmap {
            return Ok(reply_attr(st));
        }
        // With F_ENTRY_FMAP: entry_out, then the map if it is small and
        // fits the writable part (the driver asks GET_FMAP otherwise).
        let head = std::mem::size_of::<EntryOut>();
        let map = self.inline_fmap(&st, feat, room.saturating_sub(head));
        let e = EntryOut {
            attr: wire_attr(&st),
            fmap_len: (map.len() as u32).into(),
            padding: 0u32.into(),
        };
        let mut out = e.as_slice().to_vec();
        out.extend_from_slice(&map);
        Ok(out)
    }

    /// The inline map of the entry `st` (spec 7.10.1): GET_FMAP's reply when
    /// `st` is a regular file whose map takes at most ENTRY_FMAP_MAX
    /// extents (or strips) and `room` bytes, else nothing.
    fn inline_fmap(&self, st: &Stat, feat: Negotiated, room: usize) -> Vec<u8> {
        if !feat.entry_fmap || st.is_dir() {
            return Vec::new();
        }
        let Ok((size, fmap)) = self.fs.fmap(st.ino) else {
            return Vec::new();
        };
        fmap_reply::encode(size, &fmap, feat.interleave, ENTRY_FMAP_MAX, room).unwrap_or_default()
    }

    fn readdir(&self, id: u64, r: &mut Limited<'_, '_>, room: usize) -> Reply {
        let (cookie, room) = listing_request(r, room)?;
        let mut out = vec![0u8; size_of::<ReaddirOut>()];
        let mut n = 0u32;
        let eof = self
            .fs
            .readdir(id, cookie, &mut |name, st| {
                let size = std::mem::size_of::<Dirent>() + name.len().next_multiple_of(8);
                if out.len() + size > room {
                    return false;
                }
                let d = Dirent {
                    nodeid: st.ino.into(),
                    cookie: st.ino.into(),
                    type_: dirent_type(st).into(),
                    namelen: (name.len() as u32).into(),
                };
                out.extend_from_slice(d.as_slice());
                out.extend_from_slice(name);
                out.resize(out.len().next_multiple_of(8), 0);
                n += 1;
                true
            })
            .map_err(fs_err)?;
        listing_reply(out, n, eof)
    }

    fn readdirplus(
        &self,
        id: u64,
        r: &mut Limited<'_, '_>,
        feat: Negotiated,
        room: usize,
    ) -> Reply {
        let (cookie, room) = listing_request(r, room)?;
        let head = size_of::<ReaddirOut>();
        // Gather the children that fit without maps first, then fetch
        // maps outside the namespace lock (fs.fmap takes it again).
        let mut listed: Vec<(Vec<u8>, Stat)> = Vec::new();
        let mut bare = head;
        let mut eof = self
            .fs
            .readdir(id, cookie, &mut |name, st| {
                let size = direntplus_size(name.len(), 0);
                if bare + size > room {
                    return false;
                }
                bare += size;
                listed.push((name.to_vec(), *st));
                true
            })
            .map_err(fs_err)?;
        let mut out = vec![0u8; head];
        let mut n = 0u32;
        for (name, st) in &listed {
            let map = self.inline_fmap(st, feat, usize::MAX);
            let size = direntplus_size(name.len(), map.len());
            // An entry never straddles the end. Its map is left out only
            // for the first entry, so that every reply makes progress.
            let map: &[u8] = if out.len() + size <= room {
                &map
            } else if n == 0 {
                &[]
            } else {
                eof = false;
                break;
            };
            let d = DirentPlus {
                attr: wire_attr(st),
                cookie: st.ino.into(),
                type_: dirent_type(st).into(),
                namelen: (name.len() as u32).into(),
                fmap_len: (map.len() as u32).into(),
                padding: 0u32.into(),
            };
            out.extend_from_slice(d.as_slice());
            out.extend_from_slice(name);
            out.resize(out.len().next_multiple_of(8), 0);
            out.extend_from_slice(map);
            n += 1;
        }
        listing_reply(out, n, eof)
    }

    fn get_fmap(&self, id: u64, feat: Negotiated, room: usize) -> Reply {
        // fmap() refuses a node outside the socket's export (ESTALE): only
        // files this guest may open reach an isolated window.
        let (size, fmap) = self.fs.fmap(id).map_err(fs_err)?;
        let out = fmap_reply::encode(size, &fmap, feat.interleave, MAX_EXTENTS, room)
            .map_err(|needed| (libc::E2BIG, needed))?;
        // Only now, when the reply is certain: an isolated window maps the
        // file before the driver learns where it is.
        self.window
            .map_file(id, fmap.ranges())
            .map_err(|e| (e, Vec::new()))?;
        Ok(out)
    }

    /// FORGET: `count` node ids the driver dropped. Ids it never fetched
    /// (or that do not exist) are ignored: forgetting is idempotent.
    fn forget(&self, node: u64, r: &mut Limited<'_, '_>) -> Reply {
        let inp: ForgetIn = r.read_obj()?;
        let count = inp.count.to_native();
        if node != 0
            || inp.padding.to_native() != 0
            || !(1..=FORGET_MAX).contains(&count)
            || r.left != count as usize * 8
        {
            return err(libc::EINVAL);
        }
        let mut ids = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let id: vm_memory::Le64 = r.read_obj()?;
            ids.push(id.to_native());
        }
        self.window.forget_files(&ids);
        Ok(Vec::new())
    }

    fn create(&self, parent: u64, r: &mut Limited<'_, '_>) -> Reply {
        let inp: CreateIn = r.read_obj()?;
        let name = read_name(r, inp.namelen.to_native())?;
        let mode = inp.mode.to_native();
        if inp.flags.to_native() != 0
            || inp.padding.to_native() != 0
            || mode & !(S_IFMT | 0o7777) != 0
            || (mode & S_IFMT != 0 && mode & S_IFMT != crate::meta::namespace::S_IFREG)
        {
            return err(libc::EINVAL);
        }
        let new = NewEntry {
            perm: mode & 0o7777,
            uid: inp.uid.to_native(),
            gid: inp.gid.to_native(),
        };
        self.fs
            .create(parent, &name, inp.size.to_native(), new)
            .map(reply_attr)
            .map_err(fs_err)
    }

    fn mkdir(&self, parent: u64, r: &mut Limited<'_, '_>) -> Reply {
        let inp: MkdirIn = r.read_obj()?;
        let name = read_name(r, inp.namelen.to_native())?;
        let mode = inp.mode.to_native();
        if mode & !(S_IFMT | 0o7777) != 0
            || (mode & S_IFMT != 0 && mode & S_IFMT != crate::meta::namespace::S_IFDIR)
        {
            return err(libc::EINVAL);
        }
        let new = NewEntry {
            perm: mode & 0o7777,
            uid: inp.uid.to_native(),
            gid: inp.gid.to_native(),
        };
        self.fs
            .mkdir(parent, &name, new)
            .map(reply_attr)
            .map_err(fs_err)
    }
}

/// Bytes of one READDIRPLUS entry with a name of `namelen` bytes and
/// `fmap_len` bytes of inline map.
/// The cookie a READDIR or READDIRPLUS request resumes after, and the
/// bytes its reply may take (`readdir_out` included): what the driver
/// gave, at most `readdir_out` and MAX_READDIR_BYTES of entries.
fn listing_request(r: &mut Limited<'_, '_>, room: usize) -> Result<(u64, usize), (i32, Vec<u8>)> {
    let inp: ReaddirIn = r.read_obj()?;
    let head = size_of::<ReaddirOut>();
    let room = room.min(head + MAX_READDIR_BYTES as usize);
    if room < head {
        return Err((libc::EINVAL, Vec::new()));
    }
    Ok((inp.cookie.to_native(), room))
}

/// A listing reply: `out` holds room for `readdir_out`, then `n` entries.
fn listing_reply(mut out: Vec<u8>, n: u32, eof: bool) -> Reply {
    if n == 0 && !eof {
        // Not even one entry fits: the buffer is unusably small.
        return err(libc::EINVAL);
    }
    let o = ReaddirOut {
        nentries: n.into(),
        flags: if eof { READDIR_F_EOF } else { 0 }.into(),
    };
    out[..size_of::<ReaddirOut>()].copy_from_slice(o.as_slice());
    Ok(out)
}

/// The DT_* type of a listing entry.
fn dirent_type(st: &Stat) -> u32 {
    if st.is_dir() {
        DT_DIR
    } else {
        DT_REG
    }
}

fn direntplus_size(namelen: usize, fmap_len: usize) -> usize {
    std::mem::size_of::<DirentPlus>() + namelen.next_multiple_of(8) + fmap_len
}

/// The largest READDIRPLUS entry without inline map: the least room a
/// READDIRPLUS reply needs after `readdir_out`.
const DIRENTPLUS_MAX: usize =
    std::mem::size_of::<DirentPlus>() + (NAME_MAX as usize).next_multiple_of(8);

fn reply_attr(st: Stat) -> Vec<u8> {
    wire_attr(&st).as_slice().to_vec()
}

/// A node's wire attributes.
pub fn wire_attr(st: &Stat) -> Attr {
    Attr {
        nodeid: st.ino.into(),
        size: st.size.into(),
        blocks: st.blocks.into(),
        generation: st.generation.into(),
        mode: st.mode.into(),
        uid: st.uid.into(),
        gid: st.gid.into(),
        nlink: st.nlink.into(),
        flags: if st.all_hosts_ro { ATTR_F_RDONLY } else { 0 }.into(),
        padding: 0u32.into(),
    }
}

/// The wire attributes of a node with `subdirs` subdirectories (a
/// directory's nlink is 2 plus that, as in other Unix file systems),
/// owners unmapped.
pub fn attr(n: &Node, subdirs: u32) -> Attr {
    wire_attr(&stat_of(n, subdirs, &GuestPolicy::default()))
}

/// Reads a name of `len` bytes; `guest_name` checks it where it is used.
fn read_name(r: &mut Limited<'_, '_>, len: u32) -> Result<Vec<u8>, (i32, Vec<u8>)> {
    if len == 0 {
        return Err((libc::EINVAL, Vec::new()));
    }
    if len > NAME_MAX {
        return Err((libc::ENAMETOOLONG, Vec::new()));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)
        .map_err(|_| (libc::EINVAL, Vec::new()))?;
    if r.left != 0 {
        return Err((libc::EINVAL, Vec::new()));
    }
    // Checked here too, before the node ids, so that errors keep their
    // order (a bad name is EINVAL even in an unknown directory).
    guest_name(&buf).map_err(fs_err)?;
    Ok(buf)
}

/// Writes the response header and payload if they fit.
fn write_reply(w: &mut Writer<'_>, unique: u64, reply: Reply) -> u32 {
    let (error, mut payload) = match reply {
        Ok(p) => (0, p),
        Err((e, p)) => (e, p),
    };
    let hdr_len = std::mem::size_of::<RespHdr>();
    let room = w.available_bytes();
    if room < hdr_len {
        log::debug!("reply buffer of {room} bytes cannot hold a response header");
        return 0;
    }
    payload.truncate(room - hdr_len);
    let hdr = RespHdr {
        len: ((hdr_len + payload.len()) as u32).into(),
        error: (error as u32).into(),
        unique: unique.into(),
    };
    let ok = w.write_obj(hdr).is_ok() && w.write_all(&payload).is_ok();
    if !ok {
        log::debug!("writing the reply failed");
    }
    w.bytes_written() as u32
}

/// A reader that stops at the request's declared length.
struct Limited<'r, 'a> {
    inner: &'r mut Reader<'a>,
    left: usize,
}

impl Limited<'_, '_> {
    fn read_obj<T: ByteValued>(&mut self) -> Result<T, (i32, Vec<u8>)> {
        let n = std::mem::size_of::<T>();
        if n > self.left {
            return Err((libc::EINVAL, Vec::new()));
        }
        self.left -= n;
        self.inner
            .read_obj()
            .map_err(|_| (libc::EINVAL, Vec::new()))
    }
}

impl Read for Limited<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}
