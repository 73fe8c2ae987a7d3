// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The FUSE structures and constants the virtio-fs front door uses:
//! Rust mirrors of the kernel's `linux/fuse.h` (protocol 7.38 as Debian's
//! linux-libc-dev ships it; newer kernels only append).
//!
//! FUSE messages are in the guest's byte order; like virtiofsd, the
//! daemon serves guests of its own (little-endian) byte order.
//! `tests/fuse_layout.rs` compiles the system header and compares every
//! size, offset and constant below (except the ones marked newer than
//! 7.38).

use vm_memory::ByteValued;

/// The protocol this server speaks: 7.38 (the kernel adapts to older
/// servers; 7.41 guests talk down to it).
pub const KERNEL_VERSION: u32 = 7;
pub const KERNEL_MINOR_VERSION: u32 = 38;
/// The oldest minor version with the 64-byte `fuse_init_out`.
pub const MINOR_FULL_INIT_OUT: u32 = 23;
/// `fuse_init_out` size for minor versions below 23.
pub const COMPAT_22_INIT_OUT_SIZE: usize = 24;
pub const ROOT_ID: u64 = 1;

// Opcodes (enum fuse_opcode).
pub const LOOKUP: u32 = 1;
pub const FORGET: u32 = 2;
pub const GETATTR: u32 = 3;
pub const SETATTR: u32 = 4;
pub const MKDIR: u32 = 9;
pub const OPEN: u32 = 14;
pub const READ: u32 = 15;
pub const WRITE: u32 = 16;
pub const STATFS: u32 = 17;
pub const RELEASE: u32 = 18;
pub const FSYNC: u32 = 20;
pub const FLUSH: u32 = 25;
pub const INIT: u32 = 26;
pub const OPENDIR: u32 = 27;
pub const READDIR: u32 = 28;
pub const RELEASEDIR: u32 = 29;
pub const FSYNCDIR: u32 = 30;
pub const CREATE: u32 = 35;
pub const INTERRUPT: u32 = 36;
pub const DESTROY: u32 = 38;
pub const BATCH_FORGET: u32 = 42;
pub const FALLOCATE: u32 = 43;
pub const READDIRPLUS: u32 = 44;
pub const LSEEK: u32 = 46;
pub const SETUPMAPPING: u32 = 48;
pub const REMOVEMAPPING: u32 = 49;
pub const SYNCFS: u32 = 50;

// fuse_init_in/out flags.
pub const ASYNC_READ: u32 = 1 << 0;
pub const BIG_WRITES: u32 = 1 << 5;
pub const DO_READDIRPLUS: u32 = 1 << 13;
pub const READDIRPLUS_AUTO: u32 = 1 << 14;
pub const PARALLEL_DIROPS: u32 = 1 << 18;
pub const MAX_PAGES: u32 = 1 << 22;
pub const MAP_ALIGNMENT: u32 = 1 << 26;
pub const INIT_EXT: u32 = 1 << 30;
/// `flags2` bit of FUSE_DIRECT_IO_ALLOW_MMAP (1 << 36, protocol 7.39:
/// newer than the system header, so not in the layout test): shared
/// mmap of a file opened with FOPEN_DIRECT_IO.
pub const DIRECT_IO_ALLOW_MMAP_FLAGS2: u32 = 1 << (36 - 32);

// fuse_setattr_in.valid.
pub const FATTR_MODE: u32 = 1 << 0;
pub const FATTR_UID: u32 = 1 << 1;
pub const FATTR_GID: u32 = 1 << 2;
pub const FATTR_SIZE: u32 = 1 << 3;

// fuse_open_out.open_flags.
pub const FOPEN_DIRECT_IO: u32 = 1 << 0;
pub const FOPEN_KEEP_CACHE: u32 = 1 << 1;
pub const FOPEN_CACHE_DIR: u32 = 1 << 3;

/// The most {moffset, len} pairs one REMOVEMAPPING may carry (a page of
/// them with 4 KiB pages, as the kernel sends).
pub const REMOVEMAPPING_MAX_ENTRY: usize = 4096 / std::mem::size_of::<RemovemappingOne>();

