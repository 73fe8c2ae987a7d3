// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Log entries: decoded, validated and encoded.

use uuid::Uuid;
use vm_memory::ByteValued;

use super::error::{MetaError, Result};
use super::fmap::{Fmap, Geometry};
use super::format::*;
use super::path::RelPath;

/// A FILE entry: a preallocated file and its extent map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub path: RelPath,
    pub size: u64,
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub fmap: Fmap,
}

/// A MKDIR entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirRecord {
    pub path: RelPath,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// An ADD_DAXDEV entry: read and kept, not acted on (one device today).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaxdevRecord {
    pub size: u64,
    pub uuid: Uuid,
    pub index: u32,
}

/// One decoded log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogRecord {
    File(FileRecord),
    Mkdir(DirRecord),
    AddDaxdev(DaxdevRecord),
}

impl LogRecord {
    pub fn path(&self) -> Option<&RelPath> {
        match self {
            LogRecord::File(f) => Some(&f.path),
            LogRecord::Mkdir(d) => Some(&d.path),
            LogRecord::AddDaxdev(_) => None,
        }
    }

    /// Decodes the entry in slot `index`, checking its CRC, its seqnum,
    /// its path and (for files) every extent against `geo`.
    pub fn decode(raw: &RawLogEntry, index: u64, geo: &Geometry) -> Result<Self> {
        let stored = raw.crc.to_native();
        let computed = crc32(&raw.as_slice()[..ENTRY_CRC_OFFSET]);
        if stored != computed {
            return Err(MetaError::BadEntryCrc {
                index,
                stored,
                computed,
            });
        }
        let seqnum = raw.seqnum.to_native();
        if seqnum != index {
            return Err(MetaError::BadSeqnum { index, seqnum });
        }
        let bad = |reason: String| MetaError::BadEntry { index, reason };
        match raw.entry_type.to_native() {
            ENTRY_FILE => {
                let b: RawFileBody = read_raw(&raw.body).ok_or_else(|| bad("short".into()))?;
                let path = RelPath::from_field(&b.relpath).map_err(|e| bad(e.to_string()))?;
                let fmap = Fmap::decode(&b.fmap).map_err(|r| bad(format!("{path}: {r}")))?;
                let size = b.size.to_native();
                fmap.validate(geo, size)
                    .map_err(|r| bad(format!("{path}: {r}")))?;
                Ok(LogRecord::File(FileRecord {
                    path,
                    size,
                    flags: b.flags.to_native(),
                    uid: b.uid.to_native(),
                    gid: b.gid.to_native(),
                    mode: b.mode.to_native(),
                    fmap,
                }))
            }
            ENTRY_MKDIR => {
                let b: RawMkdirBody = read_raw(&raw.body).ok_or_else(|| bad("short".into()))?;
                let path = RelPath::from_field(&b.relpath).map_err(|e| bad(e.to_string()))?;
                Ok(LogRecord::Mkdir(DirRecord {
                    path,
                    uid: b.uid.to_native(),
                    gid: b.gid.to_native(),
                    mode: b.mode.to_native(),
                }))
            }
            ENTRY_ADD_DAXDEV => {
                let b: RawDaxdevBody = read_raw(&raw.body).ok_or_else(|| bad("short".into()))?;
                Ok(LogRecord::AddDaxdev(DaxdevRecord {
                    size: b.size.to_native(),
                    uuid: Uuid::from_bytes(b.uuid),
                    index: b.index.to_native(),
                }))
            }
            ENTRY_DELETE => Err(bad("DELETE entries are not supported by famfs".into())),
            t => Err(bad(format!("unknown entry type {t}"))),
        }
    }

