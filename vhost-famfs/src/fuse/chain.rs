// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A descriptor chain's buffers as vm-memory `VolatileSlice`s: the
//! readable part (the request) and the writable part (the reply).
//!
//! virtio-queue's `Reader`/`Writer` copy through `&[u8]` only; READ and
//! WRITE data moves here straight between the device mapping and the
//! guest's buffers, slice to slice, without a bounce buffer.

use std::collections::VecDeque;

use virtio_queue::desc::split::Descriptor;
use vm_memory::{ByteValued, GuestMemory, GuestMemoryMmap, Permissions, VolatileSlice};

use crate::filesystem::FsResult;

/// Why a chain cannot be served at all (it gets used length 0).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("a descriptor points outside guest memory")]
    Memory,
    #[error("the chain is longer than 4 GiB")]
    TooLong,
}

/// A queue of guest buffers consumed front to back.
#[derive(Default)]
struct Bufs<'a> {
    bufs: VecDeque<VolatileSlice<'a>>,
    left: usize,
}

impl<'a> Bufs<'a> {
    fn push(&mut self, s: VolatileSlice<'a>) -> Result<(), ChainError> {
        let left = self.left.checked_add(s.len()).ok_or(ChainError::TooLong)?;
        if left > u32::MAX as usize {
            return Err(ChainError::TooLong);
        }
        self.left = left;
        if !s.is_empty() {
            self.bufs.push_back(s);
        }
        Ok(())
    }

    /// Calls `f` with up to `n` bytes' worth of consecutive buffers,
    /// consuming them; returns the bytes consumed.
    fn consume(
        &mut self,
        mut n: usize,
        f: &mut dyn FnMut(VolatileSlice<'a>) -> FsResult<()>,
    ) -> FsResult<usize> {
        let mut done = 0;
        while n > 0 {
            let Some(front) = self.bufs.pop_front() else {
                break;
            };
            let take = n.min(front.len());
            let (head, tail) = front.split_at(take).map_err(|_| libc::EIO)?;
            if !tail.is_empty() {
                self.bufs.push_front(tail);
            }
            self.left -= take;
            n -= take;
            done += take;
            f(head)?;
        }
        Ok(done)
    }
}

/// The request: the chain's readable buffers.
pub struct ChainReader<'a>(Bufs<'a>);

/// The reply: the chain's writable buffers.
pub struct ChainWriter<'a> {
    bufs: Bufs<'a>,
    written: usize,
}

/// Splits a chain's descriptors into reader and writer.
pub fn split_chain<'a>(
    mem: &'a GuestMemoryMmap,
    descs: impl Iterator<Item = Descriptor>,
) -> Result<(ChainReader<'a>, ChainWriter<'a>), ChainError> {
    let (mut r, mut w) = (Bufs::default(), Bufs::default());
    let mut writable = false;
    let mut layout_ok = true;
    for d in descs {
        if d.is_write_only() {
            writable = true;
        } else if writable {
            layout_ok = false;
        }
        let perm = if d.is_write_only() {
            Permissions::Write
        } else {
            Permissions::Read
        };
        let slices = mem
            .get_slices(d.addr(), d.len() as usize, perm)
            .map_err(|_| ChainError::Memory)?;
        for s in slices {
            let s = s.map_err(|_| ChainError::Memory)?;
            if d.is_write_only() {
                w.push(s)?;
            } else {
                r.push(s)?;
            }
        }
    }
    let writer = ChainWriter {
        bufs: w,
        written: 0,
    };
    if !layout_ok {
        // The writer still carries an EINVAL reply.
        return Ok((ChainReader(Bufs::default()), writer.poisoned()));
    }
    Ok((ChainReader(r), writer))
}

impl<'a> ChainReader<'a> {
    /// A reader over `bytes` (tests and fuzzing build requests this way).
    pub fn from_slice(s: VolatileSlice<'a>) -> Self {
        let mut b = Bufs::default();
        let _ = b.push(s);
        ChainReader(b)
    }

