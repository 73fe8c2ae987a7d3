// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Space allocation in allocation units (2 MiB), rebuilt from the log.
//!
//! famfs keeps no allocation map on the device: the log is the truth, so
//! the bitmap is rebuilt by replay and an allocation only becomes real when
//! its log entry is committed.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{MetaError, Result};
use super::fmap::{Extent, Fmap, Geometry};
use super::format::MAX_EXTENTS;

/// How to lay out a new file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Striping {
    /// Number of strips (2..=16); chunks go round-robin over them.
    pub strips: u64,
    /// Bytes per chunk, a multiple of the allocation unit.
    pub chunk_size: u64,
}

/// A bitmap of allocation units; a set bit is in use.
#[derive(Clone, Debug)]
pub struct Allocator {
    unit: u64,
    nunits: u64,
    bits: Vec<u64>,
    /// No free unit lies below this one.
    first_free: u64,
    /// Set bits, kept as bits change: free space without a scan.
    used: u64,
    /// The longest free run, found by a scan after the last change; STATFS
    /// asks for it far more often than the bitmap changes.
    largest: LargestRun,
}

/// A cached unit count, `UNKNOWN` until computed. Atomic so that readers
/// holding the file system's read lock can fill it in.
#[derive(Debug)]
struct LargestRun(AtomicU64);

impl LargestRun {
    const UNKNOWN: u64 = u64::MAX;
}