    /// Encodes the entry for slot `index` with its CRC; padding is zero.
    pub fn encode(&self, index: u64) -> RawLogEntry {
        let mut raw: RawLogEntry = zeroed();
        raw.seqnum = index.into();
        let body: &[u8];
        let (file, dir, dax);
        match self {
            LogRecord::File(f) => {
                raw.entry_type = ENTRY_FILE.into();
                file = RawFileBody {
                    size: f.size.into(),
                    flags: f.flags.into(),
                    uid: f.uid.into(),
                    gid: f.gid.into(),
                    mode: f.mode.into(),
                    relpath: path_field(&f.path),
                    fmap: f.fmap.encode(),
                };
                body = file.as_slice();
            }
            LogRecord::Mkdir(d) => {
                raw.entry_type = ENTRY_MKDIR.into();
                dir = RawMkdirBody {
                    uid: d.uid.into(),
                    gid: d.gid.into(),
                    mode: d.mode.into(),
                    relpath: path_field(&d.path),
                };
                body = dir.as_slice();
            }
            LogRecord::AddDaxdev(d) => {
                raw.entry_type = ENTRY_ADD_DAXDEV.into();
                dax = RawDaxdevBody {
                    size: d.size.into(),
                    uuid: *d.uuid.as_bytes(),
                    index: d.index.into(),
                    pad: [0; 4],
                };
                body = dax.as_slice();
            }
        }
        raw.body[..body.len()].copy_from_slice(body);
        raw.crc = crc32(&raw.as_slice()[..ENTRY_CRC_OFFSET]).into();
        raw
    }
}

