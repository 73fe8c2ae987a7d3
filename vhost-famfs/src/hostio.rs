// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Moving file data between the host and a file's extents on the device.

use vm_memory::VolatileSlice;

use crate::device::Device;
use crate::meta::{MetaError, Node, Result};

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

/// Calls `f` on successive device slices covering the file's bytes.
fn for_each_slice(
    dev: &Device,
    node: &Node,
    mut f: impl FnMut(u64, VolatileSlice<'_>) -> Result<()>,
) -> Result<()> {
    for (file_off, dev_off, n) in steps(node) {
        f(file_off, dev.slice(dev_off, n)?)?;
    }
    Ok(())
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

/// Hands the file's bytes to `f` in order, one step at a time.
pub fn read_out(
    dev: &Device,
    node: &Node,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; STEP];
    for_each_slice(dev, node, |off, s| {
        let b = &mut buf[..s.len()];
        s.copy_to(b);
        f(off, b)
    })
}

/// Writes bytes produced by `gen` into the whole file, in order.
pub fn fill(dev: &Device, node: &Node, mut gen: impl FnMut(&mut [u8])) -> Result<()> {
    let mut buf = vec![0u8; STEP];
    for_each_slice(dev, node, |_, s| {
        let b = &mut buf[..s.len()];
        gen(b);
        s.copy_from(b);
        Ok(())
    })
}

fn short(name: &str, at: u64) -> MetaError {
    MetaError::InvalidArgument(format!(
        "{name}: the source ended at byte {at}, before the file's size (did it change during the copy?)"
    ))
}
