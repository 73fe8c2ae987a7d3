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
        let mut i = 0;
        while i < slice.len() {
            // SAFETY: the address lies inside the live device mapping
            // (checked by `slice`); clflush does not change memory.
            unsafe { std::arch::x86_64::_mm_clflush(base.add(i)) };
            i += LINE as usize;
        }
        // SAFETY: a fence has no memory-safety preconditions.
        unsafe { std::arch::x86_64::_mm_mfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = slice;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}