/// Implements `ByteValued` for plain wire structs.
macro_rules! wire {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: repr(C) of integers and arrays of integers, laid out
        // without padding (checked against linux/fuse.h by the layout
        // test); every bit pattern is a valid value.
        unsafe impl ByteValued for $t {}
    )*};
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InHeader {
    pub len: u32,
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
    /// Length of the extensions after the body, in 8-byte units.
    pub total_extlen: u16,
    pub padding: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OutHeader {
    pub len: u32,
    /// 0 or a negative errno.
    pub error: i32,
    pub unique: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
    pub atimensec: u32,
    pub mtimensec: u32,
    pub ctimensec: u32,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub blksize: u32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Kstatfs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
    pub padding: u32,
    pub spare: [u32; 6],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EntryOut {
    pub nodeid: u64,
    pub generation: u64,
    pub entry_valid: u64,
    pub attr_valid: u64,
    pub entry_valid_nsec: u32,
    pub attr_valid_nsec: u32,
    pub attr: Attr,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ForgetIn {
    pub nlookup: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ForgetOne {
    pub nodeid: u64,
    pub nlookup: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BatchForgetIn {
    pub count: u32,
    pub dummy: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GetattrIn {
    pub getattr_flags: u32,
    pub dummy: u32,
    pub fh: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AttrOut {
    pub attr_valid: u64,
    pub attr_valid_nsec: u32,
    pub dummy: u32,
    pub attr: Attr,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MkdirIn {
    pub mode: u32,
    pub umask: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SetattrIn {
    pub valid: u32,
    pub padding: u32,
    pub fh: u64,
    pub size: u64,
    pub lock_owner: u64,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
    pub atimensec: u32,
    pub mtimensec: u32,
    pub ctimensec: u32,
    pub mode: u32,
    pub unused4: u32,
    pub uid: u32,
    pub gid: u32,
    pub unused5: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenIn {
    pub flags: u32,
    pub open_flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateIn {
    pub flags: u32,
    pub mode: u32,
    pub umask: u32,
    pub open_flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOut {
    pub fh: u64,
    pub open_flags: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReleaseIn {
    pub fh: u64,
    pub flags: u32,
    pub release_flags: u32,
    pub lock_owner: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FlushIn {
    pub fh: u64,
    pub unused: u32,
    pub padding: u32,
    pub lock_owner: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadIn {
    pub fh: u64,
    pub offset: u64,
    pub size: u32,
    pub read_flags: u32,
    pub lock_owner: u64,
    pub flags: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteIn {
    pub fh: u64,
    pub offset: u64,
    pub size: u32,
    pub write_flags: u32,
    pub lock_owner: u64,
    pub flags: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOut {
    pub size: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct StatfsOut {
    pub st: Kstatfs,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FsyncIn {
    pub fh: u64,
    pub fsync_flags: u32,
    pub padding: u32,
}

/// The first 16 bytes are all that kernels before 7.36 send.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InitIn {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    pub flags: u32,
    pub flags2: u32,
    pub unused: [u32; 11],
}

/// The part of `InitIn` every kernel sends.
pub const INIT_IN_MIN: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InitOut {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    pub flags: u32,
    pub max_background: u16,
    pub congestion_threshold: u16,
    pub max_write: u32,
    pub time_gran: u32,
    pub max_pages: u16,
    pub map_alignment: u16,
    pub flags2: u32,
    pub unused: [u32; 7],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InterruptIn {
    pub unique: u64,
}

/// A directory entry; the name follows, padded to 8 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Dirent {
    pub ino: u64,
    pub off: u64,
    pub namelen: u32,
    pub type_: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Direntplus {
    pub entry_out: EntryOut,
    pub dirent: Dirent,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FallocateIn {
    pub fh: u64,
    pub offset: u64,
    pub length: u64,
    pub mode: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LseekIn {
    pub fh: u64,
    pub offset: u64,
    pub whence: u32,
    pub padding: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LseekOut {
    pub offset: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncfsIn {
    pub padding: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SetupmappingIn {
    pub fh: u64,
    pub foffset: u64,
    pub len: u64,
    pub flags: u64,
    pub moffset: u64,
}

pub const SETUPMAPPING_FLAG_WRITE: u64 = 1 << 0;
pub const SETUPMAPPING_FLAG_READ: u64 = 1 << 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RemovemappingIn {
    pub count: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RemovemappingOne {
    pub moffset: u64,
    pub len: u64,
}

wire!(
    InHeader,
    OutHeader,
    Attr,
    Kstatfs,
    EntryOut,
    ForgetIn,
    ForgetOne,
    BatchForgetIn,
    GetattrIn,
    AttrOut,
    MkdirIn,
    SetattrIn,
    OpenIn,
    CreateIn,
    OpenOut,
    ReleaseIn,
    FlushIn,
    ReadIn,
    WriteIn,
    WriteOut,
    StatfsOut,
    FsyncIn,
    InitIn,
    InitOut,
    InterruptIn,
    Dirent,
    Direntplus,
    FallocateIn,
    LseekIn,
    LseekOut,
    SyncfsIn,
    SetupmappingIn,
    RemovemappingIn,
    RemovemappingOne,
);

/// virtio-fs's configuration space (virtio spec 5.11.4): the mount tag,
/// NUL-padded, and the number of request queues.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VirtioFsConfig {
    pub tag: [u8; 36],
    pub num_request_queues: u32,
}

// SAFETY: a byte array and a u32, no padding; any bit pattern is valid.
unsafe impl ByteValued for VirtioFsConfig {}

/// The virtio device ID of virtio-fs.
pub const VIRTIO_ID_FS: u32 = 26;
/// Queue 0 is the high-priority queue; request queues follow.
pub const HIPRIO_QUEUE: u16 = 0;
