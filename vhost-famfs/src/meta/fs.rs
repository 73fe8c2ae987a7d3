// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A famfs file system on an open device: format, replay, create.
//!
//! Many readers (daemon connections, CLI commands) share one `Famfs`; the
//! tree sits behind a RwLock. An append first takes the device's flock
//! (excluding other threads and processes on the same device) with a
//! bounded wait, and only then the tree's write lock, so a stalled writer
//! elsewhere never blocks readers here.

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use super::alloc::{Allocator, Striping};
use super::entry::{DirRecord, FileRecord, LogRecord};
use super::error::{MetaError, Result};
use super::fmap::Geometry;
use super::format::*;
use super::log::{Log, LogHeader};
use super::namespace::{Namespace, Node};
use super::path::RelPath;
use super::role::{self, Role};
use super::superblock::{FormatVersion, Superblock, SuperblockId};
use crate::device::{Device, LockWait, DEFAULT_LOCK_WAIT};

/// Options for opening a file system.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Map the device writable (needed to create, and to write file data).
    pub writable: bool,
    /// This host's system uuid, overriding famfs's file.
    pub system_uuid: Option<Uuid>,
    /// famfs's system uuid file.
    pub system_uuid_file: PathBuf,
    /// How long an append waits for another process's device lock.
    pub lock_wait: LockWait,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            writable: true,
            system_uuid: None,
            system_uuid_file: PathBuf::from(role::SYSTEM_UUID_FILE),
            lock_wait: LockWait::Bounded(DEFAULT_LOCK_WAIT),
        }
    }
}

/// Options for mkfs.
#[derive(Clone, Debug)]
pub struct MkfsOptions {
    pub log_len: u64,
    /// Overwrite an existing file system.
    pub force: bool,
    pub system_uuid: Option<Uuid>,
    pub system_uuid_file: PathBuf,
    /// How long to wait for the device lock appenders hold.
    pub lock_wait: LockWait,
}

impl Default for MkfsOptions {
    fn default() -> Self {
        MkfsOptions {
            log_len: DEFAULT_LOG_LEN,
            force: false,
            system_uuid: None,
            system_uuid_file: PathBuf::from(role::SYSTEM_UUID_FILE),
            lock_wait: LockWait::Forever,
        }
    }
}

/// What a new file looks like.
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub striping: Option<Striping>,
}

/// Usage figures, for statfs, fsck and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub largest_free: u64,
    pub meta_bytes: u64,
    pub log_slots: u64,
    pub log_used: u64,
    pub files: u64,
    pub dirs: u64,
}

/// A problem found while replaying the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayProblem {
    pub index: u64,
    pub what: String,
    /// Damaged entries (bad CRC, bad fields) make the tree incomplete and
    /// block appends; refused ones (name exists) are harmless.
    pub damaged: bool,
}

struct State {
    ns: Namespace,
    alloc: Allocator,
    /// Entries below this index have been replayed.
    applied: u64,
    problems: Vec<ReplayProblem>,
}

/// An open famfs file system.
pub struct Famfs {
    dev: Device,
    sb: Superblock,
    geo: Geometry,
    role: Role,
    local_uuid: Option<Uuid>,
    lock_wait: LockWait,
    /// Set once the device no longer holds the file system we opened (it
    /// was reformatted): why, for every later request's error.
    stale: OnceLock<String>,
    state: RwLock<State>,
}

impl Famfs {
    /// Formats `dev`: superblock, empty log. Refuses to overwrite a valid
    /// file system unless `force`.
    pub fn mkfs(dev: &Device, opts: &MkfsOptions) -> Result<Superblock> {
        let bad = |s: String| Err(MetaError::InvalidArgument(s));
        if !opts.log_len.is_power_of_two() || opts.log_len < DEFAULT_LOG_LEN {
            return bad(format!(
                "log length {:#x} must be a power of two of at least 8 MiB",
                opts.log_len
            ));
        }
        let min = LOG_OFFSET + opts.log_len + ALLOC_UNIT;
        if dev.size() < min {
            return bad(format!(
                "{}: {:#x} bytes is too small for a {:#x}-byte log (need at least {min:#x})",
                dev.path().display(),
                dev.size(),
                opts.log_len
            ));
        }
        // Appenders hold this lock: none may be half way through an
        // append when the log is cleared.
        let _flock = dev.lock(opts.lock_wait)?;
        if !opts.force {
            let raw: RawSuperblock = dev.read_obj(0)?;
            if let Some(id) = SuperblockId::of(&raw) {
                // Readable or not, a sealed superblock is someone's file
                // system. Count its files when its version is one we read.
                let report = super::fsck::fsck(dev);
                let files = report.superblock.is_some().then_some(report.files);
                return Err(MetaError::HoldsFileSystem {
                    path: dev.path().display().to_string(),
                    fs_uuid: id.fs_uuid,
                    version: id.version,
                    omf_major: id.omf_major,
                    omf_minor: id.omf_minor,
                    files,
                });
            }
        }
        let system_uuid = role::ensure_system_uuid(opts.system_uuid, &opts.system_uuid_file)?;
        let dev_uuid = Uuid::new_v4();
        let sb = Superblock {
            version: FormatVersion::V48,
            log_len: opts.log_len,
            alloc_unit: ALLOC_UNIT,
            fs_uuid: Uuid::new_v4(),
            dev_uuid,
            system_uuid,
            flags: SB_FLAG_PRIMARY,
            daxdev_size: dev.size(),
            daxdev_uuid: dev_uuid,
            daxdev_name: dev.name(),
        };
        // Invalidate the old superblock first: a crash mid-mkfs must not
        // leave an old superblock in front of a half-written log.
        dev.write_bytes(0, &[0u8; std::mem::size_of::<RawSuperblock>()])?;
        super::cache::flush(dev, 0, std::mem::size_of::<RawSuperblock>() as u64)?;
        Log::format(dev, opts.log_len)?;
        dev.write_obj(0, &sb.encode())?;
        super::cache::flush(dev, 0, std::mem::size_of::<RawSuperblock>() as u64)?;
        Ok(sb)
    }

