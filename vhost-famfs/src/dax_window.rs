// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-fs DAX window of one connection: which file ranges are
//! mapped where.
//!
//! A stock Linux guest mounted `-o dax=always` manages shared memory
//! region 0 in 2 MiB ranges (fs/fuse/dax.c): FUSE_SETUPMAPPING asks for a
//! file range at a window offset, FUSE_REMOVEMAPPING gives ranges back.
//! `DaxMap` validates every such request against the file's extents,
//! the window and the live mappings, and carries it out through a
//! `ShmemMapper`: one SHMEM_MAP per contiguous device piece of the file
//! range (the file's extents need not be contiguous), one SHMEM_UNMAP per
//! piece mapped, as the VMM only unmaps exactly what it mapped.
//!
//! What the Linux driver sends (6.12): SETUPMAPPING always covers one
//! 2 MiB range (`len` 2 MiB, `foffset` and `moffset` 2 MiB aligned); it is
//! sent again at the same `moffset` for the same file range with the WRITE
//! flag added when a read-only range is first written ("upgrade"), so a
//! request exactly over a live mapping replaces it. REMOVEMAPPING lists up
//! to 256 `{moffset, len}` pairs, each one range it set up before.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vhost::vhost_user::message::{VhostUserMMap, VhostUserMMapFlags};
use vhost::vhost_user::{Backend, VhostUserFrontendReqHandler};

use crate::filesystem::{FileSystem, FsResult};
use crate::fuse::abi::{
    RemovemappingOne, SetupmappingIn, SETUPMAPPING_FLAG_READ, SETUPMAPPING_FLAG_WRITE,
};
use crate::fuse::DaxWindow;
use crate::meta::fmap::Extent;
use crate::meta::Famfs;
use crate::server::Access;

/// A Linux errno (positive).
pub type Errno = i32;

/// log2 of the window's granule, announced in FUSE_INIT's
/// `map_alignment` (the Linux driver requires at most 21 and uses 2 MiB).
pub const MAP_ALIGNMENT_SHIFT: u16 = 21;
/// The window's granule: offsets and lengths are multiples of it.
pub const MAP_ALIGNMENT: u64 = 1 << MAP_ALIGNMENT_SHIFT;
/// The most ranges one REMOVEMAPPING may list: the Linux driver's
/// FUSE_REMOVEMAPPING_MAX_ENTRY (a page of 16-byte pairs). A decoder must
/// refuse a larger count before reading the list.
pub const MAX_REMOVE_RANGES: usize = 4096 / 16;
/// Device offsets handed to the VMM must be page aligned (it mmaps them).
const PAGE: u64 = 4096;

/// Carries mappings out in the VMM (shared memory region 0).
pub trait ShmemMapper: Send + Sync {
    /// Maps device bytes `[fd_offset, fd_offset + len)` at window offset
    /// `shm_offset`.
    fn map(&self, shm_offset: u64, fd_offset: u64, len: u64, writable: bool) -> io::Result<()>;
    /// Unmaps what one earlier `map` at `shm_offset` of `len` bytes mapped.
    fn unmap(&self, shm_offset: u64, len: u64) -> io::Result<()>;
}

/// A `ShmemMapper` over the vhost-user backend channel: SHMEM_MAP with the
/// device's file descriptor, SHMEM_UNMAP. The channel arrives after the
/// connection is set up (SET_BACKEND_REQ_FD).
pub struct VmmMapper<F> {
    backend: Mutex<Option<Backend>>,
    device: F,
}

impl<F: AsRawFd + Send + Sync> VmmMapper<F> {
    pub fn new(device: F) -> Self {
        VmmMapper {
            backend: Mutex::new(None),
            device,
        }
    }

    pub fn set_backend(&self, backend: Backend) {
        *self.backend.lock().unwrap_or_else(|e| e.into_inner()) = Some(backend);
    }

    fn backend(&self) -> io::Result<Backend> {
        self.backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| io::Error::other("the VMM gave no backend channel"))
    }
}

