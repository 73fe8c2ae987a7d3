// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The isolated window of one virtio-famfs connection (`isolate=on`):
//! only the files the guest fetched a map for are mapped.
//!
//! GET_FMAP of a file maps the file's device ranges (its extents, or the
//! strips of an interleaved file; neighbours merged) at window offset =
//! device offset before the reply leaves, so the guest driver works
//! unchanged; a file already mapped is not mapped again. FORGET drops a
//! file, and its pieces are unmapped once no other file of the
//! connection uses them. Everything else of the window reads as a hole.
//!
//! QEMU creates one memory region (and the backend one memory slot) per
//! mapping, so the number of live pieces is bounded (`MAX_LIVE_MAPPINGS`);
//! at the bound GET_FMAP fails with ENOSPC until the driver forgets files.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dax_window::{Errno, ShmemMapper};
use crate::meta::fmap::Extent;
use crate::status::SocketStats;

/// Most live mappings of one isolated window. Every mapping is one more
/// memory region of the device in QEMU, besides guest RAM's; QEMU 11.1.2
/// aborts (an assertion, the whole VM) on the one that takes them past
/// 512 (VHOST_USER_MAX_RAM_SLOTS): measured with 511 mappings and 512 MiB
/// of guest RAM. 256 leaves half for guest RAM and hot-plugged memory
/// (docs/sharing.md).
pub const MAX_LIVE_MAPPINGS: usize = 256;

/// Device offsets handed to the VMM must be page aligned (it mmaps them).
const PAGE: u64 = 4096;

/// One SHMEM_MAP: device bytes `[offset, offset + len)` at the same
/// window offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    offset: u64,
    len: u64,
}

#[derive(Default)]
struct State {
    /// The pieces each mapped file uses.
    files: HashMap<u64, Vec<Piece>>,
    /// Live pieces by window offset: length and the files using them.
    live: BTreeMap<u64, (u64, u32)>,
    /// The `resets` count `live` belongs to.
    epoch: u64,
}

/// The mappings of one isolated window. Requests from several request
/// queues are serialized on its lock, VMM calls included, so the table
/// always matches what the VMM holds.
pub struct IsolatedWindow<M> {
    mapper: M,
    /// Device bytes below this (superblock and log) are never mapped.
    meta_size: u64,
    /// No piece reaches past the device.
    device_size: u64,
    writable: bool,
    limit: usize,
    state: Mutex<State>,
    /// Bumped by `reset`, which must not wait for the lock: a request
    /// worker holds it across a VMM round trip, and the VMM may be waiting
    /// for the very frontend request that calls `reset`.
    resets: AtomicU64,
    stats: Arc<SocketStats>,
}

impl<M: ShmemMapper> IsolatedWindow<M> {
    pub fn new(
        mapper: M,
        meta_size: u64,
        device_size: u64,
        writable: bool,
        stats: Arc<SocketStats>,
    ) -> Self {
        IsolatedWindow {
            mapper,
            meta_size,
            device_size,
            writable,
            limit: MAX_LIVE_MAPPINGS,
            state: Mutex::new(State::default()),
            resets: AtomicU64::new(0),
            stats,
        }
    }

