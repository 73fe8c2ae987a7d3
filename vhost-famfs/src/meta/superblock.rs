// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The superblock: decoded, validated and encoded.

use uuid::Uuid;
use vm_memory::ByteValued;

use super::error::{MetaError, Result};
use super::format::*;

/// The famfs format versions we read. They differ only in the log entry
/// types allowed: ADD_DAXDEV appeared with omf 2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatVersion {
    /// Superblock version 47, omf 2.1 (famfs releases before 2.2).
    V47,
    /// Superblock version 48, omf 2.2 (what mkfs writes).
    V48,
}

impl FormatVersion {
    /// The superblock version field.
    pub fn sb_version(self) -> u64 {
        match self {
            FormatVersion::V47 => SB_VERSION_OMF21,
            FormatVersion::V48 => SB_VERSION,
        }
    }

    /// The omf (major, minor) pair this version carries.
    pub fn omf(self) -> (u32, u32) {
        match self {
            FormatVersion::V47 => (OMF_VER_MAJOR, OMF_VER_MINOR_21),
            FormatVersion::V48 => (OMF_VER_MAJOR, OMF_VER_MINOR),
        }
    }

    /// Whether ADD_DAXDEV log entries are valid in this version.
    pub fn has_add_daxdev(self) -> bool {
        self == FormatVersion::V48
    }

    fn from_fields(version: u64, major: u32, minor: u32) -> Option<Self> {
        [FormatVersion::V47, FormatVersion::V48]
            .into_iter()
            .find(|v| v.sb_version() == version && v.omf() == (major, minor))
    }
}

impl std::fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (major, minor) = self.omf();
        write!(f, "version {} (omf {major}.{minor})", self.sb_version())
    }
}

/// What a superblock with valid magic and CRC says, whatever its version:
/// enough to name a file system before refusing to touch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuperblockId {
    pub fs_uuid: Uuid,
    pub version: u64,
    pub omf_major: u32,
    pub omf_minor: u32,
}

impl SuperblockId {
    /// The identity of `raw` if its magic and CRC are valid.
    pub fn of(raw: &RawSuperblock) -> Option<Self> {
        let sealed = raw.magic.to_native() == SB_MAGIC
            && raw.crc.to_native() == crc32(&raw.as_slice()[..SB_CRC_OFFSET]);
        sealed.then(|| SuperblockId {
            fs_uuid: Uuid::from_bytes(raw.fs_uuid),
            version: raw.version.to_native(),
            omf_major: raw.omf_ver_major.to_native(),
            omf_minor: raw.omf_ver_minor.to_native(),
        })
    }
}

/// A validated superblock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub version: FormatVersion,
    pub log_len: u64,
    pub alloc_unit: u64,
    pub fs_uuid: Uuid,
    pub dev_uuid: Uuid,
    /// The system uuid of the master host: the only one that may append.
    pub system_uuid: Uuid,
    pub flags: u32,
    pub daxdev_size: u64,
    pub daxdev_uuid: Uuid,
    pub daxdev_name: String,
}

impl Superblock {
    /// Bytes at the start of the device that hold metadata (superblock and
    /// log); no file data may live there.
    pub fn meta_size(&self) -> u64 {
        LOG_OFFSET + self.log_len
    }

