// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The file-system layer both front doors share: node ids, lookup,
//! attributes, directory listing, creation, statfs, extent maps and data
//! access through the device mapping.
//!
//! The protocol servers (`server.rs` for virtio-famfs, `fuse/` for
//! virtio-fs) only decode and encode; every famfs rule (roles, the
//! socket's guest policy, names, sizes, the reserved `.meta` directory)
//! lives here, so the two doors cannot drift apart. Errors are errnos,
//! ready for either wire.
//!
//! Node ids here are the guest's: with a subtree export (`export.rs`)
//! every id a guest names is translated and checked in `node` before use,
//! and every id handed back is translated in `stat`.

use std::sync::Arc;

use vm_memory::VolatileSlice;

use crate::export::Export;
use crate::guest_policy::GuestPolicy;
use crate::meta::fmap::Fmap;
use crate::meta::format::FILE_FLAG_ALL_HOSTS_RO;
use crate::meta::namespace::{Node, NodeKind};
use crate::meta::path::{validate_name, RESERVED_ROOT_NAME};
use crate::meta::{Famfs, FileSpec, MetaError, RelPath, ROOT_INO};
use crate::server::Access;

/// A Linux errno (positive).
pub type Errno = i32;

pub type FsResult<T> = Result<T, Errno>;

/// A node's attributes as one guest sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ino: u64,
    pub size: u64,
    /// 512-byte blocks of device memory the node occupies.
    pub blocks: u64,
    /// The log generation the node appeared in (its entry index + 1).
    pub generation: u64,
    /// Full mode, type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    /// famfs's "read-only on every host" file flag.
    pub all_hosts_ro: bool,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & crate::meta::namespace::S_IFMT == crate::meta::namespace::S_IFDIR
    }
}

/// File-system wide figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStat {
    pub usage: crate::meta::Usage,
    /// The allocation unit.
    pub bsize: u32,
    pub namelen: u32,
}