    /// As `new` with another bound on live mappings (tests).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn mapper(&self) -> &M {
        &self.mapper
    }

    /// The table, emptied first if the VMM dropped every mapping since.
    fn state(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let epoch = self.resets.load(Ordering::Acquire);
        if st.epoch != epoch {
            st.files.clear();
            st.live.clear();
            st.epoch = epoch;
        }
        st
    }

    /// Live mappings (pieces mapped in the VMM).
    pub fn live(&self) -> usize {
        self.state().live.len()
    }

    /// Files mapped.
    pub fn files(&self) -> usize {
        self.state().files.len()
    }

    /// Maps file `node`, whose device ranges are `ranges`, unless it is
    /// mapped already. Nothing changes unless it succeeds.
    pub fn map_file(&self, node: u64, ranges: &[Extent]) -> Result<(), Errno> {
        let mut st = self.state();
        if st.files.contains_key(&node) {
            return Ok(());
        }
        let pieces = self.pieces(ranges)?;
        if pieces.is_empty() {
            // An empty file: nothing to map, nothing to forget.
            return Ok(());
        }
        // Pieces already live (another file uses exactly them) are shared;
        // any other overlap means a corrupt map.
        let mut new = Vec::new();
        for p in &pieces {
            match st.live.get(&p.offset) {
                Some(&(len, _)) if len == p.len => {}
                Some(_) => return Err(self.corrupt(node, p)),
                None => {
                    let overlaps = st
                        .live
                        .range(..p.offset + p.len)
                        .next_back()
                        .is_some_and(|(&o, &(l, _))| o + l > p.offset);
                    if overlaps {
                        return Err(self.corrupt(node, p));
                    }
                    new.push(*p);
                }
            }
        }
        if st.live.len() + new.len() > self.limit {
            log::warn!(
                "isolated window: {} live mappings, file {node} needs {} more (bound {}): ENOSPC",
                st.live.len(),
                new.len(),
                self.limit
            );
            return Err(libc::ENOSPC);
        }
        for (i, p) in new.iter().enumerate() {
            log::debug!("file {node}: mapping {:#x}+{:#x}", p.offset, p.len);
            if let Err(e) = self.mapper.map(p.offset, p.offset, p.len, self.writable) {
                log::error!("SHMEM_MAP {:#x}+{:#x} failed: {e}", p.offset, p.len);
                for q in &new[..i] {
                    self.unmap(q);
                }
                return Err(libc::EIO);
            }
        }
        for p in &pieces {
            st.live.entry(p.offset).or_insert((p.len, 0)).1 += 1;
        }
        st.files.insert(node, pieces);
        self.stats.set_mappings(st.live.len() as u64);
        Ok(())
    }

    /// The driver no longer holds these files: unmap what only they used.
    /// Unknown (or never mapped) node ids are ignored.
    pub fn forget(&self, nodes: &[u64]) {
        let mut st = self.state();
        for node in nodes {
            let Some(pieces) = st.files.remove(node) else {
                continue;
            };
            for p in pieces {
                let gone = match st.live.get_mut(&p.offset) {
                    Some(e) => {
                        e.1 -= 1;
                        e.1 == 0
                    }
                    None => false,
                };
                if gone {
                    st.live.remove(&p.offset);
                    self.unmap(&p);
                }
            }
        }
        self.stats.set_mappings(st.live.len() as u64);
    }

    /// Unmaps everything (a new INIT: the driver starts afresh). Runs on a
    /// request queue's worker.
    pub fn unmap_all(&self) {
        let mut st = self.state();
        let live = std::mem::take(&mut st.live);
        st.files.clear();
        for (offset, (len, _)) in live {
            self.unmap(&Piece { offset, len });
        }
        self.stats.set_mappings(0);
    }

    /// The VMM dropped every mapping (device reset or stop): forget them
    /// without a VMM call. Runs on frontend-request callbacks.
    pub fn reset(&self) {
        self.resets.fetch_add(1, Ordering::AcqRel);
        self.stats.set_mappings(0);
    }

    fn unmap(&self, p: &Piece) {
        log::debug!("unmapping {:#x}+{:#x}", p.offset, p.len);
        if let Err(e) = self.mapper.unmap(p.offset, p.len) {
            log::warn!("SHMEM_UNMAP {:#x}+{:#x} failed: {e}", p.offset, p.len);
        }
    }

    fn corrupt(&self, node: u64, p: &Piece) -> Errno {
        log::error!(
            "file {node}: device range {:#x}+{:#x} overlaps another file's",
            p.offset,
            p.len
        );
        libc::EIO
    }

    /// `ranges` sorted, neighbours merged, each checked against the data
    /// area.
    fn pieces(&self, ranges: &[Extent]) -> Result<Vec<Piece>, Errno> {
        let mut sorted: Vec<Extent> = ranges.to_vec();
        sorted.sort_by_key(|e| e.offset);
        let mut out: Vec<Piece> = Vec::new();
        for e in sorted {
            let end = e.offset.checked_add(e.len);
            let ok = e.len > 0
                && e.offset % PAGE == 0
                && e.len % PAGE == 0
                && e.offset >= self.meta_size
                && end.is_some_and(|end| end <= self.device_size);
            if !ok {
                log::error!(
                    "device range {:#x}+{:#x} outside the data area",
                    e.offset,
                    e.len
                );
                return Err(libc::EIO);
            }
            match out.last_mut() {
                Some(last) if last.offset + last.len == e.offset => last.len += e.len,
                Some(last) if last.offset + last.len > e.offset => {
                    log::error!(
                        "device range {:#x}+{:#x} overlaps its file's",
                        e.offset,
                        e.len
                    );
                    return Err(libc::EIO);
                }
                _ => out.push(Piece {
                    offset: e.offset,
                    len: e.len,
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    const MB: u64 = 1 << 20;

    /// Records what a VMM would map.
    #[derive(Default)]
    struct FakeVmm {
        maps: Mutex<Vec<(u64, u64, bool)>>,
        unmaps: Mutex<Vec<(u64, u64)>>,
        fail_at: Mutex<Option<u64>>,
    }

    impl ShmemMapper for FakeVmm {
        fn map(&self, shm: u64, fd: u64, len: u64, writable: bool) -> io::Result<()> {
            assert_eq!(shm, fd, "window offset = device offset");
            if *self.fail_at.lock().unwrap() == Some(shm) {
                return Err(io::Error::other("refused"));
            }
            self.maps.lock().unwrap().push((shm, len, writable));
            Ok(())
        }
        fn unmap(&self, shm: u64, len: u64) -> io::Result<()> {
            self.unmaps.lock().unwrap().push((shm, len));
            Ok(())
        }
    }

    fn ext(offset: u64, len: u64) -> Extent {
        Extent { offset, len }
    }

    fn window(writable: bool) -> IsolatedWindow<FakeVmm> {
        IsolatedWindow::new(
            FakeVmm::default(),
            8 * MB,
            1024 * MB,
            writable,
            Arc::default(),
        )
    }

    #[test]
    fn maps_a_file_once_with_neighbours_merged() {
        let w = window(true);
        let r = [
            ext(20 * MB, 2 * MB),
            ext(10 * MB, 2 * MB),
            ext(12 * MB, 4 * MB),
        ];
        w.map_file(7, &r).unwrap();
        w.map_file(7, &r).unwrap();
        assert_eq!(
            *w.mapper().maps.lock().unwrap(),
            vec![(10 * MB, 6 * MB, true), (20 * MB, 2 * MB, true)]
        );
        assert_eq!(
            (w.live(), w.files(), w.stats.snapshot().mappings),
            (2, 1, 2)
        );
    }

    #[test]
    fn forget_unmaps_exactly_what_was_mapped() {
        let w = window(false);
        w.map_file(7, &[ext(10 * MB, 2 * MB), ext(12 * MB, 2 * MB)])
            .unwrap();
        w.map_file(8, &[ext(30 * MB, 2 * MB)]).unwrap();
        assert!(w.mapper().maps.lock().unwrap().iter().all(|m| !m.2));
        w.forget(&[7, 99]);
        assert_eq!(*w.mapper().unmaps.lock().unwrap(), vec![(10 * MB, 4 * MB)]);
        w.forget(&[7, 8]);
        assert_eq!(w.mapper().unmaps.lock().unwrap().len(), 2);
        assert_eq!(
            (w.live(), w.files(), w.stats.snapshot().mappings),
            (0, 0, 0)
        );
        // Forgotten files map again when fetched again.
        w.map_file(7, &[ext(10 * MB, 2 * MB)]).unwrap();
        assert_eq!(w.live(), 1);
    }

    #[test]
    fn identical_pieces_are_shared_and_overlaps_refused() {
        let w = window(true);
        w.map_file(1, &[ext(10 * MB, 2 * MB)]).unwrap();
        w.map_file(2, &[ext(10 * MB, 2 * MB)]).unwrap();
        assert_eq!(w.mapper().maps.lock().unwrap().len(), 1);
        assert_eq!(w.map_file(3, &[ext(11 * MB, 2 * MB)]), Err(libc::EIO));
        assert_eq!(w.map_file(3, &[ext(8 * MB, 4 * MB)]), Err(libc::EIO));
        w.forget(&[1]);
        assert!(w.mapper().unmaps.lock().unwrap().is_empty());
        w.forget(&[2]);
        assert_eq!(w.mapper().unmaps.lock().unwrap().len(), 1);
    }

    #[test]
    fn metadata_and_the_area_past_the_device_are_never_mapped() {
        let w = window(true);
        for bad in [
            ext(0, 2 * MB),
            ext(6 * MB, 4 * MB),
            ext(1022 * MB, 4 * MB),
            ext(u64::MAX - MB + 1, 2 * MB),
            ext(10 * MB + 1, 2 * MB),
            ext(10 * MB, 0),
        ] {
            assert_eq!(w.map_file(1, &[bad]), Err(libc::EIO), "{bad:?}");
        }
        assert_eq!(
            w.map_file(1, &[ext(10 * MB, 4 * MB), ext(12 * MB, 2 * MB)]),
            Err(libc::EIO)
        );
        assert!(w.mapper().maps.lock().unwrap().is_empty());
        assert_eq!(w.files(), 0);
    }

    #[test]
    fn the_bound_is_enospc_and_changes_nothing() {
        let w = window(true).with_limit(3);
        w.map_file(1, &[ext(10 * MB, 2 * MB), ext(20 * MB, 2 * MB)])
            .unwrap();
        assert_eq!(
            w.map_file(2, &[ext(30 * MB, 2 * MB), ext(40 * MB, 2 * MB)]),
            Err(libc::ENOSPC)
        );
        assert_eq!((w.live(), w.files()), (2, 1));
        w.map_file(3, &[ext(30 * MB, 2 * MB)]).unwrap();
        w.forget(&[1]);
        w.map_file(2, &[ext(40 * MB, 2 * MB), ext(50 * MB, 2 * MB)])
            .unwrap();
        assert_eq!(w.live(), 3);
    }

    #[test]
    fn a_failed_map_undoes_its_pieces() {
        let w = window(true);
        *w.mapper().fail_at.lock().unwrap() = Some(20 * MB);
        assert_eq!(
            w.map_file(1, &[ext(10 * MB, 2 * MB), ext(20 * MB, 2 * MB)]),
            Err(libc::EIO)
        );
        assert_eq!(*w.mapper().unmaps.lock().unwrap(), vec![(10 * MB, 2 * MB)]);
        assert_eq!((w.live(), w.files()), (0, 0));
    }

    #[test]
    fn reset_forgets_without_the_vmm_and_unmap_all_unmaps() {
        let w = window(true);
        w.map_file(1, &[ext(10 * MB, 2 * MB)]).unwrap();
        w.reset();
        assert_eq!((w.live(), w.files()), (0, 0));
        assert!(w.mapper().unmaps.lock().unwrap().is_empty());
        w.map_file(1, &[ext(10 * MB, 2 * MB)]).unwrap();
        w.map_file(2, &[ext(20 * MB, 2 * MB)]).unwrap();
        w.unmap_all();
        assert_eq!(w.mapper().unmaps.lock().unwrap().len(), 2);
        assert_eq!(w.live(), 0);
    }
}
