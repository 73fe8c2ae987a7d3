// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-famfs request server: decodes a request from a descriptor
//! chain, runs it against the file system, encodes the reply.
//!
//! Everything here is guest input: every length is checked before use,
//! and every failure becomes an errno in the reply, never a panic.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use virtio_queue::{Reader, Writer};
use vm_memory::ByteValued;

use crate::guest_policy::GuestPolicy;
use crate::meta::format::FILE_FLAG_ALL_HOSTS_RO;
use crate::meta::namespace::{Node, NodeKind, S_IFMT};
use crate::meta::path::{validate_name, RESERVED_ROOT_NAME};
use crate::meta::{Famfs, FileSpec, MetaError, RelPath};
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

fn meta_err(e: MetaError) -> (i32, Vec<u8>) {
    log::debug!("request failed: {e}");
    (e.errno(), Vec::new())
}

/// Serves one connection's requests.
pub struct Server<W: Window> {
    fs: Arc<Famfs>,
    access: Access,
    window: W,
    /// What the guest may put in the metadata it creates.
    policy: GuestPolicy,
    /// An INIT succeeded since the last device reset.
    ready: AtomicBool,
    /// The driver accepted F_INTERLEAVE: send interleaved maps compactly.
    interleave: AtomicBool,
    /// The socket's request counters (`status`).
    stats: Arc<SocketStats>,
}

impl<W: Window> Server<W> {
    pub fn new(fs: Arc<Famfs>, access: Access, window: W) -> Self {
        Server {
            fs,
            access,
            window,
            policy: GuestPolicy::default(),
            ready: AtomicBool::new(false),
            interleave: AtomicBool::new(false),
            stats: Arc::default(),
        }
    }