impl<F: AsRawFd + Send + Sync> ShmemMapper for VmmMapper<F> {
    fn map(&self, shm_offset: u64, fd_offset: u64, len: u64, writable: bool) -> io::Result<()> {
        // QEMU 11.1.2 ignores WRITABLE (its mappings are always read-write);
        // it is sent for VMMs that honour it.
        let msg = VhostUserMMap {
            shmid: 0,
            fd_offset,
            shm_offset,
            len,
            flags: if writable {
                VhostUserMMapFlags::WRITABLE.bits()
            } else {
                0
            },
            ..Default::default()
        };
        self.backend()?
            .shmem_map(&msg, &self.device)
            .map(|_| ())
            .map_err(io::Error::other)
    }

    fn unmap(&self, shm_offset: u64, len: u64) -> io::Result<()> {
        let msg = VhostUserMMap {
            shmid: 0,
            shm_offset,
            len,
            ..Default::default()
        };
        self.backend()?
            .shmem_unmap(&msg)
            .map(|_| ())
            .map_err(io::Error::other)
    }
}

/// The device file of an open file system, as the fd to map.
pub struct DeviceFd(pub Arc<Famfs>);

impl AsRawFd for DeviceFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.device().file().as_raw_fd()
    }
}

/// Parses a `dax-window=` size: a power of two of at least 2 MiB, in
/// bytes or with a K/M/G/T suffix (binary units).
pub fn parse_window_size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("dax-window={s}: not a size"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return Err(format!("dax-window={s}: unknown unit {unit:?}")),
    };
    let size = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("dax-window={s}: too large"))?;
    // QEMU packs shared memory regions into one BAR: a power of two.
    if !size.is_power_of_two() || !(MAP_ALIGNMENT..=1 << 46).contains(&size) {
        return Err(format!(
            "dax-window={s}: a power of two from 2M to 64T expected"
        ));
    }
    Ok(size)
}

/// One FUSE_SETUPMAPPING, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The file's node id.
    pub node: u64,
    pub foffset: u64,
    pub len: u64,
    pub moffset: u64,
    /// FUSE_SETUPMAPPING_FLAG_WRITE was set.
    pub write: bool,
}

/// One contiguous device piece mapped by one SHMEM_MAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    shm_offset: u64,
    fd_offset: u64,
    len: u64,
}

/// A live mapping: one SETUPMAPPING carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    node: u64,
    foffset: u64,
    len: u64,
    writable: bool,
    pieces: Vec<Piece>,
}

/// Counters for the log and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaxStats {
    /// SETUPMAPPING requests carried out (replacements included).
    pub setups: u64,
    /// Bytes those requests mapped.
    pub bytes_mapped: u64,
    /// Ranges removed by REMOVEMAPPING.
    pub removes: u64,
    /// Requests refused.
    pub refused: u64,
}

/// The mappings of one DAX window. Requests from several request queues
/// are serialized on its lock, the VMM calls included, so the table
/// always matches what the VMM holds.
pub struct DaxMap<M> {
    mapper: M,
    /// The window's size (region 0).
    size: u64,
    /// Device bytes below this (the superblock and log) are never mapped.
    meta_size: u64,
    /// The device's size: no piece reaches past it.
    device_size: u64,
    /// The socket's role lets its guests write file bytes.
    role_writable: bool,
    state: Mutex<State>,
    /// Bumped by `forget`, which must not wait for the lock: a request
    /// worker holds it across a VMM round trip, and the VMM may be waiting
    /// for the very frontend request that calls `forget`.
    resets: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Live mappings by window offset.
    live: BTreeMap<u64, Mapping>,
    /// The `resets` count `live` belongs to.
    epoch: u64,
    stats: DaxStats,
}

