// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The memory device: a device-DAX character device (/dev/daxX.Y) or a
//! regular, tmpfs or hugetlbfs file standing in for one, mapped shared.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::mman::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};
use vm_memory::{ByteValued, Bytes, MmapRegion, VolatileMemory, VolatileSlice};

/// Every device size and mapping is a multiple of this.
pub const DEVICE_ALIGN: u64 = 2 << 20;

/// Why a device could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{path}: no such device or file")]
    Missing { path: PathBuf },
    #[error("{path}: is a block device; vhost-famfs needs a device-DAX character device (/dev/daxX.Y) or a file")]
    BlockDevice { path: PathBuf },
    #[error("{path}: character device is not a device-DAX instance ({reason})")]
    NotDax { path: PathBuf, reason: String },
    #[error("{path}: {dax} is in system-ram mode (bound to the kmem driver); reconfigure it with `daxctl reconfigure-device --mode=devdax {dax}`")]
    SystemRam { path: PathBuf, dax: String },
    #[error("{path}: size {size:#x} is not a multiple of 2 MiB")]
    Unaligned { path: PathBuf, size: u64 },
    #[error("{path}: device-DAX alignment {align:#x} cannot map the {size:#x}-byte device whole (it must be a power of two dividing the size)")]
    BadAlign {
        path: PathBuf,
        align: u64,
        size: u64,
    },
    #[error("{path}: device-DAX alignment {align:#x} cannot map {start:#x}..{end:#x} on its own (the guest window must start and end on it); reconfigure the device with `daxctl reconfigure-device --align=2M`")]
    SubmapAlign {
        path: PathBuf,
        align: u64,
        start: u64,
        end: u64,
    },
    #[error("{path}: {size:#x} bytes is too small (at least {min:#x} needed)")]
    TooSmall { path: PathBuf, size: u64, min: u64 },
    #[error("{path}: unsupported file type")]
    BadType { path: PathBuf },
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: the device lock is held by another process (waited {waited_ms} ms)")]
    LockBusy { path: PathBuf, waited_ms: u64 },
    #[error("access {offset:#x}+{len:#x} outside the {size:#x}-byte device")]
    OutOfRange { offset: u64, len: u64, size: u64 },
}

/// The device lock, held until dropped.
pub struct DeviceLock<'a> {
    // Released in this order: the flock, then the turn.
    _flock: Flock<File>,
    _turn: MutexGuard<'a, ()>,
}

/// How long `Device::lock` waits for another process to release the
/// device lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockWait {
    /// Give up after this long: for the request path, which must not stall.
    Bounded(Duration),
    /// Wait as long as it takes (saying so once): for CLI commands.
    Forever,
}

/// How long the daemon waits for the device lock before answering EAGAIN.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// /dev/daxX.Y in devdax mode.
    DaxChar,
    /// A regular file (tmpfs, hugetlbfs or disk) standing in for memory.
    File,
}

/// An open, mapped device.
pub struct Device {
    path: PathBuf,
    file: File,
    /// The file description the cross-process lock is taken on, opened
    /// with the device (a daemon that dropped privileges cannot open the
    /// device again), and the turn of this process's threads on it.
    lock_file: File,
    lock_turn: Mutex<()>,
    kind: DeviceKind,
    size: u64,
    /// The alignment the device maps at (2 MiB, or device DAX's own).
    align: u64,
    writable: bool,
    map: Mapping,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .field("writable", &self.writable)
            .finish()
    }
}