    /// Counts this connection's requests in `stats` (shared by the
    /// socket's successive connections).
    pub fn with_stats(mut self, stats: Arc<SocketStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Applies `policy` to guest-created entries and the owners shown.
    pub fn with_policy(mut self, policy: GuestPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The features the driver accepted (SET_FEATURES).
    pub fn set_features(&self, acked: u64) {
        let on = acked & (1 << F_INTERLEAVE) != 0;
        self.interleave.store(on, Ordering::Release);
    }

    /// The device was reset: the driver must INIT again.
    pub fn reset(&self) {
        self.ready.store(false, Ordering::Release);
    }

    pub fn fs(&self) -> &Arc<Famfs> {
        &self.fs
    }

    pub fn access(&self) -> Access {
        self.access
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
        if self.fs.stale().is_some() {
            return err(libc::EIO);
        }
        if op != OP_INIT && !self.ready.load(Ordering::Acquire) {
            return err(libc::EPROTO);
        }
        // (fixed readable body, or None when a name follows; minimum payload room)
        let sz = std::mem::size_of::<Attr>();
        let (body, min) = match op {
            OP_INIT => (Some(16), 32),
            OP_STATFS => (Some(0), 64),
            OP_LOOKUP => (None, sz),
            OP_GETATTR => (Some(0), sz),
            OP_READDIR => (Some(8), 8 + 104),
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
            OP_LOOKUP => self.lookup(node, r),
            OP_GETATTR => self.node(node).map(|n| self.attr(&n).as_slice().to_vec()),
            OP_READDIR => self.readdir(node, r, payload_room),
            OP_GET_FMAP => self.get_fmap(node, payload_room),
            OP_CREATE => self.create(node, r),
            OP_MKDIR => self.mkdir(node, r),
            op => {
                log::debug!("unknown opcode {op}");
                err(libc::ENOSYS)
            }
        }
    }

    fn init(&self, r: &mut Limited<'_, '_>) -> Reply {
        let inp: InitIn = r.read_obj()?;
        let mut out = InitOut {
            major: VERSION_MAJOR.into(),
            minor: VERSION_MINOR.into(),
            flags: 0u32.into(),
            max_readdir_bytes: MAX_READDIR_BYTES.into(),
            root_nodeid: crate::meta::ROOT_INO.into(),
            log_generation: self.fs.applied().into(),
        };
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
        let _ = self.fs.refresh();
        out.log_generation = self.fs.applied().into();
        self.ready.store(true, Ordering::Release);
        Ok(out.as_slice().to_vec())
    }

    fn statfs(&self) -> Reply {
        let u = self.fs.usage().map_err(meta_err)?;
        let out = StatfsOut {
            total_bytes: u.total_bytes.into(),
            free_bytes: u.free_bytes.into(),
            largest_free: u.largest_free.into(),
            files: u.files.into(),
            dirs: u.dirs.into(),
            log_slots: u.log_slots.into(),
            log_used: u.log_used.into(),
            bsize: (self.fs.superblock().alloc_unit as u32).into(),
            namelen: NAME_MAX.into(),
        };
        Ok(out.as_slice().to_vec())
    }

    /// The node `id`, picking up new log entries once if it is unknown.
    fn node(&self, id: u64) -> Result<Node, (i32, Vec<u8>)> {
        let get = || self.fs.with_ns(|ns| ns.get(id).cloned());
        if let Some(n) = get() {
            return Ok(n);
        }
        let _ = self.fs.refresh();
        get().ok_or((libc::ESTALE, Vec::new()))
    }

    fn dir(&self, id: u64) -> Result<Node, (i32, Vec<u8>)> {
        let n = self.node(id)?;
        if !n.is_dir() {
            return Err((libc::ENOTDIR, Vec::new()));
        }
        Ok(n)
    }

    fn lookup(&self, parent: u64, r: &mut Limited<'_, '_>) -> Reply {
        let inp: LookupIn = r.read_obj()?;
        if inp.padding.to_native() != 0 {
            return err(libc::EINVAL);
        }
        let name = read_name(r, inp.namelen.to_native())?;
        let dir = self.dir(parent)?;
        if dir.ino == crate::meta::ROOT_INO && name == RESERVED_ROOT_NAME.as_bytes() {
            // famfs's own metadata directory: never shown to a guest.
            return err(libc::ENOENT);
        }
        let find = || self.fs.with_ns(|ns| ns.lookup(dir.ino, &name).cloned());
        let found = find().or_else(|| {
            // A miss may be a file another writer just added.
            let _ = self.fs.refresh();
            find()
        });
        match found {
            Some(n) => Ok(self.attr(&n).as_slice().to_vec()),
            None => err(libc::ENOENT),
        }
    }

    fn readdir(&self, id: u64, r: &mut Limited<'_, '_>, room: usize) -> Reply {
        let inp: ReaddirIn = r.read_obj()?;
        let cookie = inp.cookie.to_native();
        let dir = self.dir(id)?;
        let _ = self.fs.refresh();
        let head = std::mem::size_of::<ReaddirOut>();
        let room = room.min(head + MAX_READDIR_BYTES as usize);
        if room < head {
            return err(libc::EINVAL);
        }
        let mut out = vec![0u8; head];
        let mut n = 0u32;
        let mut eof = true;
        self.fs.with_ns(|ns| {
            for child in ns.children_after(dir.ino, cookie) {
                let name = &child.name[..];
                let size = std::mem::size_of::<Dirent>() + name.len().next_multiple_of(8);
                if out.len() + size > room {
                    eof = false;
                    break;
                }
                let d = Dirent {
                    nodeid: child.ino.into(),
                    cookie: child.ino.into(),
                    type_: if child.is_dir() { DT_DIR } else { DT_REG }.into(),
                    namelen: (name.len() as u32).into(),
                };
                out.extend_from_slice(d.as_slice());
                out.extend_from_slice(name);
                out.resize(out.len().next_multiple_of(8), 0);
                n += 1;
            }
        });
        if n == 0 && !eof {
            // Not even one entry fits: the buffer is unusably small.
            return err(libc::EINVAL);
        }
        let o = ReaddirOut {
            nentries: n.into(),
            flags: if eof { READDIR_F_EOF } else { 0 }.into(),
        };
        out[..head].copy_from_slice(o.as_slice());
        Ok(out)
    }

    fn get_fmap(&self, id: u64, room: usize) -> Reply {
        use crate::meta::fmap::{Extent as MetaExtent, Fmap};
        use std::mem::size_of;

        let node = self.node(id)?;
        let NodeKind::File { size, fmap, .. } = &node.kind else {
            return err(libc::EISDIR);
        };
        let interleave = self.interleave.load(Ordering::Acquire);
        // Count before expanding: a striped file has one extent per chunk.
        let (kind, count, head) = match fmap {
            Fmap::Interleaved { strips, .. } if interleave => (
                FMAP_INTERLEAVED,
                strips.len() as u64,
                size_of::<FmapOut>() + size_of::<FmapInterleave>(),
            ),
            _ => (FMAP_SIMPLE, fmap.expanded_len(*size), size_of::<FmapOut>()),
        };
        let mut out = FmapOut {
            file_size: (*size).into(),
            nextents: u32::try_from(count).unwrap_or(u32::MAX).into(),
            kind: kind.into(),
        }
        .as_slice()
        .to_vec();
        let fits = count
            .checked_mul(size_of::<Extent>() as u64)
            .and_then(|b| b.checked_add(head as u64))
            .is_some_and(|need| need <= room as u64);
        if count > u64::from(MAX_EXTENTS) || !fits {
            return Err((libc::E2BIG, out));
        }
        let wire = |e: &MetaExtent| Extent {
            offset: e.offset.into(),
            len: e.len.into(),
        };
        match fmap {
            Fmap::Interleaved { chunk_size, strips } if interleave => {
                let ie = FmapInterleave {
                    chunk_size: (*chunk_size).into(),
                };
                out.extend_from_slice(ie.as_slice());
                for e in strips {
                    out.extend_from_slice(wire(e).as_slice());
                }
            }
            _ => {
                for e in fmap.expand(*size) {
                    out.extend_from_slice(wire(&e).as_slice());
                }
            }
        }
        Ok(out)
    }

    /// Validates a new entry's parent and name and builds its path.
    fn new_path(&self, parent: u64, name: &[u8]) -> Result<RelPath, (i32, Vec<u8>)> {
        if self.access != Access::Master {
            return Err((libc::EROFS, Vec::new()));
        }
        let dir = self.dir(parent)?;
        let base = self.fs.with_ns(|ns| ns.path_of(dir.ino));
        let base = (!base.is_empty())
            .then(|| RelPath::new(&base))
            .transpose()
            .map_err(meta_err)?;
        RelPath::join(base.as_ref(), name).map_err(meta_err)
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
        let path = self.new_path(parent, &name)?;
        let (uid, gid) = self.policy.owner(inp.uid.to_native(), inp.gid.to_native());
        let spec = FileSpec {
            size: inp.size.to_native(),
            mode: self.policy.mode(mode & 0o7777),
            uid,
            gid,
            striping: None,
        };
        let n = self.fs.create(&path, &spec).map_err(meta_err)?;
        log::info!(
            "guest created {path} ({} bytes, mode {:04o}, owner {uid}:{gid})",
            spec.size,
            spec.mode
        );
        Ok(self.attr(&n).as_slice().to_vec())
    }

    /// A node's attributes as this guest sees them: owners through the
    /// socket's id maps; a directory's nlink counts its subdirectories.
    fn attr(&self, n: &Node) -> Attr {
        let mut a = attr(n, self.fs.with_ns(|ns| ns.subdirs(n.ino)));
        let (uid, gid) = self.policy.guest_owner(n.uid, n.gid);
        a.uid = uid.into();
        a.gid = gid.into();
        a
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
        let path = self.new_path(parent, &name)?;
        let (uid, gid) = self.policy.owner(inp.uid.to_native(), inp.gid.to_native());
        let mode = self.policy.mode(mode & 0o7777);
        let n = self.fs.mkdir(&path, mode, uid, gid).map_err(meta_err)?;
        log::info!("guest created directory {path} (mode {mode:04o}, owner {uid}:{gid})");
        Ok(self.attr(&n).as_slice().to_vec())
    }
}

/// The wire attributes of a node with `subdirs` subdirectories (a
/// directory's nlink is 2 plus that, as in other Unix file systems).
pub fn attr(n: &Node, subdirs: u32) -> Attr {
    let nlink = match &n.kind {
        NodeKind::Dir => 2 + subdirs,
        NodeKind::File { .. } => 1,
    };
    let flags = match n.kind {
        NodeKind::File { flags, .. } if flags & FILE_FLAG_ALL_HOSTS_RO != 0 => ATTR_F_RDONLY,
        _ => 0,
    };
    Attr {
        nodeid: n.ino.into(),
        size: n.size().into(),
        blocks: (n.allocated() / 512).into(),
        // The log generation the node appeared in: its entry index + 1.
        generation: n.log_index.map_or(0, |i| i + 1).into(),
        mode: n.mode.into(),
        uid: n.uid.into(),
        gid: n.gid.into(),
        nlink: nlink.into(),
        flags: flags.into(),
        padding: 0u32.into(),
    }
}

/// Reads a name of `len` bytes and checks it is a valid file name: any
/// bytes but `/` and NUL, not `.` or `..` (spec 7.3); UTF-8 or not.
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
    validate_name(&buf).map_err(|e| (e.errno(), Vec::new()))?;
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