impl<M: ShmemMapper> DaxMap<M> {
    pub fn new(
        mapper: M,
        size: u64,
        meta_size: u64,
        device_size: u64,
        role_writable: bool,
    ) -> Self {
        DaxMap {
            mapper,
            size,
            meta_size,
            device_size,
            role_writable,
            state: Mutex::new(State::default()),
            resets: AtomicU64::new(0),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn mapper(&self) -> &M {
        &self.mapper
    }

    /// The table, emptied first if the VMM dropped every mapping since.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = self.resets.load(Ordering::Acquire);
        if st.epoch != epoch {
            st.live.clear();
            st.epoch = epoch;
            let s = st.stats;
            self.log_stats(&s);
        }
        st
    }

    pub fn stats(&self) -> DaxStats {
        self.state().stats
    }

    /// Live mappings (for tests and logs).
    pub fn live(&self) -> usize {
        self.state().live.len()
    }

    /// Carries out a SETUPMAPPING of file `req.node`, whose extents in file
    /// order are `extents`. Nothing changes unless it succeeds (a replaced
    /// mapping is restored if the new one cannot be made).
    pub fn setup(&self, req: &Setup, extents: &[Extent]) -> Result<(), Errno> {
        let mut st = self.state();
        let r = self.try_setup(&mut st, req, extents);
        match r {
            Ok(()) => {
                st.stats.setups += 1;
                st.stats.bytes_mapped += req.len;
            }
            Err(e) => {
                st.stats.refused += 1;
                log::debug!("SETUPMAPPING {req:?} refused: errno {e}");
            }
        }
        r
    }

    fn try_setup(&self, st: &mut State, req: &Setup, extents: &[Extent]) -> Result<(), Errno> {
        if req.len == 0 || !aligned(req.foffset) || !aligned(req.moffset) || !aligned(req.len) {
            return Err(libc::EINVAL);
        }
        let mend = req.moffset.checked_add(req.len).ok_or(libc::EINVAL)?;
        if mend > self.size {
            return Err(libc::EINVAL);
        }
        if req.write && !self.role_writable {
            return Err(libc::EROFS);
        }
        let pieces = self.pieces(req, extents)?;
        // Only a request exactly over one live mapping may replace it.
        let replaced = match overlapping(&st.live, req.moffset, mend).as_slice() {
            [] => None,
            [m] if *m == req.moffset && st.live[m].len == req.len => Some(*m),
            _ => return Err(libc::EBUSY),
        };
        let new = Mapping {
            node: req.node,
            foffset: req.foffset,
            len: req.len,
            writable: req.write,
            pieces,
        };
        if let Some(old) = replaced.and_then(|m| st.live.remove(&m)) {
            if old == new {
                st.live.insert(req.moffset, old);
                return Ok(());
            }
            self.unmap_pieces(&old.pieces);
            if let Err(e) = self.map_pieces(&new) {
                if self.map_pieces(&old).is_ok() {
                    st.live.insert(req.moffset, old);
                } else {
                    log::error!("DAX window: lost the mapping at {:#x}", req.moffset);
                }
                return Err(e);
            }
        } else {
            self.map_pieces(&new)?;
        }
        st.live.insert(req.moffset, new);
        Ok(())
    }

    /// The device pieces behind the file range, each within the device's
    /// data area and page aligned.
    fn pieces(&self, req: &Setup, extents: &[Extent]) -> Result<Vec<Piece>, Errno> {
        let fend = req.foffset.checked_add(req.len).ok_or(libc::EINVAL)?;
        let mut out = Vec::new();
        let mut pos = 0u64; // file offset of extent `e`
        for e in extents {
            let (start, end) = (pos, pos.saturating_add(e.len));
            pos = end;
            if end <= req.foffset {
                continue;
            }
            if start >= fend {
                break;
            }
            let from = start.max(req.foffset);
            let to = end.min(fend);
            let fd_offset = e.offset + (from - start);
            let len = to - from;
            // Replay validated the extents; these would mean a corrupt
            // device and are never mapped.
            if fd_offset < self.meta_size
                || fd_offset.saturating_add(len) > self.device_size
                || fd_offset % PAGE != 0
                || len % PAGE != 0
            {
                log::error!(
                    "file {} maps device {fd_offset:#x}+{len:#x}: not a data range",
                    req.node
                );
                return Err(libc::EIO);
            }
            out.push(Piece {
                shm_offset: req.moffset + (from - req.foffset),
                fd_offset,
                len,
            });
        }
        // The whole range must be the file's own bytes (its extents).
        if pos < fend {
            return Err(libc::EINVAL);
        }
        Ok(out)
    }

    fn map_pieces(&self, m: &Mapping) -> Result<(), Errno> {
        for (i, p) in m.pieces.iter().enumerate() {
            if let Err(e) = self
                .mapper
                .map(p.shm_offset, p.fd_offset, p.len, m.writable)
            {
                log::error!(
                    "SHMEM_MAP {:#x}+{:#x} at {:#x} failed: {e}",
                    p.fd_offset,
                    p.len,
                    p.shm_offset
                );
                self.unmap_pieces(&m.pieces[..i]);
                return Err(libc::EIO);
            }
        }
        Ok(())
    }

    fn unmap_pieces(&self, pieces: &[Piece]) {
        for p in pieces {
            if let Err(e) = self.mapper.unmap(p.shm_offset, p.len) {
                log::warn!("SHMEM_UNMAP {:#x}+{:#x} failed: {e}", p.shm_offset, p.len);
            }
        }
    }

    /// Carries out a REMOVEMAPPING: every `(moffset, len)` must cover whole
    /// live mappings, at least one. All ranges are checked before any is
    /// removed: a refused request removes nothing.
    pub fn remove(&self, ranges: &[(u64, u64)]) -> Result<(), Errno> {
        let mut st = self.state();
        let r = self.try_remove(&mut st, ranges);
        match r {
            Ok(n) => st.stats.removes += n,
            Err(e) => {
                st.stats.refused += 1;
                log::debug!(
                    "REMOVEMAPPING of {} ranges refused: errno {e}",
                    ranges.len()
                );
            }
        }
        r.map(|_| ())
    }

    fn try_remove(&self, st: &mut State, ranges: &[(u64, u64)]) -> Result<u64, Errno> {
        if ranges.is_empty() || ranges.len() > MAX_REMOVE_RANGES {
            return Err(libc::EINVAL);
        }
        let mut doomed = Vec::new();
        for &(moffset, len) in ranges {
            if len == 0 || !aligned(moffset) || !aligned(len) {
                return Err(libc::EINVAL);
            }
            let end = moffset.checked_add(len).ok_or(libc::EINVAL)?;
            if end > self.size {
                return Err(libc::EINVAL);
            }
            let hit = overlapping(&st.live, moffset, end);
            if hit.is_empty() {
                return Err(libc::EINVAL);
            }
            for m in hit {
                let inside = m >= moffset && m + st.live[&m].len <= end;
                // A mapping cut in two, or listed twice.
                if !inside || doomed.contains(&m) {
                    return Err(libc::EINVAL);
                }
                doomed.push(m);
            }
        }
        for m in &doomed {
            if let Some(old) = st.live.remove(m) {
                self.unmap_pieces(&old.pieces);
            }
        }
        Ok(doomed.len() as u64)
    }

    /// Unmaps every live mapping (the guest unmounted or mounts again).
    pub fn unmap_all(&self) {
        let mut st = self.state();
        let live = std::mem::take(&mut st.live);
        for m in live.values() {
            self.unmap_pieces(&m.pieces);
        }
        self.log_stats(&st.stats);
    }

    /// Forgets every mapping without unmapping: the VMM dropped them
    /// itself (device reset or stop).
    pub fn forget(&self) {
        self.resets.fetch_add(1, Ordering::AcqRel);
    }

    fn log_stats(&self, s: &DaxStats) {
        if s.setups + s.refused > 0 {
            log::info!(
                "DAX window: {} SETUPMAPPING ({} MiB mapped), {} ranges removed, {} refused",
                s.setups,
                s.bytes_mapped >> 20,
                s.removes,
                s.refused
            );
        }
    }
}

/// The FUSE server's window: SETUPMAPPING and REMOVEMAPPING decoded
/// there land here.
impl<M: ShmemMapper> DaxWindow for DaxMap<M> {
    fn map_alignment(&self) -> Option<u16> {
        Some(MAP_ALIGNMENT_SHIFT)
    }

