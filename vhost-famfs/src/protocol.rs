// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-famfs wire format: Rust mirrors of `spec/virtio_famfs.h`.
//!
//! The C header is the one definition; `tests/header_layout.rs` compiles
//! it and checks that every struct here has the same size and every field
//! the same offset.

use vm_memory::{ByteValued, Le32, Le64};

/// Provisional device ID, and the stand-in QEMU 11.1 accepts.
pub const VIRTIO_ID_FAMFS: u32 = 56;
pub const VIRTIO_ID_FAMFS_COMPAT: u32 = 6;

/// `Config::magic`: "FAMF".
pub const MAGIC: u32 = 0x464d_4146;

/// Protocol version spoken by this device.
pub const VERSION_MAJOR: u32 = 1;
pub const VERSION_MINOR: u32 = 0;

/// Feature bit: the notification queue is serviced.
pub const F_NOTIFY: u64 = 0;
/// Feature bit: GET_FMAP may answer with an interleaved map.
pub const F_INTERLEAVE: u64 = 1;
/// READDIRPLUS: listings carry each entry's attributes.
pub const F_READDIRPLUS: u64 = 2;
/// Small maps inline in LOOKUP and READDIRPLUS replies.
pub const F_ENTRY_FMAP: u64 = 3;
/// The driver reports nodes it dropped (FORGET).
pub const F_FORGET: u64 = 4;

/// Queue 0 carries notifications; request queues follow.
pub const NOTIFY_QUEUE: u16 = 0;
pub const FIRST_REQUEST_QUEUE: u16 = 1;

/// Configuration flags.
pub const CFG_F_READ_ONLY: u32 = 1 << 0;
pub const CFG_F_MAY_CREATE: u32 = 1 << 1;
pub const CFG_F_NO_WINDOW: u32 = 1 << 2;

/// Length of the mount tag field.
pub const TAG_LEN: usize = 36;

/// Opcodes.
pub const OP_INIT: u32 = 1;
pub const OP_STATFS: u32 = 2;
pub const OP_LOOKUP: u32 = 3;
pub const OP_GETATTR: u32 = 4;
pub const OP_READDIR: u32 = 5;
pub const OP_GET_FMAP: u32 = 6;
pub const OP_CREATE: u32 = 7;
pub const OP_MKDIR: u32 = 8;
pub const OP_READDIRPLUS: u32 = 9;
pub const OP_FORGET: u32 = 10;

/// Most extents or strips of a map inline in an entry.
pub const ENTRY_FMAP_MAX: u32 = 16;
/// Most node ids in one FORGET.
pub const FORGET_MAX: u32 = 256;

/// Attribute flag: the file's data is read-only for every host (famfs
/// FILE flag ALL_HOSTS_RO).
pub const ATTR_F_RDONLY: u32 = 1 << 0;
/// `FmapOut::kind`: extents one after another in file order.
pub const FMAP_SIMPLE: u32 = 0;
/// `FmapOut::kind`: an `FmapInterleave`, then the strips chunks rotate over.
pub const FMAP_INTERLEAVED: u32 = 1;

/// READDIR output flag: no entries follow the last one returned.
pub const READDIR_F_EOF: u32 = 1 << 0;

/// Notification types.
pub const NOTIFY_NAMESPACE_CHANGED: u32 = 1;

/// Directory entry types (as in dirent.h).
pub const DT_DIR: u32 = 4;
pub const DT_REG: u32 = 8;

/// Longest name a request may carry.
pub const NAME_MAX: u32 = 79;

/// Device configuration space.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub tag: [u8; TAG_LEN],
    pub num_request_queues: Le32,
    pub flags: Le32,
    pub fs_uuid: [u8; 16],
    pub magic: Le32,
    pub device_size: Le64,
    pub alloc_unit: Le64,
    pub meta_size: Le64,
    pub max_extents: Le32,
    pub version: Le32,
}

/// Start of every request (device-readable).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqHdr {
    pub opcode: Le32,
    pub len: Le32,
    pub unique: Le64,
    pub nodeid: Le64,
}

