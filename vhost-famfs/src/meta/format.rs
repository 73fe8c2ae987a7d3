// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The famfs on-media format (omf 2.1 and 2.2), byte for byte.
//!
//! These are the raw structures exactly as they lie on the device. They are
//! plain little-endian records; nothing here validates anything. Decoding
//! with validation lives in `superblock.rs` and `entry.rs`.

use vm_memory::{ByteValued, Le32, Le64};

/// Superblock magic number.
pub const SB_MAGIC: u64 = 0x87b2_82ff;
/// Superblock version famfs writes for omf 2.2 (and we write).
pub const SB_VERSION: u64 = 48;
/// Superblock version of omf 2.1, written by famfs releases before 2.2.
pub const SB_VERSION_OMF21: u64 = 47;
/// The log always starts 2 MiB into the device.
pub const LOG_OFFSET: u64 = 0x20_0000;
/// Default (and minimum) log length.
pub const DEFAULT_LOG_LEN: u64 = 0x80_0000;
/// The allocation unit; every extent offset and length is a multiple of it.
pub const ALLOC_UNIT: u64 = 0x20_0000;
/// On-media format version we write (we read minor 1 too).
pub const OMF_VER_MAJOR: u32 = 2;
pub const OMF_VER_MINOR: u32 = 2;
/// The omf minor version that superblock version 47 carries.
pub const OMF_VER_MINOR_21: u32 = 1;
/// Superblock flag: the device holding the superblock of the file system.
pub const SB_FLAG_PRIMARY: u32 = 1 << 0;
/// Superblock flag: an additional device of a multi-device file system.
pub const SB_FLAG_SECONDARY: u32 = 1 << 1;

/// Log header magic number.
pub const LOG_MAGIC: u64 = 0xbad_cafe_f00d;
/// Size of the log header that precedes the entries.
pub const LOG_HEADER_SIZE: u64 = 48;
/// Size of one log entry.
pub const LOG_ENTRY_SIZE: u64 = 544;
/// Size of the union that holds an entry's body.
pub const ENTRY_BODY_SIZE: usize = 520;

/// Log entry types.
pub const ENTRY_FILE: u32 = 0;
pub const ENTRY_MKDIR: u32 = 1;
pub const ENTRY_DELETE: u32 = 2;
pub const ENTRY_ADD_DAXDEV: u32 = 3;

/// Extent map types.
pub const EXT_SIMPLE: u32 = 0;
pub const EXT_INTERLEAVE: u32 = 1;

/// Room for a relative path, including its terminating NUL.
pub const MAX_PATHLEN: usize = 80;
/// Extents in a simple map, and strips in an interleaved one.
pub const MAX_EXTENTS: usize = 16;
/// Length of the NUL-padded device name in the superblock.
pub const DEVNAME_LEN: usize = 64;

/// FILE entry flags.
pub const FILE_FLAG_ALL_HOSTS_RO: u32 = 1 << 0;
pub const FILE_FLAG_ALL_HOSTS_RW: u32 = 1 << 1;

/// The superblock, at device offset 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSuperblock {
    pub magic: Le64,
    pub version: Le64,
    pub log_offset: Le64,
    pub log_len: Le64,
    pub alloc_unit: Le64,
    pub omf_ver_major: Le32,
    pub omf_ver_minor: Le32,
    pub fs_uuid: [u8; 16],
    pub dev_uuid: [u8; 16],
    pub system_uuid: [u8; 16],
    /// crc32 of every byte before this field.
    pub crc: Le64,
    pub sb_flags: Le32,
    pub pad: [u8; 4],
    pub daxdev_size: Le64,
    pub daxdev_uuid: [u8; 16],
    pub daxdev_name: [u8; DEVNAME_LEN],
}

/// Offset of `RawSuperblock::crc`; the CRC covers the bytes before it.
pub const SB_CRC_OFFSET: usize = 96;

/// The log header, at `LOG_OFFSET`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawLogHeader {
    pub magic: Le64,
    pub log_len: Le64,
    /// Index of the last usable entry slot (inclusive).
    pub last_index: Le64,
    /// crc32 of magic, log_len and last_index: the fields that never change.
    pub crc: Le64,
    pub next_seqnum: Le64,
    /// First free entry slot.
    pub next_index: Le64,
}

/// Offset of `RawLogHeader::crc`.
pub const LOG_HEADER_CRC_OFFSET: usize = 24;
/// Offset of `RawLogHeader::next_seqnum`.
pub const LOG_HEADER_NEXT_SEQNUM_OFFSET: u64 = 32;
/// Offset of `RawLogHeader::next_index`.
pub const LOG_HEADER_NEXT_INDEX_OFFSET: u64 = 40;

/// One log entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawLogEntry {
    pub seqnum: Le64,
    pub entry_type: Le32,
    pub pad: [u8; 4],
    pub body: [u8; ENTRY_BODY_SIZE],
    /// crc32 of the 536 bytes before it, padding included.
    pub crc: Le64,
}

/// Offset of `RawLogEntry::crc`.
pub const ENTRY_CRC_OFFSET: usize = 536;