impl Clone for LargestRun {
    fn clone(&self) -> Self {
        LargestRun(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Allocator {
    /// All units free except those of the metadata area.
    pub fn new(geo: &Geometry) -> Self {
        let nunits = geo.dev_size / geo.alloc_unit;
        let mut a = Allocator {
            unit: geo.alloc_unit,
            nunits,
            bits: vec![0; nunits.div_ceil(64) as usize],
            first_free: 0,
            used: 0,
            largest: LargestRun(AtomicU64::new(LargestRun::UNKNOWN)),
        };
        let meta_units = geo.meta_size.div_ceil(geo.alloc_unit).min(nunits);
        a.set_range(0, meta_units, true);
        a.first_free = meta_units;
        a
    }

    fn get(&self, u: u64) -> bool {
        self.bits[(u / 64) as usize] & (1 << (u % 64)) != 0
    }

    fn set_range(&mut self, start: u64, n: u64, used: bool) {
        for u in start..start + n {
            let w = &mut self.bits[(u / 64) as usize];
            let bit = 1 << (u % 64);
            match (used, *w & bit != 0) {
                (true, false) => self.used += 1,
                (false, true) => self.used -= 1,
                _ => {}
            }
            if used {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
        *self.largest.0.get_mut() = LargestRun::UNKNOWN;
    }

    /// Marks an extent used. Units that were already in use (cross-links)
    /// are returned as an extent; the extent must be inside the device.
    pub fn mark(&mut self, e: &Extent) -> Option<Extent> {
        let (start, n) = (e.offset / self.unit, e.len.div_ceil(self.unit));
        let n = n.min(self.nunits.saturating_sub(start));
        let mut clash: Option<Extent> = None;
        for u in start..start + n {
            if self.get(u) {
                let c = clash.get_or_insert(Extent {
                    offset: u * self.unit,
                    len: 0,
                });
                c.len = (u + 1) * self.unit - c.offset;
            }
        }
        self.set_range(start, n, true);
        clash
    }

    fn release(&mut self, e: &Extent) {
        let start = e.offset / self.unit;
        self.set_range(start, e.len / self.unit, false);
        self.first_free = self.first_free.min(start);
    }

    /// Free runs as (first unit, unit count), in address order.
    fn free_runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut u = self.first_free;
        std::iter::from_fn(move || {
            while u < self.nunits {
                // Skip whole used words quickly.
                if u % 64 == 0 && self.bits[(u / 64) as usize] == u64::MAX {
                    u += 64;
                    continue;
                }
                if self.get(u) {
                    u += 1;
                    continue;
                }
                let start = u;
                while u < self.nunits && !self.get(u) {
                    u += 1;
                }
                return Some((start, u - start));
            }
            None
        })
    }

    pub fn free_bytes(&self) -> u64 {
        (self.nunits - self.used) * self.unit
    }

    /// The longest free run in bytes; a bitmap scan only after a change.
    pub fn largest_free(&self) -> u64 {
        let mut units = self.largest.0.load(Ordering::Relaxed);
        if units == LargestRun::UNKNOWN {
            units = self.free_runs().map(|(_, n)| n).max().unwrap_or(0);
            self.largest.0.store(units, Ordering::Relaxed);
        }
        units * self.unit
    }

    pub fn total_bytes(&self) -> u64 {
        self.nunits * self.unit
    }

    fn no_space(&self, wanted: u64) -> MetaError {
        MetaError::NoSpace {
            wanted,
            largest: self.largest_free(),
            free: self.free_bytes(),
        }
    }

    /// First-fit contiguous run of `units`, marked used.
    fn take_contiguous(&mut self, units: u64) -> Option<Extent> {
        let (start, _) = self.free_runs().find(|&(_, n)| n >= units)?;
        let e = Extent {
            offset: start * self.unit,
            len: units * self.unit,
        };
        self.mark(&e);
        if start == self.first_free {
            self.first_free = start + units;
        }
        Some(e)
    }

    /// Allocates room for `size` bytes: one contiguous extent first-fit,
    /// else up to 16 free runs in address order; or striped when asked.
    /// The units are marked used; call `free` if the commit fails.
    pub fn alloc(&mut self, size: u64, striping: Option<Striping>) -> Result<Fmap> {
        let size = size.max(1);
        if let Some(s) = striping {
            return self.alloc_striped(size, s);
        }
        let units = size.div_ceil(self.unit);
        if let Some(e) = self.take_contiguous(units) {
            return Ok(Fmap::Simple(vec![e]));
        }
        let mut picked = Vec::new();
        let mut left = units;
        for (start, n) in self.free_runs() {
            let take = n.min(left);
            picked.push(Extent {
                offset: start * self.unit,
                len: take * self.unit,
            });
            left -= take;
            if left == 0 || picked.len() == MAX_EXTENTS {
                break;
            }
        }
        if left > 0 {
            return Err(self.no_space(size));
        }
        for e in &picked {
            self.mark(e);
        }
        Ok(Fmap::Simple(picked))
    }

    fn alloc_striped(&mut self, size: u64, s: Striping) -> Result<Fmap> {
        if !(2..=MAX_EXTENTS as u64).contains(&s.strips)
            || s.chunk_size == 0
            || s.chunk_size % self.unit != 0
        {
            return Err(MetaError::InvalidArgument(format!(
                "striping needs 2 to {MAX_EXTENTS} strips and a chunk size that is a multiple of {:#x}",
                self.unit
            )));
        }
        let chunks_per_strip = size.div_ceil(s.chunk_size * s.strips);
        let strip_len = chunks_per_strip * s.chunk_size;
        let mut strips = Vec::new();
        for _ in 0..s.strips {
            match self.take_contiguous(strip_len / self.unit) {
                Some(e) => strips.push(e),
                None => {
                    for e in &strips {
                        self.release(e);
                    }
                    return Err(self.no_space(size));
                }
            }
        }
        Ok(Fmap::Interleaved {
            chunk_size: s.chunk_size,
            strips,
        })
    }

    /// Returns the units of an uncommitted allocation.
    pub fn free(&mut self, fmap: &Fmap) {
        for e in fmap.ranges() {
            self.release(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB2: u64 = 2 << 20;

    fn geo(units: u64) -> Geometry {
        Geometry {
            dev_size: units * MIB2,
            meta_size: 5 * MIB2,
            alloc_unit: MIB2,
        }
    }

    #[test]
    fn never_allocates_metadata_or_offset_zero() {
        let mut a = Allocator::new(&geo(10));
        let f = a.alloc(1, None).unwrap();
        assert_eq!(
            f.ranges(),
            &[Extent {
                offset: 5 * MIB2,
                len: MIB2
            }]
        );
        assert_eq!(a.free_bytes(), 4 * MIB2);
    }

    #[test]
    fn first_fit_and_fragmented_fallback() {
        let mut a = Allocator::new(&geo(20));
        let x = a.alloc(MIB2, None).unwrap(); // unit 5
        let _y = a.alloc(MIB2, None).unwrap(); // unit 6
        let z = a.alloc(MIB2 * 2, None).unwrap(); // 7..9
        a.free(&x);
        a.free(&z);
        // 5 is free (1 unit), 7..20 free: first fit of 2 units lands at 7.
        let w = a.alloc(2 * MIB2, None).unwrap();
        assert_eq!(w.ranges()[0].offset, 7 * MIB2);
        // Fill everything but unit 5 and one run, then ask for both.
        let big = a.alloc(9 * MIB2, None).unwrap();
        assert_eq!(big.ranges()[0].offset, 9 * MIB2);
        let rest = a.alloc(3 * MIB2, None).unwrap();
        assert_eq!(rest.ranges().len(), 2);
        assert!(matches!(
            a.alloc(MIB2, None),
            Err(MetaError::NoSpace { .. })
        ));
    }

    /// The counters agree with a scan of the bitmap after every change.
    #[test]
    fn counters_follow_the_bitmap() {
        let scan = |a: &Allocator| {
            let runs: Vec<u64> = a.free_runs().map(|(_, n)| n).collect();
            (
                runs.iter().sum::<u64>() * MIB2,
                runs.iter().copied().max().unwrap_or(0) * MIB2,
            )
        };
        let mut a = Allocator::new(&geo(64));
        let check = |a: &Allocator| assert_eq!((a.free_bytes(), a.largest_free()), scan(a));
        check(&a);
        let mut files = Vec::new();
        for i in 1..8 {
            files.push(a.alloc(i * MIB2, None).unwrap());
            check(&a);
        }
        for f in files.iter().step_by(2) {
            a.free(f);
            check(&a);
        }
        // Marking units twice (a cross-link) counts them once.
        let e = files[1].ranges()[0];
        assert!(a.mark(&e).is_some());
        check(&a);
        let big = a.alloc(20 * MIB2, None).unwrap();
        check(&a);
        a.free(&big);
        check(&a);
        assert_eq!(a.free_bytes(), (64 - 5 - 2 - 4 - 6) * MIB2);
    }

    #[test]
    fn mark_reports_cross_links() {
        let mut a = Allocator::new(&geo(20));
        let e = Extent {
            offset: 8 * MIB2,
            len: 4 * MIB2,
        };
        assert_eq!(a.mark(&e), None);
        let clash = a.mark(&Extent {
            offset: 10 * MIB2,
            len: 4 * MIB2,
        });
        assert_eq!(
            clash,
            Some(Extent {
                offset: 10 * MIB2,
                len: 2 * MIB2
            })
        );
        assert!(a
            .mark(&Extent {
                offset: 0,
                len: MIB2
            })
            .is_some());
    }

    #[test]
    fn striped_allocation() {
        let mut a = Allocator::new(&geo(40));
        let f = a
            .alloc(
                7 * MIB2,
                Some(Striping {
                    strips: 3,
                    chunk_size: MIB2,
                }),
            )
            .unwrap();
        assert_eq!(f.ranges().len(), 3);
        assert!(f.capacity() >= 7 * MIB2);
        f.validate(&geo(40), 7 * MIB2).unwrap();
        assert!(a
            .alloc(
                MIB2,
                Some(Striping {
                    strips: 1,
                    chunk_size: MIB2
                })
            )
            .is_err());
        assert!(a
            .alloc(
                100 * MIB2,
                Some(Striping {
                    strips: 2,
                    chunk_size: MIB2
                })
            )
            .is_err());
        // A failed striped allocation gives back what it took.
        assert_eq!(a.free_bytes(), (40 - 5 - 9) * MIB2);
    }
}