fn path_field(p: &RelPath) -> [u8; MAX_PATHLEN] {
    // A RelPath is always shorter than the field and free of NUL.
    to_cstr_field(p.as_bytes()).unwrap_or([0; MAX_PATHLEN])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::fmap::Extent;
    use super::*;

    const MIB2: u64 = 2 << 20;
    const GEO: Geometry = Geometry {
        dev_size: 1 << 32,
        meta_size: 10 << 20,
        alloc_unit: MIB2,
    };

    fn file(path: &str, off: u64) -> LogRecord {
        LogRecord::File(FileRecord {
            path: RelPath::new(path).unwrap(),
            size: 3 << 20,
            flags: FILE_FLAG_ALL_HOSTS_RW,
            uid: 1000,
            gid: 100,
            mode: 0o100644,
            fmap: Fmap::Simple(vec![Extent {
                offset: off,
                len: 2 * MIB2,
            }]),
        })
    }

    #[test]
    fn file_entry_fields_at_documented_offsets() {
        let raw = file("dir/f", 12 * MIB2).encode(7);
        let b = raw.as_slice();
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u64_at(0), 7);
        assert_eq!(u32_at(8), ENTRY_FILE);
        assert_eq!(u32_at(12), 0);
        let body = 16;
        assert_eq!(u64_at(body), 3 << 20);
        assert_eq!(u32_at(body + 8), FILE_FLAG_ALL_HOSTS_RW);
        assert_eq!(u32_at(body + 12), 1000);
        assert_eq!(u32_at(body + 16), 100);
        assert_eq!(u32_at(body + 20), 0o100644);
        assert_eq!(&b[body + 24..body + 30], b"dir/f\0");
        let fmap = body + 104;
        assert_eq!(u32_at(fmap), EXT_SIMPLE);
        assert_eq!(u32_at(fmap + 8), 1);
        assert_eq!(u64_at(fmap + 16), 0); // devindex
        assert_eq!(u64_at(fmap + 24), 12 * MIB2);
        assert_eq!(u64_at(fmap + 32), 2 * MIB2);
        assert_eq!(u64_at(536), u64::from(crc32fast::hash(&b[..536])));
    }

    #[test]
    fn mkdir_and_daxdev_offsets() {
        let d = LogRecord::Mkdir(DirRecord {
            path: RelPath::new("d").unwrap(),
            uid: 1,
            gid: 2,
            mode: 0o40755,
        });
        let raw = d.encode(0);
        let b = raw.as_slice();
        assert_eq!(
            u32::from_le_bytes(b[8..12].try_into().unwrap()),
            ENTRY_MKDIR
        );
        assert_eq!(u32::from_le_bytes(b[16..20].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 0o40755);
        assert_eq!(&b[28..30], b"d\0");
        assert_eq!(LogRecord::decode(&raw, 0, &GEO).unwrap(), d);

        let x = LogRecord::AddDaxdev(DaxdevRecord {
            size: 1 << 33,
            uuid: Uuid::from_u128(9),
            index: 1,
        });
        let raw = x.encode(3);
        let b = raw.as_slice();
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 1 << 33);
        assert_eq!(&b[24..40], Uuid::from_u128(9).as_bytes());
        assert_eq!(u32::from_le_bytes(b[40..44].try_into().unwrap()), 1);
        assert_eq!(LogRecord::decode(&raw, 3, &GEO).unwrap(), x);
    }

    #[test]
    fn rejects_bad_entries() {
        let good = file("f", 12 * MIB2).encode(5);
        let mut r = good;
        r.body[40] ^= 1;
        assert!(matches!(
            LogRecord::decode(&r, 5, &GEO),
            Err(MetaError::BadEntryCrc { .. })
        ));
        assert!(matches!(
            LogRecord::decode(&good, 6, &GEO),
            Err(MetaError::BadSeqnum { .. })
        ));
        // Every raw body problem must be caught even with a valid CRC.
        let reseal = |mut r: RawLogEntry| {
            r.crc = crc32(&r.as_slice()[..ENTRY_CRC_OFFSET]).into();
            r
        };
        let with_path = |p: &[u8]| {
            let mut r = good;
            r.body[24..104].fill(0);
            r.body[24..24 + p.len()].copy_from_slice(p);
            reseal(r)
        };
        for p in [&b"../x"[..], b"/abs", b"a/../b", &[b'x'; 80]] {
            assert!(LogRecord::decode(&with_path(p), 5, &GEO).is_err(), "{p:?}");
        }
        for off in [0, 4 * MIB2, 4096 * MIB2] {
            let r = file("f", off).encode(5);
            assert!(LogRecord::decode(&r, 5, &GEO).is_err(), "offset {off:#x}");
        }
        let mut r = good;
        r.entry_type = ENTRY_DELETE.into();
        assert!(LogRecord::decode(&reseal(r), 5, &GEO).is_err());
        r.entry_type = 99u32.into();
        assert!(LogRecord::decode(&reseal(r), 5, &GEO).is_err());
    }

    proptest! {
        #[test]
        fn file_entries_round_trip(
            name in "[a-zA-Z0-9_.-]{1,20}(/[a-zA-Z0-9_-]{1,20}){0,2}",
            idx in 0u64..15_420,
            unit in 5u64..1000,
            uid: u32, gid: u32, mode: u32,
        ) {
            prop_assume!(RelPath::new(&name).is_ok());
            let rec = LogRecord::File(FileRecord {
                path: RelPath::new(&name).unwrap(),
                size: MIB2 - 1,
                flags: FILE_FLAG_ALL_HOSTS_RW,
                uid, gid, mode,
                fmap: Fmap::Simple(vec![Extent { offset: unit * MIB2, len: MIB2 }]),
            });
            prop_assert_eq!(LogRecord::decode(&rec.encode(idx), idx, &GEO).unwrap(), rec);
        }

        /// Any bytes but '/' and NUL survive encoding and decoding as
        /// they are, UTF-8 or not.
        #[test]
        fn byte_string_names_round_trip(
            comps in prop::collection::vec(prop::collection::vec(1u8..=255, 1..20), 1..4),
        ) {
            let comps: Vec<Vec<u8>> = comps
                .into_iter()
                .map(|c| c.into_iter().map(|b| if b == b'/' { 0xff } else { b }).collect())
                .collect();
            let path = comps.join(&b'/');
            prop_assume!(RelPath::new(&path).is_ok());
            let rec = LogRecord::Mkdir(DirRecord {
                path: RelPath::new(&path).unwrap(),
                uid: 1,
                gid: 2,
                mode: 0o755,
            });
            let back = LogRecord::decode(&rec.encode(3), 3, &GEO).unwrap();
            prop_assert_eq!(back.path().unwrap().as_bytes(), &path[..]);
        }
    }
}