/// One contiguous range of a device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawSimpleExtent {
    pub devindex: Le64,
    pub offset: Le64,
    pub len: Le64,
}

/// The extents of a simple map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawSimpleMap {
    pub extents: [RawSimpleExtent; MAX_EXTENTS],
}

/// A striped map: chunk `k` of the file lives in strip `k % nstrips`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawInterleave {
    pub nstrips: Le64,
    pub chunk_size: Le64,
    pub strips: [RawSimpleExtent; MAX_EXTENTS],
}

/// The extent map of a FILE entry. `extents` holds either
/// `[RawSimpleExtent; count]` or one `RawInterleave`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawFmap {
    pub ext_type: Le32,
    pub pad0: [u8; 4],
    /// SIMPLE: number of extents; INTERLEAVE: number of interleaved extents (1).
    /// (In famfs's C struct it heads each union member, hence the padding.)
    pub count: Le32,
    pub pad1: [u8; 4],
    pub extents: [u8; FMAP_UNION_SIZE],
}

/// Size of the fmap union: the larger of its members, the interleaved one.
pub const FMAP_UNION_SIZE: usize = 400;

/// Body of a FILE entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawFileBody {
    pub size: Le64,
    pub flags: Le32,
    pub uid: Le32,
    pub gid: Le32,
    pub mode: Le32,
    pub relpath: [u8; MAX_PATHLEN],
    pub fmap: RawFmap,
}

/// Body of a MKDIR entry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawMkdirBody {
    pub uid: Le32,
    pub gid: Le32,
    pub mode: Le32,
    pub relpath: [u8; MAX_PATHLEN],
}

/// Body of an ADD_DAXDEV entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawDaxdevBody {
    pub size: Le64,
    pub uuid: [u8; 16],
    pub index: Le32,
    pub pad: [u8; 4],
}

// SAFETY: every type below is repr(C), made only of integers and byte arrays,
// has no implicit padding (checked by the layout tests) and any bit pattern
// is a valid value.
unsafe impl ByteValued for RawSuperblock {}
// SAFETY: as above.
unsafe impl ByteValued for RawLogHeader {}
// SAFETY: as above.
unsafe impl ByteValued for RawLogEntry {}
// SAFETY: as above.
unsafe impl ByteValued for RawSimpleExtent {}
// SAFETY: as above.
unsafe impl ByteValued for RawSimpleMap {}
// SAFETY: as above.
unsafe impl ByteValued for RawInterleave {}
// SAFETY: as above.
unsafe impl ByteValued for RawFmap {}
// SAFETY: as above.
unsafe impl ByteValued for RawFileBody {}
// SAFETY: as above.
unsafe impl ByteValued for RawMkdirBody {}
// SAFETY: as above.
unsafe impl ByteValued for RawDaxdevBody {}

/// An all-zero value of a plain-data type; padding must be zero before a CRC.
pub fn zeroed<T: ByteValued>() -> T {
    let bytes = vec![0u8; std::mem::size_of::<T>()];
    // ByteValued values accept any bit pattern; read_unaligned copes with
    // the Vec's alignment.
    // SAFETY: the buffer holds exactly size_of::<T>() initialized bytes.
    unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) }
}

/// Reads a plain-data value from the start of `bytes`, whatever their alignment.
pub fn read_raw<T: ByteValued>(bytes: &[u8]) -> Option<T> {
    let mut v = zeroed::<T>();
    let n = std::mem::size_of::<T>();
    v.as_mut_slice().copy_from_slice(bytes.get(..n)?);
    Some(v)
}

/// The CRC famfs uses everywhere: zlib crc32 starting from 0.
pub fn crc32(bytes: &[u8]) -> u64 {
    u64::from(crc32fast::hash(bytes))
}

/// Device offset of log entry slot `index`.
pub fn entry_offset(index: u64) -> u64 {
    LOG_OFFSET + LOG_HEADER_SIZE + index * LOG_ENTRY_SIZE
}

/// Index of the last usable slot in a log of `log_len` bytes.
pub fn last_index_for(log_len: u64) -> u64 {
    (log_len - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE - 1
}

/// Copies `b` into a NUL-padded fixed-size field; `None` if it does not fit
/// with its terminating NUL.
pub fn to_cstr_field<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() >= N || b.contains(&0) {
        return None;
    }
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(b);
    Some(out)
}

