// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Moving file data between the host and a file's extents on the device.

use vm_memory::{ReadVolatile, VolatileSlice};

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

/// Calls `f` on successive device slices covering the file's bytes.
fn for_each_slice(
    dev: &Device,
    node: &Node,
    mut f: impl FnMut(u64, VolatileSlice<'_>) -> Result<()>,
) -> Result<()> {
    for (file_off, dev_off, len) in data_ranges(node) {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(STEP as u64);
            let s = dev.slice(dev_off + done, n as usize)?;
            f(file_off + done, s)?;
            done += n;
        }
    }
    Ok(())
}

/// Copies `src` into the file's extents (the file is preallocated: no
/// metadata changes). `progress` is told each step's bytes.
pub fn copy_in(
    dev: &Device,
    node: &Node,
    src: &mut impl ReadVolatile,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    let name = node.name.clone();
    for_each_slice(dev, node, |off, s| {
        let want = s.len();
        let mut got = 0;
        while got < want {
            let mut part = s.offset(got).map_err(|_| short(&name, off))?;
            match src.read_volatile(&mut part) {
                Ok(0) => return Err(short(&name, off + got as u64)),
                Ok(n) => got += n,
                Err(e) => {
                    let e = std::io::Error::other(e);
                    return Err(MetaError::io(format!("reading the source of {name}"), e));
                }
            }
        }
        progress(want as u64);
        Ok(())
    })
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