    fn setup_mapping(
        &self,
        fs: &dyn FileSystem,
        ino: u64,
        inp: &SetupmappingIn,
        access: Access,
    ) -> FsResult<()> {
        if inp.flags & !(SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE) != 0 {
            return Err(libc::EINVAL);
        }
        let write = inp.flags & SETUPMAPPING_FLAG_WRITE != 0;
        // As for WRITE: famfs's "read-only on every host" files stay so.
        if write && access != Access::ReadOnly && fs.getattr(ino)?.all_hosts_ro {
            return Err(libc::EACCES);
        }
        let (size, fmap) = fs.fmap(ino)?;
        let extents = fmap.expand(size);
        let req = Setup {
            node: ino,
            foffset: inp.foffset,
            len: inp.len,
            moffset: inp.moffset,
            write,
        };
        self.setup(&req, &extents)
    }

    fn remove_mapping(&self, ranges: &[RemovemappingOne]) -> FsResult<()> {
        let pairs: Vec<(u64, u64)> = ranges.iter().map(|r| (r.moffset, r.len)).collect();
        self.remove(&pairs)
    }

    /// Called from frontend-request callbacks too (device stop): only
    /// forgets, as the VMM dropped the mappings and a backend request from
    /// there would deadlock it.
    fn reset(&self) {
        self.forget();
    }