    /// Decodes and validates a superblock read from a device of `dev_size`
    /// bytes.
    pub fn decode(raw: &RawSuperblock, dev_size: u64) -> Result<Self> {
        let magic = raw.magic.to_native();
        if magic != SB_MAGIC {
            return Err(MetaError::BadSuperMagic {
                found: magic,
                expected: SB_MAGIC,
            });
        }
        let stored = raw.crc.to_native();
        let computed = crc32(&raw.as_slice()[..SB_CRC_OFFSET]);
        if stored != computed {
            return Err(MetaError::BadSuperCrc { stored, computed });
        }
        let (version, major, minor) = (
            raw.version.to_native(),
            raw.omf_ver_major.to_native(),
            raw.omf_ver_minor.to_native(),
        );
        let Some(fmt_version) = FormatVersion::from_fields(version, major, minor) else {
            return Err(MetaError::UnsupportedVersion {
                version,
                major,
                minor,
            });
        };
        let bad = |s: String| Err(MetaError::BadSuper(s));
        if raw.log_offset.to_native() != LOG_OFFSET {
            return bad(format!(
                "log offset {:#x}, expected {LOG_OFFSET:#x}",
                raw.log_offset.to_native()
            ));
        }
        let log_len = raw.log_len.to_native();
        if log_len < DEFAULT_LOG_LEN || !log_len.is_power_of_two() {
            return bad(format!(
                "log length {log_len:#x} is not a power of two >= {DEFAULT_LOG_LEN:#x}"
            ));
        }
        let alloc_unit = raw.alloc_unit.to_native();
        if alloc_unit != ALLOC_UNIT && alloc_unit != 4096 {
            return bad(format!("allocation unit {alloc_unit:#x}"));
        }
        // The file system's size is the one recorded here: a device
        // larger than that holds it whole; a smaller one has lost its end.
        let daxdev_size = raw.daxdev_size.to_native();
        if daxdev_size > dev_size {
            return bad(format!(
                "formatted for {daxdev_size:#x} bytes but the device has only {dev_size:#x}"
            ));
        }
        let meta_end = LOG_OFFSET.checked_add(log_len);
        if meta_end.is_none_or(|end| end >= daxdev_size) {
            return bad(format!(
                "log ({log_len:#x} bytes) does not fit the recorded {daxdev_size:#x}-byte device"
            ));
        }
        let name = from_cstr_field(&raw.daxdev_name).unwrap_or(&raw.daxdev_name);
        Ok(Superblock {
            version: fmt_version,
            log_len,
            alloc_unit,
            fs_uuid: Uuid::from_bytes(raw.fs_uuid),
            dev_uuid: Uuid::from_bytes(raw.dev_uuid),
            system_uuid: Uuid::from_bytes(raw.system_uuid),
            flags: raw.sb_flags.to_native(),
            daxdev_size,
            daxdev_uuid: Uuid::from_bytes(raw.daxdev_uuid),
            daxdev_name: String::from_utf8_lossy(name).into_owned(),
        })
    }

    /// Encodes the superblock with its CRC; every padding byte is zero.
    pub fn encode(&self) -> RawSuperblock {
        let mut raw: RawSuperblock = zeroed();
        raw.magic = SB_MAGIC.into();
        let (major, minor) = self.version.omf();
        raw.version = self.version.sb_version().into();
        raw.log_offset = LOG_OFFSET.into();
        raw.log_len = self.log_len.into();
        raw.alloc_unit = self.alloc_unit.into();
        raw.omf_ver_major = major.into();
        raw.omf_ver_minor = minor.into();
        raw.fs_uuid = *self.fs_uuid.as_bytes();
        raw.dev_uuid = *self.dev_uuid.as_bytes();
        raw.system_uuid = *self.system_uuid.as_bytes();
        raw.sb_flags = self.flags.into();
        raw.daxdev_size = self.daxdev_size.into();
        raw.daxdev_uuid = *self.daxdev_uuid.as_bytes();
        let name = self.daxdev_name.as_bytes();
        let n = name.len().min(DEVNAME_LEN - 1);
        raw.daxdev_name[..n].copy_from_slice(&name[..n]);
        raw.crc = crc32(&raw.as_slice()[..SB_CRC_OFFSET]).into();
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: u64 = 4 << 30;

    pub(crate) fn sample() -> Superblock {
        Superblock {
            version: FormatVersion::V48,
            log_len: DEFAULT_LOG_LEN,
            alloc_unit: ALLOC_UNIT,
            fs_uuid: Uuid::from_u128(1),
            dev_uuid: Uuid::from_u128(2),
            system_uuid: Uuid::from_u128(3),
            flags: SB_FLAG_PRIMARY,
            daxdev_size: DEV,
            daxdev_uuid: Uuid::from_u128(2),
            daxdev_name: "dax0.0".into(),
        }
    }

    #[test]
    fn round_trip() {
        let sb = sample();
        assert_eq!(Superblock::decode(&sb.encode(), DEV).unwrap(), sb);
    }

    #[test]
    fn fields_at_documented_offsets() {
        let raw = sample().encode();
        let b = raw.as_slice();
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u64_at(0), 0x87b2_82ff);
        assert_eq!(u64_at(8), 48);
        assert_eq!(u64_at(16), 0x20_0000);
        assert_eq!(u64_at(24), 0x80_0000);
        assert_eq!(u64_at(32), 0x20_0000);
        assert_eq!(u32_at(40), 2);
        assert_eq!(u32_at(44), 2);
        assert_eq!(&b[48..64], Uuid::from_u128(1).as_bytes());
        assert_eq!(&b[64..80], Uuid::from_u128(2).as_bytes());
        assert_eq!(&b[80..96], Uuid::from_u128(3).as_bytes());
        assert_eq!(u64_at(96), u64::from(crc32fast::hash(&b[..96])));
        assert_eq!(u32_at(104), 1);
        assert_eq!(u64_at(112), DEV);
        assert_eq!(&b[136..142], b"dax0.0");
        assert!(b[142..200].iter().all(|&c| c == 0));
    }