/// The bytes of a NUL-terminated fixed-size field before the first NUL;
/// `None` if there is no NUL at all.
pub fn from_cstr_field(field: &[u8]) -> Option<&[u8]> {
    let end = field.iter().position(|&c| c == 0)?;
    Some(&field[..end])
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    /// The golden layout: every field at the offset the format documents.
    #[test]
    fn superblock_layout() {
        assert_eq!(size_of::<RawSuperblock>(), 200);
        assert_eq!(offset_of!(RawSuperblock, magic), 0);
        assert_eq!(offset_of!(RawSuperblock, version), 8);
        assert_eq!(offset_of!(RawSuperblock, log_offset), 16);
        assert_eq!(offset_of!(RawSuperblock, log_len), 24);
        assert_eq!(offset_of!(RawSuperblock, alloc_unit), 32);
        assert_eq!(offset_of!(RawSuperblock, omf_ver_major), 40);
        assert_eq!(offset_of!(RawSuperblock, omf_ver_minor), 44);
        assert_eq!(offset_of!(RawSuperblock, fs_uuid), 48);
        assert_eq!(offset_of!(RawSuperblock, dev_uuid), 64);
        assert_eq!(offset_of!(RawSuperblock, system_uuid), 80);
        assert_eq!(offset_of!(RawSuperblock, crc), 96);
        assert_eq!(offset_of!(RawSuperblock, crc), SB_CRC_OFFSET);
        assert_eq!(offset_of!(RawSuperblock, sb_flags), 104);
        assert_eq!(offset_of!(RawSuperblock, daxdev_size), 112);
        assert_eq!(offset_of!(RawSuperblock, daxdev_uuid), 120);
        assert_eq!(offset_of!(RawSuperblock, daxdev_name), 136);
    }

    #[test]
    fn log_header_layout() {
        assert_eq!(size_of::<RawLogHeader>() as u64, LOG_HEADER_SIZE);
        assert_eq!(offset_of!(RawLogHeader, magic), 0);
        assert_eq!(offset_of!(RawLogHeader, log_len), 8);
        assert_eq!(offset_of!(RawLogHeader, last_index), 16);
        assert_eq!(offset_of!(RawLogHeader, crc), LOG_HEADER_CRC_OFFSET);
        assert_eq!(
            offset_of!(RawLogHeader, next_seqnum) as u64,
            LOG_HEADER_NEXT_SEQNUM_OFFSET
        );
        assert_eq!(
            offset_of!(RawLogHeader, next_index) as u64,
            LOG_HEADER_NEXT_INDEX_OFFSET
        );
    }

    #[test]
    fn log_entry_layout() {
        assert_eq!(size_of::<RawLogEntry>() as u64, LOG_ENTRY_SIZE);
        assert_eq!(offset_of!(RawLogEntry, seqnum), 0);
        assert_eq!(offset_of!(RawLogEntry, entry_type), 8);
        assert_eq!(offset_of!(RawLogEntry, body), 16);
        assert_eq!(offset_of!(RawLogEntry, crc), ENTRY_CRC_OFFSET);
    }

    #[test]
    fn file_body_layout() {
        assert_eq!(size_of::<RawFileBody>(), ENTRY_BODY_SIZE);
        assert_eq!(offset_of!(RawFileBody, size), 0);
        assert_eq!(offset_of!(RawFileBody, flags), 8);
        assert_eq!(offset_of!(RawFileBody, uid), 12);
        assert_eq!(offset_of!(RawFileBody, gid), 16);
        assert_eq!(offset_of!(RawFileBody, mode), 20);
        assert_eq!(offset_of!(RawFileBody, relpath), 24);
        assert_eq!(offset_of!(RawFileBody, fmap), 104);
        assert_eq!(size_of::<RawFmap>(), 416);
        assert_eq!(offset_of!(RawFmap, ext_type), 0);
        assert_eq!(offset_of!(RawFmap, count), 8);
        assert_eq!(offset_of!(RawFmap, extents), 16);
        assert_eq!(size_of::<RawSimpleExtent>(), 24);
        assert_eq!(size_of::<[RawSimpleExtent; MAX_EXTENTS]>(), 384);
        assert_eq!(size_of::<RawInterleave>(), FMAP_UNION_SIZE);
        assert_eq!(offset_of!(RawInterleave, nstrips), 0);
        assert_eq!(offset_of!(RawInterleave, chunk_size), 8);
        assert_eq!(offset_of!(RawInterleave, strips), 16);
    }

    #[test]
    fn mkdir_and_daxdev_layout() {
        assert_eq!(offset_of!(RawMkdirBody, uid), 0);
        assert_eq!(offset_of!(RawMkdirBody, gid), 4);
        assert_eq!(offset_of!(RawMkdirBody, mode), 8);
        assert_eq!(offset_of!(RawMkdirBody, relpath), 12);
        assert!(size_of::<RawMkdirBody>() <= ENTRY_BODY_SIZE);
        assert_eq!(offset_of!(RawDaxdevBody, size), 0);
        assert_eq!(offset_of!(RawDaxdevBody, uuid), 8);
        assert_eq!(offset_of!(RawDaxdevBody, index), 24);
    }

    #[test]
    fn default_log_holds_15420_entries() {
        assert_eq!(last_index_for(DEFAULT_LOG_LEN) + 1, 15_420);
    }

    #[test]
    fn cstr_fields() {
        assert_eq!(to_cstr_field::<4>(b"abc"), Some(*b"abc\0"));
        assert_eq!(to_cstr_field::<4>(b"abcd"), None);
        assert_eq!(to_cstr_field::<8>(b"a\0b"), None);
        assert_eq!(from_cstr_field(b"ab\0cd"), Some(&b"ab"[..]));
        assert_eq!(from_cstr_field(b"abcd"), None);
    }

    #[test]
    fn crc_is_zlib_crc32() {
        // The well-known check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