    /// DESTROY or a new INIT, on a request queue: the VMM still holds the
    /// mappings; give the window back whole.
    fn unmount(&self) {
        self.unmap_all();
    }
}

fn aligned(v: u64) -> bool {
    v % MAP_ALIGNMENT == 0
}

/// Window offsets of the live mappings meeting `[start, end)`.
fn overlapping(live: &BTreeMap<u64, Mapping>, start: u64, end: u64) -> Vec<u64> {
    let mut out = Vec::new();
    // The one starting before `start` may reach into the range.
    if let Some((&m, map)) = live.range(..start).next_back() {
        if m + map.len > start {
            out.push(m);
        }
    }
    out.extend(live.range(start..end).map(|(&m, _)| m));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB2: u64 = MAP_ALIGNMENT;
    const META: u64 = 8 * MB2;
    const DEV: u64 = 512 * MB2;
    const WIN: u64 = 32 * MB2;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Call {
        Map(u64, u64, u64, bool),
        Unmap(u64, u64),
    }

    /// Records calls; fails the `fail_at`-th map.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<Call>>,
        fail_at: Mutex<Option<usize>>,
        maps: Mutex<usize>,
    }

    impl Fake {
        fn take(&self) -> Vec<Call> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    impl ShmemMapper for Fake {
        fn map(&self, s: u64, f: u64, l: u64, w: bool) -> io::Result<()> {
            let mut n = self.maps.lock().unwrap();
            *n += 1;
            if *self.fail_at.lock().unwrap() == Some(*n) {
                return Err(io::Error::other("refused by the VMM"));
            }
            self.calls.lock().unwrap().push(Call::Map(s, f, l, w));
            Ok(())
        }
        fn unmap(&self, s: u64, l: u64) -> io::Result<()> {
            self.calls.lock().unwrap().push(Call::Unmap(s, l));
            Ok(())
        }
    }

    fn win(writable: bool) -> DaxMap<Fake> {
        DaxMap::new(Fake::default(), WIN, META, DEV, writable)
    }

    /// A 16 MiB file in two extents: 10 MiB at 100 MiB, 6 MiB at 40 MiB.
    fn file() -> Vec<Extent> {
        vec![
            Extent {
                offset: 50 * MB2,
                len: 5 * MB2,
            },
            Extent {
                offset: 20 * MB2,
                len: 3 * MB2,
            },
        ]
    }

    fn req(foffset: u64, len: u64, moffset: u64, write: bool) -> Setup {
        Setup {
            node: 64,
            foffset,
            len,
            moffset,
            write,
        }
    }

    #[test]
    fn one_map_per_contiguous_piece() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        assert_eq!(w.mapper.take(), [Call::Map(0, 50 * MB2, MB2, false)]);
        // 4 MiB from 8 MiB: the last 2 MiB of extent 0, the first of 1.
        w.setup(&req(4 * MB2, 2 * MB2, 4 * MB2, true), &file())
            .unwrap();
        assert_eq!(
            w.mapper.take(),
            [
                Call::Map(4 * MB2, 54 * MB2, MB2, true),
                Call::Map(5 * MB2, 20 * MB2, MB2, true)
            ]
        );
        assert_eq!(w.live(), 2);
        assert_eq!(w.stats().setups, 2);
        assert_eq!(w.stats().bytes_mapped, 3 * MB2);
    }