impl Device {
    /// Opens and maps `path`. `writable` maps it read-write; otherwise
    /// nothing can be written through this handle.
    pub fn open(path: &Path, writable: bool) -> Result<Self, DeviceError> {
        let io_err = |op, source| DeviceError::Io {
            path: path.to_path_buf(),
            op,
            source,
        };
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DeviceError::Missing {
                path: path.to_path_buf(),
            },
            _ => io_err("stat", e),
        })?;
        let ft = meta.file_type();
        let (kind, size, align) = if ft.is_block_device() {
            return Err(DeviceError::BlockDevice {
                path: path.to_path_buf(),
            });
        } else if ft.is_char_device() {
            dax_char_geometry(path, meta.rdev())?
        } else if ft.is_file() {
            (DeviceKind::File, meta.len(), DEVICE_ALIGN)
        } else {
            return Err(DeviceError::BadType {
                path: path.to_path_buf(),
            });
        };
        if size % DEVICE_ALIGN != 0 {
            return Err(DeviceError::Unaligned {
                path: path.to_path_buf(),
                size,
            });
        }
        if size == 0 {
            return Err(DeviceError::TooSmall {
                path: path.to_path_buf(),
                size,
                min: DEVICE_ALIGN,
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io_err("open", e))?;
        let map = Mapping::new(&file, size, align, writable).map_err(|e| io_err("mmap", e))?;
        // A description of its own (flock is per description), of the
        // very file opened above.
        let lock_file = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|e| io_err("open for flock", e))?;
        Ok(Device {
            path: path.to_path_buf(),
            file,
            lock_file,
            lock_turn: Mutex::new(()),
            kind,
            size,
            align,
            writable,
            map,
        })
    }

    /// Creates (or extends) a sparse regular file of `size` bytes to stand
    /// in for a device. Memory is used only where it is written.
    pub fn create_file(path: &Path, size: u64) -> Result<(), DeviceError> {
        if size % DEVICE_ALIGN != 0 {
            return Err(DeviceError::Unaligned {
                path: path.to_path_buf(),
                size,
            });
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| DeviceError::Io {
                path: path.to_path_buf(),
                op: "create",
                source,
            })?;
        f.set_len(size).map_err(|source| DeviceError::Io {
            path: path.to_path_buf(),
            op: "set size",
            source,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn align(&self) -> u64 {
        self.align
    }

    /// Checks that `[start, end)` can be mapped on its own, as a VMM maps
    /// a guest's window: device DAX refuses a mapping whose ends are not
    /// aligned to its `align`.
    pub fn check_submap(&self, start: u64, end: u64) -> Result<(), DeviceError> {
        submap_fits(&self.path, self.align, start, end)
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }
    /// The open file, to pass to a VMM (SHMEM_MAP) or to lock.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// A device name for the superblock: "dax0.0" or the file name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn check(&self, offset: u64, len: usize) -> Result<usize, DeviceError> {
        let len64 = len as u64;
        match offset.checked_add(len64) {
            Some(end) if end <= self.size => Ok(offset as usize),
            _ => Err(DeviceError::OutOfRange {
                offset,
                len: len64,
                size: self.size,
            }),
        }
    }

    /// The device bytes `[offset, offset + len)`.
    pub fn slice(&self, offset: u64, len: usize) -> Result<VolatileSlice<'_>, DeviceError> {
        let off = self.check(offset, len)?;
        self.map
            .region
            .get_slice(off, len)
            .map_err(|_| DeviceError::OutOfRange {
                offset,
                len: len as u64,
                size: self.size,
            })
    }

    /// Reads a plain-data value; the memory may change under us (another
    /// host or process), so it is copied out once and then checked.
    pub fn read_obj<T: ByteValued>(&self, offset: u64) -> Result<T, DeviceError> {
        let s = self.slice(offset, std::mem::size_of::<T>())?;
        s.read_obj(0).map_err(|_| DeviceError::OutOfRange {
            offset,
            len: std::mem::size_of::<T>() as u64,
            size: self.size,
        })
    }

    pub fn write_obj<T: ByteValued>(&self, offset: u64, val: &T) -> Result<(), DeviceError> {
        self.write_bytes(offset, val.as_slice())
    }

    pub fn read_bytes(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let s = self.slice(offset, buf.len())?;
        s.copy_to(buf);
        Ok(())
    }

    pub fn write_bytes(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        if !self.writable {
            return Err(DeviceError::Io {
                path: self.path.clone(),
                op: "write",
                source: io::Error::from_raw_os_error(libc::EROFS),
            });
        }
        let s = self.slice(offset, buf.len())?;
        s.copy_from(buf);
        Ok(())
    }

    /// Drops this process's page mappings of `[offset, offset + len)`: the
    /// bytes stay on the device and are mapped again on the next access.
    /// Keeps the log pages replay read from counting as our memory.
    pub fn release(&self, offset: u64, len: u64) {
        let page = 4096;
        let start = offset - offset % page;
        let end = offset.saturating_add(len).min(self.size);
        if end <= start {
            return;
        }
        let addr = self.map.addr.as_ptr() as usize + start as usize;
        if let Some(p) = NonNull::new(addr as *mut libc::c_void) {
            // SAFETY: the range lies inside our own shared mapping; for a
            // shared mapping MADV_DONTNEED only drops page table entries.
            let r = unsafe {
                nix::sys::mman::madvise(
                    p,
                    (end - start) as usize,
                    nix::sys::mman::MmapAdvise::MADV_DONTNEED,
                )
            };
            if let Err(e) = r {
                log::debug!("madvise(DONTNEED) of {start:#x}..{end:#x}: {e}");
            }
        }
    }

    /// Takes the cross-process append lock (flock on the device). Each
    /// `Device` has its own open file description, so two handles in one
    /// process exclude each other too; threads sharing one `Device` take
    /// turns on a mutex first, as flock would not exclude them.
    pub fn lock(&self, wait: LockWait) -> Result<DeviceLock<'_>, DeviceError> {
        let io_err = |op, source| DeviceError::Io {
            path: self.path.clone(),
            op,
            source,
        };
        let start = Instant::now();
        let mut pause = Duration::from_micros(200);
        // Waits for one more try; Err when the bounded wait is over.
        let mut wait_more = || -> Result<(), DeviceError> {
            match wait {
                LockWait::Forever => {
                    if pause == Duration::from_micros(200) {
                        log::warn!(
                            "{}: waiting for the device lock (another process is changing the file system)",
                            self.path.display()
                        );
                    }
                    std::thread::sleep(pause);
                }
                LockWait::Bounded(limit) => {
                    let waited = start.elapsed();
                    if waited >= limit {
                        return Err(DeviceError::LockBusy {
                            path: self.path.clone(),
                            waited_ms: waited.as_millis() as u64,
                        });
                    }
                    std::thread::sleep(pause.min(limit - waited));
                }
            }
            pause = (pause * 2).min(Duration::from_millis(10));
            Ok(())
        };
        let mut file = self
            .lock_file
            .try_clone()
            .map_err(|e| io_err("dup for flock", e))?;
        // The turn is held only for a non-blocking try of the flock (and
        // then the append): threads of this process wait side by side,
        // each against its own deadline, as threads of other processes do.
        loop {
            let turn = match self.lock_turn.try_lock() {
                Ok(t) => Some(t),
                // A thread that panicked holding it released the flock.
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(turn) = turn {
                match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                    Ok(flock) => {
                        return Ok(DeviceLock {
                            _flock: flock,
                            _turn: turn,
                        })
                    }
                    Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = f,
                    Err((_, e)) => return Err(io_err("flock", e.into())),
                }
            }
            wait_more()?;
        }
    }
}