    pub fn available(&self) -> usize {
        self.0.left
    }

    /// Reads exactly `buf.len()` bytes; EINVAL when the request is shorter.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> FsResult<()> {
        if buf.len() > self.0.left {
            return Err(libc::EINVAL);
        }
        let mut at = 0;
        self.0.consume(buf.len(), &mut |s| {
            s.copy_to(&mut buf[at..at + s.len()]);
            at += s.len();
            Ok(())
        })?;
        Ok(())
    }

    pub fn read_obj<T: ByteValued>(&mut self) -> FsResult<T> {
        let mut v: T = crate::meta::format::zeroed();
        self.read_exact(v.as_mut_slice())?;
        Ok(v)
    }

    /// Drops `n` bytes (at most what is left).
    pub fn skip(&mut self, n: usize) {
        let _ = self.0.consume(n, &mut |_| Ok(()));
    }

    /// Copies the next `dst.len()` bytes into `dst` (guest to device).
    pub fn copy_to_slice(&mut self, dst: VolatileSlice<'_>) -> FsResult<()> {
        if dst.len() > self.0.left {
            return Err(libc::EINVAL);
        }
        let mut at = 0;
        self.0.consume(dst.len(), &mut |s| {
            let d = dst.subslice(at, s.len()).map_err(|_| libc::EIO)?;
            s.copy_to_volatile_slice(d);
            at += s.len();
            Ok(())
        })?;
        Ok(())
    }
}

impl<'a> ChainWriter<'a> {
    /// A writer over one buffer.
    pub fn from_slice(s: VolatileSlice<'a>) -> Self {
        let mut b = Bufs::default();
        let _ = b.push(s);
        ChainWriter {
            bufs: b,
            written: 0,
        }
    }

    /// Marks a chain whose layout is wrong: `is_poisoned` tells the
    /// server to answer EINVAL without reading.
    fn poisoned(mut self) -> Self {
        self.written = usize::MAX;
        self
    }

    pub fn is_poisoned(&self) -> bool {
        self.written == usize::MAX
    }

    pub fn available(&self) -> usize {
        self.bufs.left
    }

    pub fn written(&self) -> usize {
        if self.is_poisoned() {
            0
        } else {
            self.written
        }
    }

    /// Splits off the first `n` bytes as a writer of their own (for a
    /// header written after its payload).
    pub fn split_front(&mut self, n: usize) -> FsResult<ChainWriter<'a>> {
        if n > self.bufs.left {
            return Err(libc::ERANGE);
        }
        let mut front = Bufs::default();
        self.bufs.consume(n, &mut |s| {
            front.push(s).map_err(|_| libc::EIO)?;
            Ok(())
        })?;
        Ok(ChainWriter {
            bufs: front,
            written: 0,
        })
    }

    /// Writes all of `data`; ERANGE (nothing written) when it does not fit.
    pub fn write_all(&mut self, data: &[u8]) -> FsResult<()> {
        if data.len() > self.bufs.left {
            return Err(libc::ERANGE);
        }
        let mut at = 0;
        self.bufs.consume(data.len(), &mut |s| {
            s.copy_from(&data[at..at + s.len()]);
            at += s.len();
            Ok(())
        })?;
        self.written += data.len();
        Ok(())
    }

    pub fn write_obj<T: ByteValued>(&mut self, v: &T) -> FsResult<()> {
        self.write_all(v.as_slice())
    }

    /// Copies `src` (device memory) into the reply.
    pub fn copy_from_slice(&mut self, src: VolatileSlice<'_>) -> FsResult<()> {
        if src.len() > self.bufs.left {
            return Err(libc::ERANGE);
        }
        let mut at = 0;
        self.bufs.consume(src.len(), &mut |d| {
            let s = src.subslice(at, d.len()).map_err(|_| libc::EIO)?;
            s.copy_to_volatile_slice(d);
            at += d.len();
            Ok(())
        })?;
        self.written += src.len();
        Ok(())
    }
}