    #[test]
    fn misaligned_is_refused() {
        let w = win(true);
        for r in [
            req(4096, MB2, 0, false),
            req(0, MB2, 4096, false),
            req(0, MB2 / 2, 0, false),
            req(0, 0, 0, false),
        ] {
            assert_eq!(w.setup(&r, &file()), Err(libc::EINVAL), "{r:?}");
        }
        assert!(w.mapper.take().is_empty());
        assert_eq!(w.stats().refused, 4);
    }

    #[test]
    fn outside_the_window_is_refused() {
        let w = win(true);
        assert_eq!(
            w.setup(&req(0, MB2, WIN, false), &file()),
            Err(libc::EINVAL)
        );
        assert_eq!(
            w.setup(&req(0, 2 * MB2, WIN - MB2, false), &file()),
            Err(libc::EINVAL)
        );
        let top = u64::MAX - MB2 + 1;
        assert_eq!(
            w.setup(&req(0, MB2, top, false), &file()),
            Err(libc::EINVAL)
        );
        assert_eq!(w.setup(&req(0, top, 0, false), &file()), Err(libc::EINVAL));
        assert!(w.mapper.take().is_empty());
        w.setup(&req(0, MB2, WIN - MB2, false), &file()).unwrap();
    }

    #[test]
    fn outside_the_file_is_refused() {
        let w = win(true);
        assert_eq!(
            w.setup(&req(8 * MB2, MB2, 0, false), &file()),
            Err(libc::EINVAL)
        );
        assert_eq!(
            w.setup(&req(7 * MB2, 2 * MB2, 0, false), &file()),
            Err(libc::EINVAL)
        );
        let top = u64::MAX - MB2 + 1;
        assert_eq!(
            w.setup(&req(top, MB2, 0, false), &file()),
            Err(libc::EINVAL)
        );
        assert_eq!(w.setup(&req(0, MB2, 0, false), &[]), Err(libc::EINVAL));
        assert!(w.mapper.take().is_empty());
        assert_eq!(w.live(), 0);
    }

    #[test]
    fn metadata_and_odd_extents_are_never_mapped() {
        let w = win(true);
        let into_meta = [Extent {
            offset: META - MB2,
            len: 2 * MB2,
        }];
        assert_eq!(w.setup(&req(0, MB2, 0, false), &into_meta), Err(libc::EIO));
        let past_dev = [Extent {
            offset: DEV - MB2,
            len: 2 * MB2,
        }];
        assert_eq!(
            w.setup(&req(0, 2 * MB2, 0, false), &past_dev),
            Err(libc::EIO)
        );
        let unaligned = [Extent {
            offset: 50 * MB2 + 512,
            len: MB2,
        }];
        assert_eq!(w.setup(&req(0, MB2, 0, false), &unaligned), Err(libc::EIO));
        assert!(w.mapper.take().is_empty());
    }

    #[test]
    fn read_only_role_refuses_write_mappings() {
        let w = win(false);
        assert_eq!(w.setup(&req(0, MB2, 0, true), &file()), Err(libc::EROFS));
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        assert_eq!(w.mapper.take(), [Call::Map(0, 50 * MB2, MB2, false)]);
    }

    #[test]
    fn partial_overlap_is_refused() {
        let w = win(true);
        w.setup(&req(0, 2 * MB2, 2 * MB2, false), &file()).unwrap();
        w.mapper.take();
        for m in [MB2, 3 * MB2] {
            assert_eq!(
                w.setup(&req(0, 2 * MB2, m, false), &file()),
                Err(libc::EBUSY),
                "{m:#x}"
            );
        }
        // Same start, other length.
        assert_eq!(
            w.setup(&req(0, MB2, 2 * MB2, false), &file()),
            Err(libc::EBUSY)
        );
        assert!(w.mapper.take().is_empty());
        // Touching is not overlapping.
        w.setup(&req(0, MB2, MB2, false), &file()).unwrap();
        w.setup(&req(0, MB2, 4 * MB2, false), &file()).unwrap();
        assert_eq!(w.live(), 3);
    }

