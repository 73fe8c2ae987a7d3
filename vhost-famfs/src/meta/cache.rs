// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! CPU cache maintenance for metadata in memory that other hosts share.
//!
//! On one host the memory is coherent and these are cheap no-ops in
//! effect. On a fabric without hardware coherency (CXL 3 shared memory),
//! a writer must write back its lines and a reader must drop stale ones,
//! as famfs does for its log.

use crate::device::{Device, DeviceError};

const LINE: u64 = 64;

/// Writes back the cache lines of device range `[off, off + len)`.
pub fn flush(dev: &Device, off: u64, len: u64) -> Result<(), DeviceError> {
    // Stores made before the call must reach the lines being flushed.
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    each_line(dev, off, len)
}

/// Drops the cache lines of `[off, off + len)` so the next read sees
/// what another host wrote. (clflush writes back and invalidates.)
pub fn invalidate(dev: &Device, off: u64, len: u64) -> Result<(), DeviceError> {
    each_line(dev, off, len)
}

/// clflush each line, then a full fence so later loads miss the cache.
fn each_line(dev: &Device, off: u64, len: u64) -> Result<(), DeviceError> {
    if len == 0 {
        return Ok(());
    }
    let start = off - off % LINE;
    let slice = dev.slice(start, (off + len - start) as usize)?;
    #[cfg(target_arch = "x86_64")]
    {
        let base = slice.ptr_guard().as_ptr();
        let opt = has_clflushopt();
        let mut i = 0;
        while i < slice.len() {
            // SAFETY: the address lies inside the live device mapping
            // (checked by `slice`); neither instruction changes memory,
            // and clflushopt runs only where CPUID reports it.
            unsafe {
                let p = base.add(i);
                if opt {
                    std::arch::asm!("clflushopt [{0}]", in(reg) p, options(nostack, preserves_flags));
                } else {
                    std::arch::x86_64::_mm_clflush(p);
                }
            }
            i += LINE as usize;
        }
        // SAFETY: a fence has no memory-safety preconditions. It also
        // orders clflushopt, which is otherwise weakly ordered.
        unsafe { std::arch::x86_64::_mm_mfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = slice;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}

/// clflushopt (CPUID leaf 7, EBX bit 23) does what clflush does without
/// serializing the flushes against each other: a large range (cp of a
/// big file) is written back several times faster. Checked once.
#[cfg(target_arch = "x86_64")]
fn has_clflushopt() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[allow(unused_unsafe)]
        // SAFETY: CPUID is available on every x86_64 CPU and only reads
        // identification registers (the functions are safe in newer Rust).
        unsafe {
            use std::arch::x86_64::{__cpuid_count, __get_cpuid_max};
            __get_cpuid_max(0).0 >= 7 && __cpuid_count(7, 0).ebx & (1 << 23) != 0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flushing and invalidating any range, aligned or not, keeps the
    /// bytes (the flush instructions write back, never lose data) and
    /// refuses a range past the device.
    #[test]
    fn ranges_keep_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        Device::create_file(&path, 4 << 20).unwrap();
        let dev = Device::open(&path, true).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        dev.write_bytes(12_345, &data).unwrap();
        for (off, len) in [(12_345, 300_000), (0, 1), (63, 2), (4 << 20, 0), (100, 0)] {
            flush(&dev, off, len).unwrap();
            invalidate(&dev, off, len).unwrap();
        }
        let mut back = vec![0u8; data.len()];
        dev.read_bytes(12_345, &mut back).unwrap();
        assert!(back == data);
        assert!(flush(&dev, (4 << 20) - 64, 65).is_err());
        assert!(invalidate(&dev, 4 << 20, 1).is_err());
    }
}
