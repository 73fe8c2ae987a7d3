// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! fsck: checks a device without trusting any of it and reports what it
//! found, plus space and log usage.

use super::alloc::Allocator;
use super::fmap::Geometry;
use super::log::Log;
use super::namespace::Namespace;
use super::superblock::Superblock;
use crate::device::Device;

/// Exit codes, as fsck(8) defines them.
pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_ERRORS: i32 = 4;
pub const EXIT_OPERATIONAL: i32 = 8;
pub const EXIT_USAGE: i32 = 16;

/// What fsck found.
#[derive(Debug, Default)]
pub struct FsckReport {
    pub superblock: Option<Superblock>,
    /// Problems that make the file system wrong or incomplete.
    pub errors: Vec<String>,
    /// Oddities that lose nothing (an entry whose name was taken, ...).
    pub warnings: Vec<String>,
    pub log_slots: u64,
    pub log_used: u64,
    pub files: u64,
    pub dirs: u64,
    pub device_bytes: u64,
    pub meta_bytes: u64,
    pub data_bytes: u64,
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub largest_free: u64,
    /// (next_seqnum, next_index) of a log header torn by a crash.
    pub torn_header: Option<(u64, u64)>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn exit_code(&self) -> i32 {
        if self.is_clean() {
            EXIT_CLEAN
        } else {
            EXIT_ERRORS
        }
    }
}

/// Checks the superblock, the log header, every entry (CRC, seqnum,
/// path, extents inside the device and outside the metadata area), the
/// tree (names, parents) and cross-linked extents between files.
pub fn fsck(dev: &Device) -> FsckReport {
    let mut r = FsckReport {
        device_bytes: dev.size(),
        ..Default::default()
    };
    let sb = match super::fs::read_superblock(dev) {
        Ok(sb) => sb,
        Err(e) => {
            r.errors.push(format!("superblock: {e}"));
            return r;
        }
    };
    if sb.daxdev_size != dev.size() {
        r.warnings.push(format!(
            "superblock records a {:#x}-byte device, this one has {:#x} bytes; the file system uses the recorded size",
            sb.daxdev_size,
            dev.size()
        ));
    }
    let geo = Geometry::of(&sb);
    r.meta_bytes = sb.meta_size();
    r.superblock = Some(sb.clone());
    let log = Log::new(dev, &sb, geo);
    let h = match log.header() {
        Ok(h) => h,
        Err(e) => {
            r.errors.push(format!("log header: {e}"));
            return r;
        }
    };
    r.log_slots = h.slots();
    r.log_used = h.next_index;
    if h.is_torn() {
        r.torn_header = Some((h.next_seqnum, h.next_index));
        r.warnings.push(format!(
            "log header: next seqnum {} differs from next index {}: an append was interrupted (nothing committed is lost; the next append or `fsck --repair` rewrites it)",
            h.next_seqnum, h.next_index
        ));
    }
    let mut ns = Namespace::new(0, 0, 0o755);
    let mut alloc = Allocator::new(&geo);
    for index in 0..h.next_index {
        let rec = match log.read(index) {
            Ok(rec) => rec,
            Err(e) => {
                r.errors.push(e.to_string());
                continue;
            }
        };
        if let super::entry::LogRecord::File(f) = &rec {
            for e in f.fmap.ranges() {
                if let Some(c) = alloc.mark(e) {
                    r.errors.push(format!(
                        "log entry {index}: {}: extent {:#x}+{:#x} is cross-linked with another file",
                        f.path, c.offset, c.len
                    ));
                }
            }
        }
        if let Err(what) = ns.apply(index, &rec) {
            r.warnings.push(format!("log entry {index}: {what}"));
        }
    }
    r.files = ns.files();
    r.dirs = ns.dirs();
    r.free_bytes = alloc.free_bytes();
    r.largest_free = alloc.largest_free();
    let data = alloc.total_bytes().saturating_sub(r.meta_bytes);
    r.data_bytes = data;
    r.used_bytes = data.saturating_sub(r.free_bytes);
    r
}

impl std::fmt::Display for FsckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(sb) = &self.superblock {
            writeln!(f, "famfs file system {} ({})", sb.fs_uuid, sb.version)?;
            writeln!(f, "  master system uuid   {}", sb.system_uuid)?;
        }
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        writeln!(
            f,
            "  device size          {:>12.1} MiB",
            mib(self.device_bytes)
        )?;
        writeln!(
            f,
            "  metadata (sb + log)  {:>12.1} MiB",
            mib(self.meta_bytes)
        )?;
        writeln!(
            f,
            "  data space           {:>12.1} MiB",
            mib(self.data_bytes)
        )?;
        let pct = if self.data_bytes > 0 {
            100.0 * self.used_bytes as f64 / self.data_bytes as f64
        } else {
            0.0
        };
        writeln!(
            f,
            "  used                 {:>12.1} MiB ({pct:.1}%)",
            mib(self.used_bytes)
        )?;
        writeln!(
            f,
            "  free                 {:>12.1} MiB",
            mib(self.free_bytes)
        )?;
        writeln!(
            f,
            "  largest free extent  {:>12.1} MiB",
            mib(self.largest_free)
        )?;
        writeln!(
            f,
            "  log entries          {:>12} of {}",
            self.log_used, self.log_slots
        )?;
        writeln!(f, "  files                {:>12}", self.files)?;
        writeln!(f, "  directories          {:>12}", self.dirs)?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        if self.is_clean() {
            write!(f, "clean")
        } else {
            write!(f, "{} error(s) found", self.errors.len())
        }
    }
}
