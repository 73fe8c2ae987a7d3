// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The superblock: decoded, validated and encoded.

use uuid::Uuid;
use vm_memory::ByteValued;

use super::error::{MetaError, Result};
use super::format::*;

/// A validated superblock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
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
        if version != SB_VERSION || major != OMF_VER_MAJOR || minor != OMF_VER_MINOR {
            return Err(MetaError::UnsupportedVersion {
                version,
                major,
                minor,
            });
        }
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
        let meta_end = LOG_OFFSET.checked_add(log_len);
        if meta_end.is_none_or(|end| end >= dev_size) {
            return bad(format!(
                "log ({log_len:#x} bytes) does not fit a {dev_size:#x}-byte device"
            ));
        }
        let daxdev_size = raw.daxdev_size.to_native();
        if daxdev_size > dev_size {
            return bad(format!(
                "formatted for {daxdev_size:#x} bytes but the device has only {dev_size:#x}"
            ));
        }
        let name = from_cstr_field(&raw.daxdev_name).unwrap_or(&raw.daxdev_name);
        Ok(Superblock {
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
        raw.version = SB_VERSION.into();
        raw.log_offset = LOG_OFFSET.into();
        raw.log_len = self.log_len.into();
        raw.alloc_unit = self.alloc_unit.into();
        raw.omf_ver_major = OMF_VER_MAJOR.into();
        raw.omf_ver_minor = OMF_VER_MINOR.into();
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