/// Start of every response (device-writable).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RespHdr {
    pub len: Le32,
    pub error: Le32,
    pub unique: Le64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InitIn {
    pub major: Le32,
    pub minor: Le32,
    pub flags: Le32,
    pub padding: Le32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InitOut {
    pub major: Le32,
    pub minor: Le32,
    pub flags: Le32,
    pub max_readdir_bytes: Le32,
    pub root_nodeid: Le64,
    pub log_generation: Le64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct StatfsOut {
    pub total_bytes: Le64,
    pub free_bytes: Le64,
    pub largest_free: Le64,
    pub files: Le64,
    pub dirs: Le64,
    pub log_slots: Le64,
    pub log_used: Le64,
    pub bsize: Le32,
    pub namelen: Le32,
}

/// LOOKUP input; `namelen` bytes of name follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LookupIn {
    pub namelen: Le32,
    pub padding: Le32,
}

/// Attributes of a node (LOOKUP, GETATTR, CREATE and MKDIR output).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub nodeid: Le64,
    pub size: Le64,
    pub blocks: Le64,
    pub generation: Le64,
    pub mode: Le32,
    pub uid: Le32,
    pub gid: Le32,
    pub nlink: Le32,
    pub flags: Le32,
    pub padding: Le32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReaddirIn {
    pub cookie: Le64,
}

/// READDIR output; `nentries` packed `Dirent`s follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ReaddirOut {
    pub nentries: Le32,
    pub flags: Le32,
}

/// One directory entry; `namelen` bytes of name follow, padded to 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Dirent {
    pub nodeid: Le64,
    pub cookie: Le64,
    pub type_: Le32,
    pub namelen: Le32,
}

/// GET_FMAP output; for `FMAP_INTERLEAVED` an `FmapInterleave` follows,
/// then `nextents` `Extent`s (the extents, or the strips).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FmapOut {
    pub file_size: Le64,
    pub nextents: Le32,
    pub kind: Le32,
}

/// The chunk size of an interleaved GET_FMAP reply.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FmapInterleave {
    pub chunk_size: Le64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub offset: Le64,
    pub len: Le64,
}

/// LOOKUP output with F_ENTRY_FMAP: `fmap_len` bytes of inline map (the
/// GET_FMAP reply format) follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EntryOut {
    pub attr: Attr,
    pub fmap_len: Le32,
    pub padding: Le32,
}

/// One READDIRPLUS entry; `namelen` bytes of name follow, padded to 8,
/// then `fmap_len` bytes of inline map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DirentPlus {
    pub attr: Attr,
    pub cookie: Le64,
    pub type_: Le32,
    pub namelen: Le32,
    pub fmap_len: Le32,
    pub padding: Le32,
}

/// FORGET input; `count` little-endian u64 node ids follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ForgetIn {
    pub count: Le32,
    pub padding: Le32,
}

/// CREATE input; `namelen` bytes of name follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateIn {
    pub mode: Le32,
    pub uid: Le32,
    pub gid: Le32,
    pub flags: Le32,
    pub size: Le64,
    pub namelen: Le32,
    pub padding: Le32,
}

/// MKDIR input; `namelen` bytes of name follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MkdirIn {
    pub mode: Le32,
    pub uid: Le32,
    pub gid: Le32,
    pub namelen: Le32,
}

/// A buffer of the notification queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Notify {
    pub type_: Le32,
    pub padding: Le32,
    pub log_generation: Le64,
}

// SAFETY: all of these are repr(C), made of little-endian integers and
// byte arrays with explicit padding fields (the layout test proves there
// is no implicit padding), so every bit pattern is a valid value.
unsafe impl ByteValued for Config {}
// SAFETY: as above.
unsafe impl ByteValued for ReqHdr {}
// SAFETY: as above.
unsafe impl ByteValued for RespHdr {}
// SAFETY: as above.
unsafe impl ByteValued for InitIn {}
// SAFETY: as above.
unsafe impl ByteValued for InitOut {}
// SAFETY: as above.
unsafe impl ByteValued for StatfsOut {}
// SAFETY: as above.
unsafe impl ByteValued for LookupIn {}
// SAFETY: as above.
unsafe impl ByteValued for Attr {}
// SAFETY: as above.
unsafe impl ByteValued for ReaddirIn {}
// SAFETY: as above.
unsafe impl ByteValued for ReaddirOut {}
// SAFETY: as above.
unsafe impl ByteValued for Dirent {}
// SAFETY: as above.
unsafe impl ByteValued for FmapOut {}
// SAFETY: as above.
unsafe impl ByteValued for FmapInterleave {}
// SAFETY: as above.
unsafe impl ByteValued for Extent {}
// SAFETY: as above.
unsafe impl ByteValued for EntryOut {}
// SAFETY: as above.
unsafe impl ByteValued for DirentPlus {}
// SAFETY: as above.
unsafe impl ByteValued for ForgetIn {}
// SAFETY: as above.
unsafe impl ByteValued for CreateIn {}
// SAFETY: as above.
unsafe impl ByteValued for MkdirIn {}
// SAFETY: as above.
unsafe impl ByteValued for Notify {}
