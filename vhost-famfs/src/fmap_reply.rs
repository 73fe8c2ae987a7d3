// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The wire form of a file's extent map (spec 7.10): the GET_FMAP reply,
//! and the very same bytes inline in LOOKUP and READDIRPLUS entries
//! (spec 7.10.1). One encoder, so that an inline map can never differ from
//! what GET_FMAP would have said.

use std::mem::size_of;

use vm_memory::ByteValued;

use crate::meta::fmap::{Extent as MetaExtent, Fmap};
use crate::protocol::{Extent, FmapInterleave, FmapOut, FMAP_INTERLEAVED, FMAP_SIMPLE};

/// Encodes the map of a file of `size` bytes as `fmap_out` and what
/// follows it: INTERLEAVED only if `interleave` (F_INTERLEAVE was
/// negotiated), else SIMPLE with an interleaved map expanded into its
/// chunks. Fails when the map takes more than `max_count` extents (or
/// strips) or more than `room` bytes, with the `fmap_out` alone, its
/// `nextents` the number needed (GET_FMAP's E2BIG payload).
pub fn encode(
    size: u64,
    fmap: &Fmap,
    interleave: bool,
    max_count: u32,
    room: usize,
) -> Result<Vec<u8>, Vec<u8>> {
    // Count before expanding: a striped file has one extent per chunk.
    let (kind, count, head) = match fmap {
        Fmap::Interleaved { strips, .. } if interleave => (
            FMAP_INTERLEAVED,
            strips.len() as u64,
            size_of::<FmapOut>() + size_of::<FmapInterleave>(),
        ),
        _ => (FMAP_SIMPLE, fmap.expanded_len(size), size_of::<FmapOut>()),
    };
    let mut out = FmapOut {
        file_size: size.into(),
        nextents: u32::try_from(count).unwrap_or(u32::MAX).into(),
        kind: kind.into(),
    }
    .as_slice()
    .to_vec();
    let fits = count
        .checked_mul(size_of::<Extent>() as u64)
        .and_then(|b| b.checked_add(head as u64))
        .is_some_and(|need| need <= room as u64);
    if count > u64::from(max_count) || !fits {
        return Err(out);
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
            for e in fmap.expand(size) {
                out.extend_from_slice(wire(&e).as_slice());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ENTRY_FMAP_MAX;

    const MIB: u64 = 1 << 20;

    fn ext(offset: u64, len: u64) -> MetaExtent {
        MetaExtent { offset, len }
    }

    fn head(b: &[u8]) -> FmapOut {
        let mut h = FmapOut::default();
        h.as_mut_slice().copy_from_slice(&b[..size_of::<FmapOut>()]);
        h
    }

    fn extents(b: &[u8]) -> Vec<(u64, u64)> {
        b.chunks_exact(16)
            .map(|c| {
                let w = |i: usize| u64::from_le_bytes(c[i..i + 8].try_into().unwrap());
                (w(0), w(8))
            })
            .collect()
    }

    #[test]
    fn simple_map_in_file_order() {
        let m = Fmap::Simple(vec![ext(64 * MIB, 2 * MIB), ext(32 * MIB, 4 * MIB)]);
        let b = encode(5 * MIB, &m, true, ENTRY_FMAP_MAX, usize::MAX).unwrap();
        assert_eq!(b.len(), 16 + 2 * 16);
        let h = head(&b);
        assert_eq!(h.file_size.to_native(), 5 * MIB);
        assert_eq!(
            (h.nextents.to_native(), h.kind.to_native()),
            (2, FMAP_SIMPLE)
        );
        assert_eq!(
            extents(&b[16..]),
            [(64 * MIB, 2 * MIB), (32 * MIB, 4 * MIB)]
        );
    }

    #[test]
    fn interleaved_map_compact_only_when_negotiated() {
        let m = Fmap::Interleaved {
            chunk_size: 2 * MIB,
            strips: vec![ext(16 * MIB, 8 * MIB), ext(64 * MIB, 8 * MIB)],
        };
        let b = encode(16 * MIB, &m, true, ENTRY_FMAP_MAX, usize::MAX).unwrap();
        let h = head(&b);
        assert_eq!(
            (h.nextents.to_native(), h.kind.to_native()),
            (2, FMAP_INTERLEAVED)
        );
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 2 * MIB);
        assert_eq!(
            extents(&b[24..]),
            [(16 * MIB, 8 * MIB), (64 * MIB, 8 * MIB)]
        );
        // Without F_INTERLEAVE: one extent per chunk, 8 chunks.
        let b = encode(16 * MIB, &m, false, ENTRY_FMAP_MAX, usize::MAX).unwrap();
        let h = head(&b);
        assert_eq!(
            (h.nextents.to_native(), h.kind.to_native()),
            (8, FMAP_SIMPLE)
        );
        assert_eq!(
            extents(&b[16..])[..2],
            [(16 * MIB, 2 * MIB), (64 * MIB, 2 * MIB)]
        );
        // Too many chunks for an inline map: the head says how many.
        let b = encode(16 * MIB, &m, false, 4, usize::MAX).unwrap_err();
        assert_eq!(b.len(), 16);
        assert_eq!(head(&b).nextents.to_native(), 8);
    }

    #[test]
    fn limits_count_and_bytes() {
        let many: Vec<_> = (0..17).map(|i| ext((8 + 4 * i) * MIB, 2 * MIB)).collect();
        let m = Fmap::Simple(many);
        let e = encode(34 * MIB, &m, true, ENTRY_FMAP_MAX, usize::MAX).unwrap_err();
        assert_eq!(head(&e).nextents.to_native(), 17);
        assert!(encode(34 * MIB, &m, true, 17, usize::MAX).is_ok());
        // Exactly the bytes needed fit; one fewer does not.
        assert!(encode(34 * MIB, &m, true, 17, 16 + 17 * 16).is_ok());
        assert!(encode(34 * MIB, &m, true, 17, 16 + 17 * 16 - 1).is_err());
    }

    #[test]
    fn empty_file_has_an_empty_map() {
        let b = encode(0, &Fmap::Simple(Vec::new()), true, ENTRY_FMAP_MAX, 16).unwrap();
        assert_eq!(b.len(), 16);
        assert_eq!(head(&b).nextents.to_native(), 0);
    }
}
