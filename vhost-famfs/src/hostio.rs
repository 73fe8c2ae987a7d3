// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Moving file data between the host and a file's extents on the device.
//!
//! Memory shared by several hosts may not be cache coherent between them
//! (CXL 3 shared memory). As famfs's tools do, data written here is
//! written back from the CPU caches before a function returns, and data
//! read is invalidated first, so the bytes are the device's, not a stale
//! cached copy. On coherent memory this only costs time.

use crate::device::Device;
use crate::meta::{cache, MetaError, Node, Result};

/// Bytes moved per step; also the progress granularity.
pub const STEP: usize = 8 << 20;

/// The device ranges holding file bytes `[0, size)`, as
/// (file offset, device offset, length), in file order.
pub fn data_ranges(node: &Node) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut file_off = 0;
    let size = node.size();
    for e in node.extents() {
        if file_off >= size {
            break;
        }
        let len = e.len.min(size - file_off);
        out.push((file_off, e.offset, len));
        file_off += len;
    }
    out
}

/// The file's bytes in steps of at most `STEP`, as
/// (file offset, device offset, length), in file order.
fn steps(node: &Node) -> Vec<(u64, u64, usize)> {
    let mut out = Vec::new();
    for (file_off, dev_off, len) in data_ranges(node) {
        let mut at = 0;
        while at < len {
            let n = (len - at).min(STEP as u64);
            out.push((file_off + at, dev_off + at, n as usize));
            at += n;
        }
    }
    out
}

/// Copies regular file `src` into the file's extents with positional
/// reads straight into the device mapping, spread over the CPUs (one core
/// cannot keep up with memory bandwidth through read(2)).
pub fn copy_file_in(
    dev: &Device,
    node: &Node,
    src: &std::fs::File,
    progress: impl FnMut(u64) + Send,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    let steps = steps(node);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(steps.len().max(1));
    let next = AtomicUsize::new(0);
    let progress = Mutex::new(progress);
    // Escaped once: messages carry it to terminals and logs.
    let name = crate::meta::path::escape(&node.name);
    let name: &str = &name;
    let worker = || -> Result<()> {
        while let Some(&(file_off, dev_off, n)) = steps.get(next.fetch_add(1, Ordering::Relaxed)) {
            let to = dev.slice(dev_off, n)?;
            let mut got = 0;
            while got < n {
                let dst = to
                    .subslice(got, n - got)
                    .map_err(|_| short(name, file_off))?;
                let ptr = dst.ptr_guard_mut();
                // SAFETY: the kernel writes at most `n - got` bytes into
                // a live, writable part of the device mapping.
                let r = unsafe {
                    libc::pread(
                        std::os::fd::AsRawFd::as_raw_fd(src),
                        ptr.as_ptr().cast(),
                        n - got,
                        (file_off + got as u64) as libc::off_t,
                    )
                };
                match r {
                    0 => return Err(short(name, file_off + got as u64)),
                    r if r > 0 => got += r as usize,
                    _ => {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::Interrupted {
                            return Err(MetaError::io(format!("reading the source of {name}"), e));
                        }
                    }
                }
            }
            cache::flush(dev, dev_off, n as u64)?;
            (progress.lock().unwrap_or_else(|e| e.into_inner()))(n as u64);
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(MetaError::InvalidArgument("copy thread panicked".into()))
                })
            })
            .collect::<Result<Vec<()>>>()
    })?;
    Ok(())
}

/// Hands the file's bytes to `f` in order, one step at a time, each
/// step invalidated in the CPU caches before it is read.
pub fn read_out(
    dev: &Device,
    node: &Node,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; STEP];
    for (file_off, dev_off, n) in steps(node) {
        cache::invalidate(dev, dev_off, n as u64)?;
        let b = &mut buf[..n];
        dev.slice(dev_off, n)?.copy_to(b);
        f(file_off, b)?;
    }
    Ok(())
}

/// Writes bytes produced by `gen` into the whole file, in order, and
/// writes them back from the CPU caches.
pub fn fill(dev: &Device, node: &Node, mut gen: impl FnMut(&mut [u8])) -> Result<()> {
    let mut buf = vec![0u8; STEP];
    for (_, dev_off, n) in steps(node) {
        let b = &mut buf[..n];
        gen(b);
        dev.slice(dev_off, n)?.copy_from(b);
        cache::flush(dev, dev_off, n as u64)?;
    }
    Ok(())
}

/// Writes back and invalidates the CPU cache lines of all the file's
/// bytes (the `flush` command): after a guest or another program wrote
/// it through this host's caches, or before reading what another host
/// wrote.
pub fn flush_file(dev: &Device, node: &Node) -> Result<()> {
    for (_, dev_off, len) in data_ranges(node) {
        cache::flush(dev, dev_off, len)?;
    }
    Ok(())
}

fn short(name: &str, at: u64) -> MetaError {
    MetaError::InvalidArgument(format!(
        "{name}: the source ended at byte {at}, before the file's size (did it change during the copy?)"
    ))
}
