// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A file's extent map: simple (a list of ranges) or interleaved (chunks
//! striped round-robin over several ranges), validated against the device.

use vm_memory::ByteValued;

use super::format::*;

/// One contiguous device range. Only device index 0 exists today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// The shape of the device that extents must fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub dev_size: u64,
    /// Superblock plus log: no extent may touch `[0, meta_size)`.
    pub meta_size: u64,
    pub alloc_unit: u64,
}

impl Geometry {
    /// The geometry a superblock describes. The size is the one the
    /// superblock records, not the device file's: a larger file holds a
    /// smaller file system, and space past it is not ours to allocate.
    pub fn of(sb: &super::superblock::Superblock) -> Self {
        Geometry {
            dev_size: sb.daxdev_size,
            meta_size: sb.meta_size(),
            alloc_unit: sb.alloc_unit,
        }
    }
}

/// A file's extent map as famfs records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fmap {
    Simple(Vec<Extent>),
    Interleaved {
        chunk_size: u64,
        strips: Vec<Extent>,
    },
}

impl Fmap {
    /// Decodes the raw map; structural problems come back as a reason.
    pub fn decode(raw: &RawFmap) -> Result<Self, String> {
        let count = raw.count.to_native();
        let ext_of = |r: &RawSimpleExtent| -> Result<Extent, String> {
            let dev = r.devindex.to_native();
            if dev != 0 {
                return Err(format!(
                    "extent on daxdev {dev}: only device 0 is supported"
                ));
            }
            Ok(Extent {
                offset: r.offset.to_native(),
                len: r.len.to_native(),
            })
        };
        match raw.ext_type.to_native() {
            EXT_SIMPLE => {
                if count as usize > MAX_EXTENTS {
                    return Err(format!("{count} extents, at most {MAX_EXTENTS} allowed"));
                }
                let map: RawSimpleMap = read_raw(&raw.extents).ok_or("short fmap")?;
                let list = map.extents[..count as usize]
                    .iter()
                    .map(ext_of)
                    .collect::<Result<_, _>>()?;
                Ok(Fmap::Simple(list))
            }
            EXT_INTERLEAVE => {
                if count != 1 {
                    return Err(format!("{count} interleaved extents, exactly 1 allowed"));
                }
                let ie: RawInterleave = read_raw(&raw.extents).ok_or("short fmap")?;
                let n = ie.nstrips.to_native();
                if n == 0 || n as usize > MAX_EXTENTS {
                    return Err(format!("{n} strips, 1 to {MAX_EXTENTS} allowed"));
                }
                let strips = ie.strips[..n as usize]
                    .iter()
                    .map(ext_of)
                    .collect::<Result<_, _>>()?;
                Ok(Fmap::Interleaved {
                    chunk_size: ie.chunk_size.to_native(),
                    strips,
                })
            }
            t => Err(format!("unknown extent type {t}")),
        }
    }