    #[test]
    fn same_range_again_replaces_it() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        w.mapper.take();
        // The driver's upgrade: the same range, now writable.
        w.setup(&req(0, MB2, 0, true), &file()).unwrap();
        assert_eq!(
            w.mapper.take(),
            [Call::Unmap(0, MB2), Call::Map(0, 50 * MB2, MB2, true)]
        );
        // Exactly what is live: nothing to do.
        w.setup(&req(0, MB2, 0, true), &file()).unwrap();
        assert!(w.mapper.take().is_empty());
        // Another file range at the same window offset.
        w.setup(&req(6 * MB2, MB2, 0, false), &file()).unwrap();
        assert_eq!(
            w.mapper.take(),
            [Call::Unmap(0, MB2), Call::Map(0, 21 * MB2, MB2, false)]
        );
        assert_eq!(w.live(), 1);
    }

    #[test]
    fn a_failed_map_leaves_nothing_behind() {
        let w = win(true);
        *w.mapper.fail_at.lock().unwrap() = Some(2);
        // Two pieces; the second map fails: the first is unmapped again.
        assert_eq!(
            w.setup(&req(4 * MB2, 2 * MB2, 0, false), &file()),
            Err(libc::EIO)
        );
        assert_eq!(
            w.mapper.take(),
            [Call::Map(0, 54 * MB2, MB2, false), Call::Unmap(0, MB2)]
        );
        assert_eq!(w.live(), 0);
    }

    #[test]
    fn a_failed_replacement_restores_the_old_mapping() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        w.mapper.take();
        *w.mapper.fail_at.lock().unwrap() = Some(2);
        assert_eq!(w.setup(&req(MB2, MB2, 0, false), &file()), Err(libc::EIO));
        assert_eq!(
            w.mapper.take(),
            [Call::Unmap(0, MB2), Call::Map(0, 50 * MB2, MB2, false)]
        );
        assert_eq!(w.live(), 1);
        // The restored mapping is the live one: removing it unmaps it.
        w.remove(&[(0, MB2)]).unwrap();
        assert_eq!(w.mapper.take(), [Call::Unmap(0, MB2)]);
    }

    #[test]
    fn remove_unmaps_each_piece() {
        let w = win(true);
        w.setup(&req(4 * MB2, 2 * MB2, 0, false), &file()).unwrap();
        w.setup(&req(0, MB2, 6 * MB2, false), &file()).unwrap();
        w.mapper.take();
        w.remove(&[(0, 2 * MB2), (6 * MB2, MB2)]).unwrap();
        assert_eq!(
            w.mapper.take(),
            [
                Call::Unmap(0, MB2),
                Call::Unmap(MB2, MB2),
                Call::Unmap(6 * MB2, MB2)
            ]
        );
        assert_eq!(w.live(), 0);
        assert_eq!(w.stats().removes, 2);
    }

    #[test]
    fn one_range_may_cover_several_mappings() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        w.setup(&req(MB2, MB2, MB2, false), &file()).unwrap();
        w.mapper.take();
        w.remove(&[(0, 4 * MB2)]).unwrap();
        assert_eq!(
            w.mapper.take(),
            [Call::Unmap(0, MB2), Call::Unmap(MB2, MB2)]
        );
    }

    #[test]
    fn bad_removes_remove_nothing() {
        let w = win(true);
        w.setup(&req(0, 2 * MB2, 0, false), &file()).unwrap();
        w.setup(&req(0, MB2, 4 * MB2, false), &file()).unwrap();
        w.mapper.take();
        let top = u64::MAX - MB2 + 1;
        let bad: [&[(u64, u64)]; 9] = [
            &[],
            // Unmapped range (after a valid one: nothing is removed).
            &[(4 * MB2, MB2), (8 * MB2, MB2)],
            // Cuts a mapping in two.
            &[(0, MB2)],
            &[(MB2, 2 * MB2)],
            // Listed twice.
            &[(4 * MB2, MB2), (4 * MB2, MB2)],
            // Misaligned, empty, past the window, wrapping.
            &[(4 * MB2 + 4096, MB2)],
            &[(4 * MB2, 0)],
            &[(WIN, MB2)],
            &[(top, MB2)],
        ];
        for r in bad {
            assert_eq!(w.remove(r), Err(libc::EINVAL), "{r:?}");
        }
        let huge = vec![(4 * MB2, MB2); MAX_REMOVE_RANGES + 1];
        assert_eq!(w.remove(&huge), Err(libc::EINVAL));
        assert!(w.mapper.take().is_empty());
        assert_eq!(w.live(), 2);
        assert_eq!(w.stats().refused, 10);
    }

    #[test]
    fn unmap_all_and_forget() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        w.setup(&req(MB2, MB2, 2 * MB2, false), &file()).unwrap();
        w.mapper.take();
        w.unmap_all();
        assert_eq!(
            w.mapper.take(),
            [Call::Unmap(0, MB2), Call::Unmap(2 * MB2, MB2)]
        );
        assert_eq!(w.live(), 0);
        // The window is free again.
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        w.mapper.take();
        // Reset: the VMM already dropped everything; nothing is sent.
        w.forget();
        assert!(w.mapper.take().is_empty());
        w.setup(&req(MB2, MB2, 0, false), &file()).unwrap();
        assert_eq!(w.mapper.take(), [Call::Map(0, 51 * MB2, MB2, false)]);
    }

    #[test]
    fn forget_never_waits_for_a_mapping_in_flight() {
        let w = win(true);
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        // A worker in the middle of a VMM round trip holds the table.
        let held = w.state();
        w.forget();
        drop(held);
        assert_eq!(w.live(), 0);
        w.mapper.take();
        w.setup(&req(0, MB2, 0, false), &file()).unwrap();
        assert_eq!(w.mapper.take(), [Call::Map(0, 50 * MB2, MB2, false)]);
    }

    /// The VMM's side of the backend channel: records what arrives.
    struct Vmm(Mutex<Vec<(VhostUserMMap, bool)>>);

    impl VhostUserFrontendReqHandler for Vmm {
        fn shmem_map(
            &self,
            req: &VhostUserMMap,
            _fd: &dyn std::os::fd::AsRawFd,
        ) -> vhost::vhost_user::HandlerResult<u64> {
            self.0.lock().unwrap().push((*req, true));
            Ok(0)
        }
        fn shmem_unmap(&self, req: &VhostUserMMap) -> vhost::vhost_user::HandlerResult<u64> {
            self.0.lock().unwrap().push((*req, false));
            Ok(0)
        }
    }

    #[test]
    fn backend_mapper_speaks_shmem_map_and_unmap() {
        use std::os::fd::BorrowedFd;
        use vhost::vhost_user::FrontendReqHandler;

        let vmm = Arc::new(Vmm(Mutex::new(Vec::new())));
        let mut h = FrontendReqHandler::new(vmm.clone()).unwrap();
        h.set_reply_ack_flag(true);
        // SAFETY: `h` owns the socket and outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(h.get_tx_raw_fd()) };
        let stream = std::os::unix::net::UnixStream::from(fd.try_clone_to_owned().unwrap());
        let backend = Backend::from_stream(stream);
        backend.set_reply_ack_flag(true);
        backend.set_shmem_flag(true);
        let device = tempfile::tempfile().unwrap();
        let dev_fd = device.as_raw_fd();
        let server = std::thread::spawn(move || {
            for _ in 0..4 {
                h.handle_request().unwrap();
            }
        });
        let mapper = VmmMapper::new(device);
        mapper.set_backend(backend);
        let w = DaxMap::new(mapper, WIN, META, DEV, true);
        w.setup(&req(4 * MB2, 2 * MB2, 2 * MB2, true), &file())
            .unwrap();
        w.remove(&[(2 * MB2, 2 * MB2)]).unwrap();
        server.join().unwrap();
        assert!(dev_fd >= 0);
        let got = vmm.0.lock().unwrap().clone();
        let rw = VhostUserMMapFlags::WRITABLE.bits();
        let want = [
            (2 * MB2, 54 * MB2, MB2, rw, true),
            (3 * MB2, 20 * MB2, MB2, rw, true),
            (2 * MB2, 0, MB2, 0, false),
            (3 * MB2, 0, MB2, 0, false),
        ];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.shm_offset, g.0.fd_offset, g.0.len, g.0.flags, g.1), w);
            assert_eq!(g.0.shmid, 0);
        }
    }
}