/// Owner and permission bits a guest asks a new entry to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Permission bits only (no type bits).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The operations the protocol servers need.
pub trait FileSystem: Send + Sync {
    /// The socket's role: what its guest may change.
    fn access(&self) -> Access;
    /// The root directory's node id.
    fn root(&self) -> u64 {
        ROOT_INO
    }
    /// Log entries applied so far (the namespace's generation).
    fn generation(&self) -> u64;
    /// EIO once the device no longer holds the file system opened.
    fn check_live(&self) -> FsResult<()>;
    /// Picks up entries appended by others.
    fn refresh(&self);
    fn statfs(&self) -> FsResult<FsStat>;
    fn getattr(&self, id: u64) -> FsResult<Stat>;
    fn lookup(&self, parent: u64, name: &[u8]) -> FsResult<Stat>;
    /// Calls `add(name, stat)` for each child of `dir` whose node id is
    /// above `cookie`, in node-id order, until it returns false. Returns
    /// whether the end of the directory was reached. A child's node id is
    /// the cookie that resumes after it.
    fn readdir(
        &self,
        dir: u64,
        cookie: u64,
        add: &mut dyn FnMut(&[u8], &Stat) -> bool,
    ) -> FsResult<bool>;
    /// Whether node `id` is one this guest may use: inside its export (an
    /// existing node; every node without a subtree export).
    fn exports(&self, id: u64) -> bool;
    /// Creates a file of `size` bytes (fixed for its lifetime).
    fn create(&self, parent: u64, name: &[u8], size: u64, new: NewEntry) -> FsResult<Stat>;
    fn mkdir(&self, parent: u64, name: &[u8], new: NewEntry) -> FsResult<Stat>;
    /// The file's size and its famfs extent map as recorded (an
    /// interleaved map stays compact; `Fmap::expand` lists its chunks).
    fn fmap(&self, id: u64) -> FsResult<(u64, Fmap)>;
    /// Hands the device bytes of file `id` at `[offset, offset + len)`,
    /// cut at the file's size, to `sink` in file order. Returns the bytes
    /// handed over (0 at or past the end).
    fn read(
        &self,
        id: u64,
        offset: u64,
        len: usize,
        sink: &mut dyn FnMut(VolatileSlice<'_>) -> FsResult<()>,
    ) -> FsResult<usize>;
    /// Hands the device bytes of file `id` at `[offset, offset + len)` to
    /// `fill`, which stores the new data there. Never past the file's
    /// size: a write that starts at or past it is ENOSPC (famfs files
    /// never grow), one that crosses it is cut short.
    fn write(
        &self,
        id: u64,
        offset: u64,
        len: usize,
        fill: &mut dyn FnMut(VolatileSlice<'_>) -> FsResult<()>,
    ) -> FsResult<usize>;
}

/// The one place a guest-supplied name is checked; both servers call it.
/// A name is a byte string: any bytes but `/` and NUL, not `.` or `..`,
/// UTF-8 or not (spec 7.3), as famfs itself records names.
pub fn guest_name(raw: &[u8]) -> FsResult<&[u8]> {
    if raw.is_empty() {
        return Err(libc::EINVAL);
    }
    if raw.len() > crate::protocol::NAME_MAX as usize {
        return Err(libc::ENAMETOOLONG);
    }
    validate_name(raw).map_err(|e| e.errno())?;
    Ok(raw)
}

fn meta_err(e: MetaError) -> Errno {
    log::debug!("request failed: {e}");
    e.errno()
}

/// famfs served to one socket's guests: the shared `Famfs`, the socket's
/// role, its guest policy and the subtree it exports.
pub struct FamfsFs {
    fs: Arc<Famfs>,
    access: Access,
    policy: GuestPolicy,
    /// None: the whole file system.
    export: Option<Export>,
}

impl FamfsFs {
    /// Serves `fs` with `policy`, exporting its `subtree` if it names one.
    /// The daemon checks that directory at start; should it not resolve
    /// here, nothing at all is served (fail closed).
    pub fn new(fs: Arc<Famfs>, access: Access, policy: GuestPolicy) -> Self {
        let export = policy.subtree.as_ref().and_then(|path| {
            Export::resolve(&fs, path).unwrap_or_else(|e| {
                log::error!("{e}: serving nothing");
                Some(Export::of(0))
            })
        });
        FamfsFs {
            fs,
            access,
            policy,
            export,
        }
    }

    /// The exported directory's famfs node id (the file system root
    /// without a subtree export).
    pub fn export_root(&self) -> u64 {
        self.export.as_ref().map_or(ROOT_INO, Export::root)
    }

    /// Whether famfs node `ino` (a device node id, not a guest's) is
    /// inside this guest's export; always true without one.
    pub fn contains_ino(&self, ino: u64) -> bool {
        match &self.export {
            None => true,
            Some(e) => self.fs.with_ns(|ns| e.contains(ns, ino)),
        }
    }

    /// The guest node id of famfs node `ino`.
    fn guest_id(&self, ino: u64) -> u64 {
        self.export.as_ref().map_or(ino, |e| e.to_guest(ino))
    }

    pub fn famfs(&self) -> &Arc<Famfs> {
        &self.fs
    }

    pub fn policy(&self) -> &GuestPolicy {
        &self.policy
    }

    /// The node the guest calls `id`, picking up new log entries once if
    /// it is unknown. The one gate every guest-named id passes: ESTALE for
    /// a node outside the export, as for one that does not exist.
    fn node(&self, id: u64) -> FsResult<Node> {
        let ino = self.export.as_ref().map_or(id, |e| e.to_famfs(id));
        let get = || {
            self.fs.with_ns(|ns| {
                let n = ns.get(ino)?;
                match &self.export {
                    Some(e) if !e.contains(ns, ino) => None,
                    _ => Some(n.clone()),
                }
            })
        };
        if let Some(n) = get() {
            return Ok(n);
        }
        let _ = self.fs.refresh();
        get().ok_or(libc::ESTALE)
    }

    fn dir(&self, id: u64) -> FsResult<Node> {
        let n = self.node(id)?;
        if !n.is_dir() {
            return Err(libc::ENOTDIR);
        }
        Ok(n)
    }

    fn file(&self, id: u64) -> FsResult<Node> {
        let n = self.node(id)?;
        if n.is_dir() {
            return Err(libc::EISDIR);
        }
        Ok(n)
    }

    /// A node's attributes as this guest sees them: owners through the
    /// socket's id maps; a directory's nlink counts its subdirectories.
    fn stat(&self, n: &Node) -> Stat {
        let subdirs = self.fs.with_ns(|ns| ns.subdirs(n.ino));
        self.shown(stat_of(n, subdirs, &self.policy))
    }

    /// `st` under the node id the guest knows it by.
    fn shown(&self, st: Stat) -> Stat {
        Stat {
            ino: self.guest_id(st.ino),
            ..st
        }
    }

    /// Validates a new entry's parent and name and builds its path.
    fn new_path(&self, parent: u64, name: &[u8]) -> FsResult<RelPath> {
        if self.access != Access::Master {
            return Err(libc::EROFS);
        }
        let name = guest_name(name)?;
        let dir = self.dir(parent)?;
        let base = self.fs.with_ns(|ns| ns.path_of(dir.ino));
        let base = (!base.is_empty())
            .then(|| RelPath::new(&base))
            .transpose()
            .map_err(meta_err)?;
        RelPath::join(base.as_ref(), name).map_err(meta_err)
    }

    /// Calls `f` with the device slices behind `[offset, offset + len)` of
    /// file `n`, cut at its size; returns the bytes covered.
    fn with_data(
        &self,
        n: &Node,
        offset: u64,
        len: usize,
        f: &mut dyn FnMut(VolatileSlice<'_>) -> FsResult<()>,
    ) -> FsResult<usize> {
        let NodeKind::File { size, fmap, .. } = &n.kind else {
            return Err(libc::EISDIR);
        };
        if offset >= *size || len == 0 {
            return Ok(0);
        }
        let end = offset.saturating_add(len as u64).min(*size);
        let meta = self.fs.superblock().meta_size();
        let dev = self.fs.device();
        let mut done = 0u64;
        let mut emit = |dev_off: u64, take: u64| -> FsResult<()> {
            // Replay checked every extent; a mapping into the metadata
            // would still be a corrupt device, never served.
            if dev_off < meta {
                log::error!("file {} maps device offset {dev_off:#x} (metadata)", n.ino);
                return Err(libc::EIO);
            }
            let s = dev.slice(dev_off, take as usize).map_err(|e| {
                log::error!("file {}: {e}", n.ino);
                libc::EIO
            })?;
            f(s)?;
            done += take;
            Ok(())
        };
        match fmap {
            // Straight to the chunks concerned: expanding a striped map
            // lists every chunk of the file, per request.
            Fmap::Interleaved { chunk_size, strips } if *chunk_size > 0 && !strips.is_empty() => {
                let (c, k) = (*chunk_size, strips.len() as u64);
                let mut pos = offset;
                while pos < end {
                    let (chunk, within) = (pos / c, pos % c);
                    let strip = &strips[(chunk % k) as usize];
                    let at = (chunk / k) * c + within;
                    let take = (c - within).min(end - pos);
                    if at + take > strip.len {
                        log::error!("file {}: chunk {chunk} outside its strip", n.ino);
                        return Err(libc::EIO);
                    }
                    emit(strip.offset + at, take)?;
                    pos += take;
                }
            }
            _ => {
                let mut pos = 0u64; // file offset of the current extent
                for e in fmap.expand(*size) {
                    let (ext_start, ext_end) = (pos, pos.saturating_add(e.len));
                    pos = ext_end;
                    let from = offset.max(ext_start);
                    if ext_end <= from {
                        continue;
                    }
                    if from >= end {
                        break;
                    }
                    emit(e.offset + (from - ext_start), ext_end.min(end) - from)?;
                }
            }
        }
        Ok(done as usize)
    }
}

/// The attributes of node `n` with `subdirs` subdirectories (a
/// directory's nlink is 2 plus that, as in other Unix file systems), its
/// owner as the guest of `policy` sees it.
pub fn stat_of(n: &Node, subdirs: u32, policy: &GuestPolicy) -> Stat {
    let (nlink, all_hosts_ro) = match &n.kind {
        NodeKind::Dir => (2 + subdirs, false),
        NodeKind::File { flags, .. } => (1, flags & FILE_FLAG_ALL_HOSTS_RO != 0),
    };
    let (uid, gid) = policy.guest_owner(n.uid, n.gid);
    Stat {
        ino: n.ino,
        size: n.size(),
        blocks: n.allocated() / 512,
        generation: n.log_index.map_or(0, |i| i + 1),
        mode: n.mode,
        uid,
        gid,
        nlink,
        all_hosts_ro,
    }
}

impl FileSystem for FamfsFs {
    fn access(&self) -> Access {
        self.access
    }

    fn generation(&self) -> u64 {
        self.fs.applied()
    }

    fn check_live(&self) -> FsResult<()> {
        match self.fs.stale() {
            Some(_) => Err(libc::EIO),
            None => Ok(()),
        }
    }

    fn refresh(&self) {
        let _ = self.fs.refresh();
    }

    fn statfs(&self) -> FsResult<FsStat> {
        let mut usage = self.fs.usage().map_err(meta_err)?;
        if let Some(e) = &self.export {
            // The export's own files, directories and bytes; free space
            // and log slots are the device's, shared with every tenant.
            let own = self.fs.with_ns(|ns| e.usage(ns));
            usage.files = own.files;
            usage.dirs = own.dirs;
            usage.total_bytes = usage.free_bytes.saturating_add(own.bytes);
        }
        Ok(FsStat {
            usage,
            bsize: self.fs.superblock().alloc_unit as u32,
            namelen: crate::protocol::NAME_MAX,
        })
    }

    fn getattr(&self, id: u64) -> FsResult<Stat> {
        self.node(id).map(|n| self.stat(&n))
    }

    fn lookup(&self, parent: u64, name: &[u8]) -> FsResult<Stat> {
        let name = guest_name(name)?;
        let dir = self.dir(parent)?;
        if dir.ino == ROOT_INO && name == RESERVED_ROOT_NAME.as_bytes() {
            // famfs's own metadata directory: never shown to a guest.
            return Err(libc::ENOENT);
        }
        let find = || self.fs.with_ns(|ns| ns.lookup(dir.ino, name).cloned());
        let found = find().or_else(|| {
            // A miss may be a file another writer just added.
            let _ = self.fs.refresh();
            find()
        });
        found.map(|n| self.stat(&n)).ok_or(libc::ENOENT)
    }

    fn readdir(
        &self,
        dir: u64,
        cookie: u64,
        add: &mut dyn FnMut(&[u8], &Stat) -> bool,
    ) -> FsResult<bool> {
        let dir = self.dir(dir)?;
        let _ = self.fs.refresh();
        let mut eof = true;
        self.fs.with_ns(|ns| {
            for child in ns.children_after(dir.ino, cookie) {
                let st = self.shown(stat_of(child, ns.subdirs(child.ino), &self.policy));
                if !add(&child.name, &st) {
                    eof = false;
                    break;
                }
            }
        });
        Ok(eof)
    }

    fn create(&self, parent: u64, name: &[u8], size: u64, new: NewEntry) -> FsResult<Stat> {
        let path = self.new_path(parent, name)?;
        let (uid, gid) = self.policy.owner(new.uid, new.gid);
        let spec = FileSpec {
            size,
            mode: self.policy.mode(new.perm & 0o7777),
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
        Ok(self.stat(&n))
    }

    fn mkdir(&self, parent: u64, name: &[u8], new: NewEntry) -> FsResult<Stat> {
        let path = self.new_path(parent, name)?;
        let (uid, gid) = self.policy.owner(new.uid, new.gid);
        let mode = self.policy.mode(new.perm & 0o7777);
        let n = self.fs.mkdir(&path, mode, uid, gid).map_err(meta_err)?;
        log::info!("guest created directory {path} (mode {mode:04o}, owner {uid}:{gid})");
        Ok(self.stat(&n))
    }

    fn exports(&self, id: u64) -> bool {
        self.node(id).is_ok()
    }

    fn fmap(&self, id: u64) -> FsResult<(u64, Fmap)> {
        match self.file(id)?.kind {
            NodeKind::File { size, fmap, .. } => Ok((size, fmap)),
            NodeKind::Dir => Err(libc::EISDIR),
        }
    }

    fn read(
        &self,
        id: u64,
        offset: u64,
        len: usize,
        sink: &mut dyn FnMut(VolatileSlice<'_>) -> FsResult<()>,
    ) -> FsResult<usize> {
        let n = self.file(id)?;
        self.with_data(&n, offset, len, sink)
    }

    fn write(
        &self,
        id: u64,
        offset: u64,
        len: usize,
        fill: &mut dyn FnMut(VolatileSlice<'_>) -> FsResult<()>,
    ) -> FsResult<usize> {
        if self.access == Access::ReadOnly {
            return Err(libc::EROFS);
        }
        let n = self.file(id)?;
        if let NodeKind::File { flags, .. } = n.kind {
            if flags & FILE_FLAG_ALL_HOSTS_RO != 0 {
                return Err(libc::EACCES);
            }
        }
        if len > 0 && offset >= n.size() {
            return Err(libc::ENOSPC);
        }
        self.with_data(&n, offset, len, fill)
    }
}