    /// Encodes the map; unused slots and padding are zero.
    pub fn encode(&self) -> RawFmap {
        let mut raw: RawFmap = zeroed();
        let put = |dst: &mut [RawSimpleExtent], src: &[Extent]| {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = RawSimpleExtent {
                    devindex: 0u64.into(),
                    offset: s.offset.into(),
                    len: s.len.into(),
                };
            }
        };
        match self {
            Fmap::Simple(list) => {
                raw.ext_type = EXT_SIMPLE.into();
                raw.count = (list.len() as u32).into();
                let mut map = RawSimpleMap::default();
                put(&mut map.extents, list);
                let bytes = map.as_slice();
                raw.extents[..bytes.len()].copy_from_slice(bytes);
            }
            Fmap::Interleaved { chunk_size, strips } => {
                raw.ext_type = EXT_INTERLEAVE.into();
                raw.count = 1u32.into();
                let mut ie = RawInterleave {
                    nstrips: (strips.len() as u64).into(),
                    chunk_size: (*chunk_size).into(),
                    ..Default::default()
                };
                put(&mut ie.strips, strips);
                raw.extents.copy_from_slice(ie.as_slice());
            }
        }
        raw
    }

    /// The device ranges this map occupies.
    pub fn ranges(&self) -> &[Extent] {
        match self {
            Fmap::Simple(l) => l,
            Fmap::Interleaved { strips, .. } => strips,
        }
    }

    /// Bytes of file data the map can address.
    pub fn capacity(&self) -> u64 {
        match self {
            Fmap::Simple(l) => l.iter().map(|e| e.len).sum(),
            Fmap::Interleaved {
                chunk_size, strips, ..
            } => {
                let min = strips.iter().map(|s| s.len).min().unwrap_or(0);
                (min / chunk_size) * chunk_size * strips.len() as u64
            }
        }
    }

    /// Checks every range against the device and the file size.
    pub fn validate(&self, geo: &Geometry, size: u64) -> Result<(), String> {
        let au = geo.alloc_unit;
        let mut sorted = self.ranges().to_vec();
        if sorted.is_empty() && size > 0 {
            return Err("a non-empty file has no extents".into());
        }
        if let Fmap::Interleaved { chunk_size, .. } = self {
            if *chunk_size == 0 || chunk_size % au != 0 {
                return Err(format!(
                    "chunk size {chunk_size:#x} is not a multiple of {au:#x}"
                ));
            }
        }
        for e in &sorted {
            if e.offset % au != 0 || e.len % au != 0 || e.len == 0 {
                return Err(format!(
                    "extent {:#x}+{:#x} is not aligned to {au:#x}",
                    e.offset, e.len
                ));
            }
            if e.offset < geo.meta_size {
                return Err(format!(
                    "extent {:#x}+{:#x} overlaps the metadata area (first {:#x} bytes)",
                    e.offset, e.len, geo.meta_size
                ));
            }
            if e.offset
                .checked_add(e.len)
                .is_none_or(|end| end > geo.dev_size)
            {
                return Err(format!(
                    "extent {:#x}+{:#x} lies outside the {:#x}-byte device",
                    e.offset, e.len, geo.dev_size
                ));
            }
        }
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0].end() > w[1].offset) {
            return Err(format!(
                "extents {:#x}+{:#x} and {:#x}+{:#x} overlap",
                w[0].offset, w[0].len, w[1].offset, w[1].len
            ));
        }
        if self.capacity() < size {
            return Err(format!(
                "file size {size:#x} exceeds its extents ({:#x} bytes)",
                self.capacity()
            ));
        }
        Ok(())
    }

    /// How many extents `expand(size)` returns, found without expanding:
    /// an interleaved map's chunk count is bounded only by the device.
    /// Call only on a validated map.
    pub fn expanded_len(&self, size: u64) -> u64 {
        match self {
            // At most MAX_EXTENTS ranges: expanding is cheap and exact.
            Fmap::Simple(_) => self.expand(size).len() as u64,
            Fmap::Interleaved { chunk_size, strips } => {
                let chunks = size.div_ceil(*chunk_size);
                let n = strips.len() as u64;
                if chunks == 0 {
                    return 0;
                }
                if n == 1 {
                    return 1;
                }
                // Chunk k and k + 1 merge only inside one row (k % n < n - 1),
                // where strip j + 1 starts right after strip j's chunk; across
                // rows they never do, as strips 0 and n - 1 cannot overlap.
                let merges: u64 = (0..n - 1)
                    .filter(|&j| {
                        let j = j as usize;
                        strips[j].offset + chunk_size == strips[j + 1].offset
                    })
                    .map(|j| {
                        // Boundaries k in [0, chunks - 2] with k % n == j.
                        if chunks >= j + 2 {
                            (chunks - 2 - j) / n + 1
                        } else {
                            0
                        }
                    })
                    .sum();
                chunks - merges
            }
        }
    }

    /// The device ranges backing file bytes `[0, size)`, in file order,
    /// with neighbours merged. Interleaved maps become their chunks.
    /// Call only on a validated map, and check `expanded_len` first.
    pub fn expand(&self, size: u64) -> Vec<Extent> {
        let mut out: Vec<Extent> = Vec::new();
        let mut push = |e: Extent| match out.last_mut() {
            Some(last) if last.end() == e.offset => last.len += e.len,
            _ => out.push(e),
        };
        match self {
            Fmap::Simple(list) => {
                let mut left = size;
                for e in list {
                    if left == 0 {
                        break;
                    }
                    // Keep the file's last 2 MiB unit whole: faults map it entire.
                    let len = e.len.min(left.next_multiple_of(ALLOC_UNIT));
                    push(Extent {
                        offset: e.offset,
                        len,
                    });
                    left = left.saturating_sub(len);
                }
            }
            Fmap::Interleaved {
                chunk_size, strips, ..
            } => {
                let n = strips.len() as u64;
                let chunks = size.div_ceil(*chunk_size);
                for k in 0..chunks {
                    let strip = &strips[(k % n) as usize];
                    push(Extent {
                        offset: strip.offset + (k / n) * chunk_size,
                        len: *chunk_size,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIB2: u64 = 2 << 20;
    const GEO: Geometry = Geometry {
        dev_size: 1 << 32,
        meta_size: 10 << 20,
        alloc_unit: MIB2,
    };

    fn ext(o: u64, l: u64) -> Extent {
        Extent {
            offset: o * MIB2,
            len: l * MIB2,
        }
    }

    #[test]
    fn simple_round_trip_and_offsets() {
        let f = Fmap::Simple(vec![ext(6, 2), ext(20, 1)]);
        let raw = f.encode();
        let b = raw.as_slice();
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), EXT_SIMPLE);
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 2);
        // extent 1: devindex at 16 + 24, offset at 16 + 24 + 8
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), 20 * MIB2);
        assert_eq!(Fmap::decode(&raw).unwrap(), f);
    }

    #[test]
    fn interleave_round_trip_and_expand() {
        let f = Fmap::Interleaved {
            chunk_size: MIB2,
            strips: vec![ext(10, 2), ext(30, 2), ext(50, 2)],
        };
        let raw = f.encode();
        let b = raw.as_slice();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), MIB2);
        assert_eq!(Fmap::decode(&raw).unwrap(), f);
        f.validate(&GEO, 5 * MIB2).unwrap();
        assert_eq!(f.capacity(), 6 * MIB2);
        assert_eq!(
            f.expand(5 * MIB2),
            vec![ext(10, 1), ext(30, 1), ext(50, 1), ext(11, 1), ext(31, 1)]
        );
    }

    #[test]
    fn validation_rejects_bad_extents() {
        let cases = [
            (Fmap::Simple(vec![ext(0, 1)]), "metadata"),
            (Fmap::Simple(vec![ext(4, 1)]), "metadata"),
            (Fmap::Simple(vec![ext(2047, 2)]), "outside"),
            (
                Fmap::Simple(vec![Extent {
                    offset: 12 * MIB2 + 4096,
                    len: MIB2,
                }]),
                "aligned",
            ),
            (Fmap::Simple(vec![ext(10, 3), ext(12, 1)]), "overlap"),
            (Fmap::Simple(vec![ext(10, 1)]), "exceeds"),
            (Fmap::Simple(vec![]), "no extents"),
            (
                Fmap::Simple(vec![Extent {
                    offset: u64::MAX - MIB2 + 1,
                    len: MIB2 * 2,
                }]),
                "outside",
            ),
        ];
        for (f, why) in cases {
            let e = f.validate(&GEO, 2 * MIB2).unwrap_err();
            assert!(e.contains(why), "{f:?}: {e}");
        }
    }

    #[test]
    fn decode_rejects_bad_counts() {
        let mut raw = Fmap::Simple(vec![ext(10, 1)]).encode();
        raw.count = 17u32.into();
        assert!(Fmap::decode(&raw).is_err());
        raw.ext_type = 7u32.into();
        assert!(Fmap::decode(&raw).is_err());
        let mut raw = Fmap::Simple(vec![ext(10, 1)]).encode();
        raw.extents[0] = 1; // devindex of extent 0
        assert!(Fmap::decode(&raw).is_err());
    }

    proptest! {
        #[test]
        fn simple_maps_round_trip(units in proptest::collection::vec((5u64..2000, 1u64..8), 0..=16)) {
            let f = Fmap::Simple(units.iter().map(|&(o, l)| ext(o, l)).collect());
            prop_assert_eq!(Fmap::decode(&f.encode()).unwrap(), f);
        }

        #[test]
        fn expanded_len_counts_what_expand_returns(
            chunks in 0u64..200,
            cs in 1u64..4,
            gaps in proptest::collection::vec(0u64..2, 1..8),
        ) {
            // Strips laid out left to right, each `rows` chunks long, with
            // or without a gap after it: adjacent strips make chunks merge.
            let n = gaps.len() as u64;
            let rows = chunks.div_ceil(n).max(1) * cs;
            let mut at = 10;
            let strips = gaps
                .iter()
                .map(|&g| {
                    let e = ext(at, rows);
                    at += rows + g;
                    e
                })
                .collect();
            let f = Fmap::Interleaved { chunk_size: cs * MIB2, strips };
            let size = chunks * cs * MIB2;
            prop_assert_eq!(f.expanded_len(size), f.expand(size).len() as u64);
        }

        #[test]
        fn expand_covers_size(chunks in 1u64..64, n in 1usize..16) {
            let strips = (0..n as u64).map(|i| ext(10 + i * 100, 64)).collect();
            let f = Fmap::Interleaved { chunk_size: MIB2, strips };
            let size = chunks * MIB2 - 4096;
            let total: u64 = f.expand(size).iter().map(|e| e.len).sum();
            prop_assert_eq!(total, chunks * MIB2);
        }
    }
}
