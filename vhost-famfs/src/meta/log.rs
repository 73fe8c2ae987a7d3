// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The metadata log on the device: its header, reading entries and
//! appending them with the famfs commit rule.

use vm_memory::ByteValued;

use super::entry::LogRecord;
use super::error::{MetaError, Result};
use super::fmap::Geometry;
use super::format::*;
use super::superblock::{FormatVersion, Superblock};
use crate::device::Device;
use crate::meta::cache;

/// The decoded log header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHeader {
    pub log_len: u64,
    pub last_index: u64,
    pub next_seqnum: u64,
    pub next_index: u64,
}

impl LogHeader {
    /// Number of entry slots.
    pub fn slots(&self) -> u64 {
        self.last_index + 1
    }

    fn encode(&self) -> RawLogHeader {
        let mut raw = RawLogHeader {
            magic: LOG_MAGIC.into(),
            log_len: self.log_len.into(),
            last_index: self.last_index.into(),
            next_seqnum: self.next_seqnum.into(),
            next_index: self.next_index.into(),
            ..Default::default()
        };
        raw.crc = crc32(&raw.as_slice()[..LOG_HEADER_CRC_OFFSET]).into();
        raw
    }

    fn decode(raw: &RawLogHeader, log_len: u64) -> Result<Self> {
        let magic = raw.magic.to_native();
        if magic != LOG_MAGIC {
            return Err(MetaError::BadLogMagic {
                found: magic,
                expected: LOG_MAGIC,
            });
        }
        let stored = raw.crc.to_native();
        let computed = crc32(&raw.as_slice()[..LOG_HEADER_CRC_OFFSET]);
        if stored != computed {
            return Err(MetaError::BadLogCrc { stored, computed });
        }
        let h = LogHeader {
            log_len: raw.log_len.to_native(),
            last_index: raw.last_index.to_native(),
            next_seqnum: raw.next_seqnum.to_native(),
            next_index: raw.next_index.to_native(),
        };
        let bad = |s: String| Err(MetaError::BadLogHeader(s));
        if h.log_len != log_len {
            return bad(format!(
                "log length {:#x} differs from the superblock's {log_len:#x}",
                h.log_len
            ));
        }
        if h.last_index > last_index_for(log_len) {
            return bad(format!(
                "last index {} does not fit a {log_len:#x}-byte log",
                h.last_index
            ));
        }
        if h.next_index > h.slots() {
            return bad(format!(
                "next index {} past the last slot {}",
                h.next_index, h.last_index
            ));
        }
        // next_seqnum may differ from next_index after a crash between
        // the two stores of an append; next_index is the commit point and
        // is trusted (see `is_torn`).
        Ok(h)
    }

    /// True if an append was interrupted between its two counter stores:
    /// the counters differ. Nothing is lost (next_index, the commit point,
    /// is trusted); the next append, or `fsck --repair`, rewrites both.
    pub fn is_torn(&self) -> bool {
        self.next_seqnum != self.next_index
    }
}

/// The log of one device.
pub struct Log<'a> {
    dev: &'a Device,
    log_len: u64,
    geo: Geometry,
    version: FormatVersion,
}

impl<'a> Log<'a> {
    pub fn new(dev: &'a Device, sb: &Superblock, geo: Geometry) -> Self {
        Log {
            dev,
            log_len: sb.log_len,
            geo,
            version: sb.version,
        }
    }

    /// Writes an empty log (mkfs).
    pub fn format(dev: &Device, log_len: u64) -> Result<LogHeader> {
        let h = LogHeader {
            log_len,
            last_index: last_index_for(log_len),
            next_seqnum: 0,
            next_index: 0,
        };
        // Clear the whole log so no stale entry can ever look valid.
        let zero = vec![0u8; 1 << 20];
        let mut off = LOG_OFFSET;
        while off < LOG_OFFSET + log_len {
            let n = (LOG_OFFSET + log_len - off).min(zero.len() as u64);
            dev.write_bytes(off, &zero[..n as usize])?;
            off += n;
        }
        dev.write_obj(LOG_OFFSET, &h.encode())?;
        cache::flush(dev, LOG_OFFSET, log_len)?;
        Ok(h)
    }

    /// Reads and validates the header. Another host may be writing it:
    /// a bad CRC is read once more before it counts.
    pub fn header(&self) -> Result<LogHeader> {
        retry_once(|| {
            cache::invalidate(self.dev, LOG_OFFSET, LOG_HEADER_SIZE)?;
            let raw: RawLogHeader = self.dev.read_obj(LOG_OFFSET)?;
            LogHeader::decode(&raw, self.log_len)
        })
    }

    /// Reads and validates entry `index` (retried once on a bad CRC).
    pub fn read(&self, index: u64) -> Result<LogRecord> {
        let rec = retry_once(|| {
            let off = entry_offset(index);
            cache::invalidate(self.dev, off, LOG_ENTRY_SIZE)?;
            let raw: RawLogEntry = self.dev.read_obj(off)?;
            LogRecord::decode(&raw, index, &self.geo)
        })?;
        if matches!(rec, LogRecord::AddDaxdev(_)) && !self.version.has_add_daxdev() {
            return Err(MetaError::BadEntry {
                index,
                reason: format!(
                    "ADD_DAXDEV entry in a {} file system (it needs omf 2.2)",
                    self.version
                ),
            });
        }
        Ok(rec)
    }

    /// Makes next_seqnum equal next_index again after an interrupted
    /// append (`fsck --repair`). The caller holds the device lock.
    pub fn repair_torn(&self, h: &LogHeader) -> Result<()> {
        self.dev.write_obj(
            LOG_OFFSET + LOG_HEADER_NEXT_SEQNUM_OFFSET,
            &h.next_index.to_le(),
        )?;
        cache::flush(self.dev, LOG_OFFSET, LOG_HEADER_SIZE)?;
        Ok(())
    }

    /// Appends `rec`. The caller holds the device lock and has replayed
    /// the log up to `h.next_index`. The entry is written and flushed
    /// first; advancing next_index is the commit point. Writing both
    /// counters also repairs a header torn by an earlier crash.
    pub fn append(&self, h: &LogHeader, rec: &LogRecord) -> Result<u64> {
        let index = h.next_index;
        if index >= h.slots() {
            return Err(MetaError::LogFull { slots: h.slots() });
        }
        let off = entry_offset(index);
        self.dev.write_obj(off, &rec.encode(index))?;
        cache::flush(self.dev, off, LOG_ENTRY_SIZE)?;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let next = index + 1;
        self.dev
            .write_obj(LOG_OFFSET + LOG_HEADER_NEXT_SEQNUM_OFFSET, &next.to_le())?;
        self.dev
            .write_obj(LOG_OFFSET + LOG_HEADER_NEXT_INDEX_OFFSET, &next.to_le())?;
        cache::flush(self.dev, LOG_OFFSET, LOG_HEADER_SIZE)?;
        Ok(index)
    }
}

fn retry_once<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    match f() {
        Err(
            MetaError::BadEntryCrc { .. }
            | MetaError::BadLogCrc { .. }
            | MetaError::BadSeqnum { .. }
            | MetaError::BadLogHeader(_),
        ) => f(),
        r => r,
    }
}