/// Finds a device-DAX instance's size through sysfs and checks its mode.
/// Kind, size and mapping alignment of a device-DAX character device.
/// A device-DAX instance only maps at addresses aligned to its `align`
/// (2 MiB, or 1 GiB for gigantic pages), so the mapping honours it.
fn dax_char_geometry(path: &Path, rdev: u64) -> Result<(DeviceKind, u64, u64), DeviceError> {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let sys = PathBuf::from(format!("/sys/dev/char/{major}:{minor}"));
    let not_dax = |reason: String| DeviceError::NotDax {
        path: path.to_path_buf(),
        reason,
    };
    let real =
        std::fs::canonicalize(&sys).map_err(|e| not_dax(format!("{}: {e}", sys.display())))?;
    let subsystem = std::fs::read_link(real.join("subsystem"))
        .map_err(|e| not_dax(format!("no subsystem link: {e}")))?;
    if !subsystem.ends_with("dax") {
        return Err(not_dax(format!("subsystem {}", subsystem.display())));
    }
    let dax = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(drv) = std::fs::read_link(real.join("driver")) {
        if drv.ends_with("kmem") {
            return Err(DeviceError::SystemRam {
                path: path.to_path_buf(),
                dax,
            });
        }
    }
    let read_num = |name: &str| -> Result<u64, DeviceError> {
        let s = std::fs::read_to_string(real.join(name))
            .map_err(|e| not_dax(format!("{name}: {e}")))?;
        let s = s.trim();
        let v = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        };
        v.map_err(|_| not_dax(format!("{name}: unparsable {s:?}")))
    };
    let size = read_num("size")?;
    let align = read_num("align").unwrap_or(DEVICE_ALIGN);
    Ok((DeviceKind::DaxChar, size, map_align(path, size, align)?))
}