    #[test]
    fn reads_version_47_and_48_only() {
        let mut v47 = sample();
        v47.version = FormatVersion::V47;
        let raw = v47.encode();
        assert_eq!(raw.version.to_native(), 47);
        assert_eq!(raw.omf_ver_minor.to_native(), 1);
        assert_eq!(Superblock::decode(&raw, DEV).unwrap(), v47);
        assert!(!FormatVersion::V47.has_add_daxdev());
        assert!(FormatVersion::V48.has_add_daxdev());
        // Version 47 with omf 2.2 (or 48 with 2.1) is no known format.
        let mut r = raw;
        r.omf_ver_minor = 2u32.into();
        r.crc = crc32(&r.as_slice()[..SB_CRC_OFFSET]).into();
        let e = Superblock::decode(&r, DEV).unwrap_err();
        assert!(e.to_string().contains("version 47, omf 2.2"), "{e}");
        // A sealed superblock of any version has an identity.
        let mut r = raw;
        r.version = 49u64.into();
        r.crc = crc32(&r.as_slice()[..SB_CRC_OFFSET]).into();
        assert_eq!(SuperblockId::of(&r).unwrap().version, 49);
        r.fs_uuid[3] ^= 1;
        assert!(SuperblockId::of(&r).is_none());
    }

    #[test]
    fn rejects_corruption() {
        let good = sample().encode();

        let mut r = good;
        r.magic = 0x1234u64.into();
        assert!(matches!(
            Superblock::decode(&r, DEV),
            Err(MetaError::BadSuperMagic { .. })
        ));

        let mut r = good;
        r.fs_uuid[0] ^= 1;
        assert!(matches!(
            Superblock::decode(&r, DEV),
            Err(MetaError::BadSuperCrc { .. })
        ));

        let mut s = sample();
        s.log_len = 3 << 20;
        assert!(matches!(
            Superblock::decode(&s.encode(), DEV),
            Err(MetaError::BadSuper(_))
        ));

        let mut r = good;
        r.omf_ver_minor = 1u32.into();
        r.crc = crc32(&r.as_slice()[..SB_CRC_OFFSET]).into();
        assert!(matches!(
            Superblock::decode(&r, DEV),
            Err(MetaError::UnsupportedVersion { .. })
        ));

        // A device smaller than the file system it holds.
        assert!(Superblock::decode(&good, DEV / 2).is_err());
    }
}