    /// Opens the file system on `path` and replays its log.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        Self::from_device(Device::open(path, opts.writable)?, opts)
    }

    /// Reads the superblock of `dev` and replays its log.
    pub fn from_device(dev: Device, opts: &OpenOptions) -> Result<Self> {
        let sb = read_superblock(&dev)?;
        if dev.is_writable() {
            if let Some(mpt) = super::famfs_mount::famfs_mount_of(dev.path()) {
                return Err(MetaError::MountedByFamfs {
                    path: dev.path().display().to_string(),
                    mountpoint: mpt.display().to_string(),
                });
            }
        }
        let local = role::local_system_uuid(opts.system_uuid, &opts.system_uuid_file)?;
        let role = Role::decide(local, sb.system_uuid);
        let geo = Geometry::of(&sb);
        let state = State {
            ns: Namespace::new(0, 0, 0o755),
            alloc: Allocator::new(&geo),
            applied: 0,
            problems: Vec::new(),
        };
        let fs = Famfs {
            dev,
            sb,
            geo,
            role,
            local_uuid: local,
            lock_wait: opts.lock_wait,
            stale: OnceLock::new(),
            state: RwLock::new(state),
        };
        fs.refresh()?;
        Ok(fs)
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }
    pub fn geometry(&self) -> Geometry {
        self.geo
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn device(&self) -> &Device {
        &self.dev
    }

    fn log(&self) -> Log<'_> {
        Log::new(&self.dev, &self.sb, self.geo)
    }

    /// Why the device no longer holds the file system opened, if it does
    /// not (it was reformatted under us).
    pub fn stale(&self) -> Option<MetaError> {
        self.stale.get().map(|why| MetaError::Stale(why.clone()))
    }

    fn mark_stale(&self, why: String) -> MetaError {
        if self.stale.set(why.clone()).is_ok() {
            log::error!(
                "{}: {why}; refusing every further request (restart to serve the new file system)",
                self.dev.path().display()
            );
        }
        self.stale().unwrap_or(MetaError::Stale(why))
    }

    /// Errs if the device's superblock no longer names the file system
    /// we opened: a sealed superblock with another uuid, or none at all.
    fn check_identity(&self) -> Result<()> {
        if let Some(e) = self.stale() {
            return Err(e);
        }
        let read = || -> Result<Option<SuperblockId>> {
            let len = std::mem::size_of::<RawSuperblock>() as u64;
            super::cache::invalidate(&self.dev, 0, len)?;
            Ok(SuperblockId::of(&self.dev.read_obj(0)?))
        };
        // Another host may be rewriting it: read once more before judging.
        let id = match read()? {
            Some(id) => Some(id),
            None => read()?,
        };
        match id {
            Some(id) if id.fs_uuid == self.sb.fs_uuid => Ok(()),
            Some(id) => Err(self.mark_stale(format!(
                "the device was reformatted (file system {} replaced by {})",
                self.sb.fs_uuid, id.fs_uuid
            ))),
            None => Err(self.mark_stale(format!(
                "the superblock of file system {} is gone",
                self.sb.fs_uuid
            ))),
        }
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the tree half
        // updated (updates are single inserts), so poison is ignored.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the current tree.
    pub fn with_ns<R>(&self, f: impl FnOnce(&Namespace) -> R) -> R {
        f(&self.read_state().ns)
    }

    /// The node at `path`, cloned.
    pub fn stat(&self, path: &(impl AsRef<[u8]> + ?Sized)) -> Result<Node> {
        let path = path.as_ref();
        self.with_ns(|ns| ns.resolve(path).cloned())
            .ok_or_else(|| MetaError::NotFound(path.to_vec()))
    }

    /// Index of the first entry not yet replayed.
    pub fn applied(&self) -> u64 {
        self.read_state().applied
    }

    /// Problems replay has met so far.
    pub fn problems(&self) -> Vec<ReplayProblem> {
        self.read_state().problems.clone()
    }

    /// Replays entries appended since the last call (by anyone). Returns
    /// how many were new. Cheap when nothing changed.
    pub fn refresh(&self) -> Result<u64> {
        self.check_identity()?;
        let h = self.log().header()?;
        if h.next_index == self.read_state().applied {
            return Ok(0);
        }
        let mut st = self.write_state();
        // Appends through this handle may have run between the header read
        // and the write lock: judge against a fresh header, never moving
        // `applied` back (that would replay entries twice).
        let h = if h.next_index < st.applied {
            self.log().header()?
        } else {
            h
        };
        if h.next_index < st.applied {
            return Err(self.mark_stale(format!(
                "the log shrank from {} to {} entries (reformatted?)",
                st.applied, h.next_index
            )));
        }
        self.replay_locked(&mut st, &h)
    }

    fn replay_locked(&self, st: &mut State, h: &LogHeader) -> Result<u64> {
        let from = st.applied;
        if h.next_index <= from {
            return Ok(0);
        }
        let log = self.log();
        for index in from..h.next_index {
            match log.read(index) {
                Ok(rec) => {
                    if let LogRecord::File(f) = &rec {
                        for e in f.fmap.ranges() {
                            if let Some(c) = st.alloc.mark(e) {
                                st.problems.push(ReplayProblem {
                                    index,
                                    what: format!(
                                        "{}: extent {:#x}+{:#x} is cross-linked with another file",
                                        f.path, c.offset, c.len
                                    ),
                                    damaged: true,
                                });
                            }
                        }
                    }
                    if let Err(what) = st.ns.apply(index, &rec) {
                        log::warn!("log entry {index} not applied: {what}");
                        st.problems.push(ReplayProblem {
                            index,
                            what,
                            damaged: false,
                        });
                    }
                }
                Err(e) => {
                    log::error!("log entry {index} is damaged: {e}");
                    st.problems.push(ReplayProblem {
                        index,
                        what: e.to_string(),
                        damaged: true,
                    });
                }
            }
        }
        st.applied = h.next_index;
        if h.next_index > from {
            let start = super::format::entry_offset(from);
            self.dev
                .release(start, super::format::entry_offset(h.next_index) - start);
        }
        Ok(h.next_index - from)
    }

    /// Usage figures.
    pub fn usage(&self) -> Result<Usage> {
        let h = self.log().header()?;
        let st = self.read_state();
        Ok(Usage {
            total_bytes: self.geo.dev_size,
            free_bytes: st.alloc.free_bytes(),
            largest_free: st.alloc.largest_free(),
            meta_bytes: self.sb.meta_size(),
            log_slots: h.slots(),
            log_used: h.next_index,
            files: st.ns.files(),
            dirs: st.ns.dirs(),
        })
    }

    fn check_may_write(&self, st: &State) -> Result<()> {
        if self.role != Role::Master {
            return Err(MetaError::NotMaster {
                local: self
                    .local_uuid
                    .map_or_else(|| "unknown".to_string(), |u| u.to_string()),
                master: self.sb.system_uuid.to_string(),
            });
        }
        if !self.dev.is_writable() {
            return Err(MetaError::ReadOnly);
        }
        if let Some(p) = st.problems.iter().find(|p| p.damaged) {
            return Err(MetaError::BadEntry {
                index: p.index,
                reason: format!(
                    "{}; refusing to append until `vhost-famfs fsck` is clean",
                    p.what
                ),
            });
        }
        Ok(())
    }

    /// Appends one entry under both locks: replay first, so that `prepare`
    /// sees every entry other writers committed, then commit. If the commit
    /// fails, the units a FILE record's `prepare` allocated are freed.
    ///
    /// The device lock comes first, with a bounded wait and without the
    /// tree lock: a process stalled while holding it delays only appends,
    /// which then fail with `MetaError::Busy`, never lookups.
    fn append(&self, prepare: impl FnOnce(&mut State) -> Result<LogRecord>) -> Result<u64> {
        self.check_may_write(&self.read_state())?;
        let _flock = self.dev.lock(self.lock_wait).map_err(|e| match e {
            crate::device::DeviceError::LockBusy { waited_ms, .. } => MetaError::Busy {
                path: self.dev.path().display().to_string(),
                waited_ms,
            },
            e => e.into(),
        })?;
        self.check_identity()?;
        let mut st = self.write_state();
        let h = self.log().header()?;
        if h.next_index < st.applied {
            return Err(self.mark_stale(format!(
                "the log shrank from {} to {} entries (reformatted?)",
                st.applied, h.next_index
            )));
        }
        if h.is_torn() {
            log::warn!(
                "log header: next seqnum {} differs from next index {} (an append was interrupted); this append rewrites it",
                h.next_seqnum,
                h.next_index
            );
        }
        self.replay_locked(&mut st, &h)?;
        self.check_may_write(&st)?;
        let rec = prepare(&mut st)?;
        match self.log().append(&h, &rec) {
            Ok(index) => {
                if let Err(what) = st.ns.apply(index, &rec) {
                    // prepare() checked the name under the lock.
                    log::error!("entry {index} committed but not applied: {what}");
                }
                st.applied = index + 1;
                Ok(index)
            }
            Err(e) => {
                if let LogRecord::File(f) = &rec {
                    st.alloc.free(&f.fmap);
                }
                Err(e)
            }
        }
    }

    /// Checks that `path`'s parent is an existing directory and its name is
    /// free.
    fn check_new_name(ns: &Namespace, path: &RelPath) -> Result<()> {
        let (parent, _) = path.split_last();
        let parent = parent.unwrap_or_default();
        match ns.resolve(parent) {
            None => return Err(MetaError::NotFound(parent.to_vec())),
            Some(p) if !p.is_dir() => return Err(MetaError::NotDir(parent.to_vec())),
            _ => {}
        }
        if ns.resolve(path).is_some() {
            return Err(MetaError::Exists(path.as_bytes().to_vec()));
        }
        Ok(())
    }

    /// Creates a file: allocate, then commit its log entry. Every file
    /// gets at least one allocation unit, even an empty one.
    pub fn create(&self, path: &RelPath, spec: &FileSpec) -> Result<Node> {
        self.append(|st| {
            Self::check_new_name(&st.ns, path)?;
            let fmap = st.alloc.alloc(spec.size, spec.striping)?;
            Ok(LogRecord::File(FileRecord {
                path: path.clone(),
                size: spec.size,
                flags: FILE_FLAG_ALL_HOSTS_RW,
                uid: spec.uid,
                gid: spec.gid,
                mode: spec.mode & 0o7777,
                fmap,
            }))
        })?;
        self.stat(path)
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &RelPath, mode: u32, uid: u32, gid: u32) -> Result<Node> {
        self.append(|st| {
            Self::check_new_name(&st.ns, path)?;
            Ok(LogRecord::Mkdir(DirRecord {
                path: path.clone(),
                uid,
                gid,
                mode: mode & 0o7777,
            }))
        })?;
        self.stat(path)
    }

    /// Creates `path` and any missing parents; existing directories are
    /// fine (mkdir -p).
    pub fn mkdir_p(&self, path: &RelPath, mode: u32, uid: u32, gid: u32) -> Result<Node> {
        let mut prefix: Option<RelPath> = None;
        for comp in path.components() {
            let p = RelPath::join(prefix.as_ref(), comp)?;
            match self.stat(&p) {
                Ok(n) if n.is_dir() => {}
                Ok(_) => return Err(MetaError::NotDir(p.as_bytes().to_vec())),
                Err(MetaError::NotFound(_)) => match self.mkdir(&p, mode, uid, gid) {
                    Ok(_) | Err(MetaError::Exists(_)) => {}
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
            prefix = Some(p);
        }
        self.stat(path)
    }
}

/// Repairs what `fsck --repair` may: a log header torn by a crash between
/// its two counter stores. Returns what was repaired; takes the device lock.
pub fn repair(dev: &Device, wait: LockWait) -> Result<Vec<String>> {
    let _flock = dev.lock(wait)?;
    let sb = read_superblock(dev)?;
    let log = Log::new(dev, &sb, Geometry::of(&sb));
    let h = log.header()?;
    let mut done = Vec::new();
    if h.is_torn() {
        log.repair_torn(&h)?;
        done.push(format!(
            "log header: next seqnum {} set to next index {}",
            h.next_seqnum, h.next_index
        ));
    }
    Ok(done)
}

/// Reads and validates the superblock of `dev`.
pub fn read_superblock(dev: &Device) -> Result<Superblock> {
    let read = || -> Result<Superblock> {
        super::cache::invalidate(dev, 0, std::mem::size_of::<RawSuperblock>() as u64)?;
        let raw: RawSuperblock = dev.read_obj(0)?;
        Superblock::decode(&raw, dev.size())
    };
    // Another host may be rewriting it: one more read before failing.
    read().or_else(|_| read())
}