/// A MAP_SHARED mapping of the whole device at a 2 MiB-aligned address, so
/// that the kernel can back it with huge pages.
/// The alignment to map a device-DAX instance of `size` bytes whose
/// sysfs `align` is `align`: at least 2 MiB, and the device's own when
/// larger. Refused when it is not a power of two or the size is not a
/// multiple of it (the device could not be mapped whole).
fn map_align(path: &Path, size: u64, align: u64) -> Result<u64, DeviceError> {
    let bad = || DeviceError::BadAlign {
        path: path.to_path_buf(),
        align,
        size,
    };
    if !align.is_power_of_two() {
        return Err(bad());
    }
    let align = align.max(DEVICE_ALIGN);
    if size % align != 0 {
        return Err(bad());
    }
    Ok(align)
}

fn submap_fits(path: &Path, align: u64, start: u64, end: u64) -> Result<(), DeviceError> {
    if start % align == 0 && end % align == 0 {
        return Ok(());
    }
    Err(DeviceError::SubmapAlign {
        path: path.to_path_buf(),
        align,
        start,
        end,
    })
}

struct Mapping {
    addr: NonNull<libc::c_void>,
    len: usize,
    region: MmapRegion<()>,
}

// SAFETY: the mapping is plain shared memory owned by this struct; all
// access goes through VolatileSlice, which tolerates concurrent writers.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(file: &File, size: u64, align: u64, writable: bool) -> io::Result<Self> {
        let len = usize::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        let nz = |n: usize| std::num::NonZeroUsize::new(n).ok_or(io::ErrorKind::InvalidInput);
        let align =
            usize::try_from(align).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // Reserve room to slide the mapping to an `align` boundary.
        // SAFETY: a fresh anonymous PROT_NONE reservation touches nothing.
        let resv = unsafe {
            mmap_anonymous(
                None,
                nz(len + align)?,
                ProtFlags::PROT_NONE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE,
            )
        }?;
        let base = resv.as_ptr() as usize;
        let aligned = base.next_multiple_of(align);
        let mut prot = ProtFlags::PROT_READ;
        if writable {
            prot |= ProtFlags::PROT_WRITE;
        }
        // SAFETY: MAP_FIXED replaces part of our own reservation only.
        let mapped = unsafe {
            mmap(
                NonNull::new(aligned as *mut libc::c_void).map(|p| p.addr()),
                nz(len)?,
                prot,
                MapFlags::MAP_SHARED | MapFlags::MAP_FIXED,
                file,
                0,
            )
        };
        let unmap_resv = |from: usize, n: usize| {
            if n > 0 {
                if let Some(p) = NonNull::new(from as *mut libc::c_void) {
                    // SAFETY: unmapping leftovers of our own reservation.
                    let _ = unsafe { munmap(p, n) };
                }
            }
        };
        let mapped = match mapped {
            Ok(m) => m,
            Err(e) => {
                unmap_resv(base, len + align);
                return Err(e.into());
            }
        };
        unmap_resv(base, aligned - base);
        unmap_resv(aligned + len, base + len + align - (aligned + len));
        let flags = libc::MAP_SHARED;
        let p = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: [mapped, mapped + len) is a live mapping owned by the
        // returned Mapping, unmapped only in its Drop.
        let region = unsafe { MmapRegion::build_raw(mapped.as_ptr().cast(), len, p, flags) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Mapping {
            addr: mapped,
            len,
            region,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own this mapping; `region` does not unmap raw mappings.
        let _ = unsafe { munmap(self.addr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_device_maps_aligned_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev");
        Device::create_file(&p, 16 << 20).unwrap();
        let d = Device::open(&p, true).unwrap();
        assert_eq!(d.size(), 16 << 20);
        assert_eq!(d.kind(), DeviceKind::File);
        assert_eq!(d.map.addr.as_ptr() as usize % DEVICE_ALIGN as usize, 0);
        d.write_obj(4096, &0x1234_5678_u64).unwrap();
        assert_eq!(d.read_obj::<u64>(4096).unwrap(), 0x1234_5678);
        // A second handle sees the same bytes: it is the same memory.
        let d2 = Device::open(&p, false).unwrap();
        assert_eq!(d2.read_obj::<u64>(4096).unwrap(), 0x1234_5678);
        assert!(d2.write_obj(0, &1u64).is_err());
        assert!(d.read_obj::<u64>((16 << 20) - 4).is_err());
        assert!(d.read_obj::<u64>(u64::MAX - 2).is_err());
    }

    #[test]
    fn clear_errors_for_unusable_devices() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            Device::open(&missing, true),
            Err(DeviceError::Missing { .. })
        ));
        let odd = dir.path().join("odd");
        std::fs::write(&odd, vec![0u8; 4096]).unwrap();
        assert!(matches!(
            Device::open(&odd, true),
            Err(DeviceError::Unaligned { .. })
        ));
        assert!(matches!(
            Device::open(dir.path(), true),
            Err(DeviceError::BadType { .. })
        ));
        assert!(matches!(
            Device::open(Path::new("/dev/null"), false),
            Err(DeviceError::NotDax { .. })
        ));
        if Path::new("/dev/loop0").exists() {
            assert!(matches!(
                Device::open(Path::new("/dev/loop0"), false),
                Err(DeviceError::BlockDevice { .. })
            ));
        }
    }

    #[test]
    fn devdax_alignment_above_2m_is_honoured_or_refused() {
        let p = Path::new("/dev/dax0.0");
        assert_eq!(map_align(p, 4 << 30, 4096).unwrap(), DEVICE_ALIGN);
        assert_eq!(map_align(p, 4 << 30, 2 << 20).unwrap(), DEVICE_ALIGN);
        assert_eq!(map_align(p, 4 << 30, 1 << 30).unwrap(), 1 << 30);
        assert!(matches!(
            map_align(p, (4 << 30) + (2 << 20), 1 << 30),
            Err(DeviceError::BadAlign { .. })
        ));
        assert!(map_align(p, 4 << 30, 3 << 20).is_err());
        assert!(map_align(p, 4 << 30, 0).is_err());
        // The guest window [meta, size) of a 1 GiB-aligned device with a
        // 10 MiB metadata area cannot be mapped by itself.
        assert!(submap_fits(p, 2 << 20, 10 << 20, 4 << 30).is_ok());
        assert!(matches!(
            submap_fits(p, 1 << 30, 10 << 20, 4 << 30),
            Err(DeviceError::SubmapAlign { .. })
        ));
        assert!(submap_fits(p, 1 << 30, 1 << 30, 4 << 30).is_ok());
    }

    #[test]
    fn mapping_honours_a_large_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev");
        Device::create_file(&p, 16 << 20).unwrap();
        let f = File::open(&p).unwrap();
        let m = Mapping::new(&f, 16 << 20, 8 << 20, false).unwrap();
        assert_eq!(m.addr.as_ptr() as usize % (8 << 20), 0);
    }

    #[test]
    fn lock_excludes_threads_of_one_process_and_bounded_wait_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev");
        Device::create_file(&p, 4 << 20).unwrap();
        let d = Device::open(&p, true).unwrap();
        let held = d.lock(LockWait::Forever).unwrap();
        // Same Device, same process: still excluded.
        let wait = Duration::from_millis(30);
        let t = Instant::now();
        assert!(matches!(
            d.lock(LockWait::Bounded(wait)),
            Err(DeviceError::LockBusy { .. })
        ));
        assert!(t.elapsed() >= wait);
        drop(held);
        assert!(d.lock(LockWait::Bounded(wait)).is_ok());
    }
}
