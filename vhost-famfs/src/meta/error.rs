// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Errors of the metadata layer: everything that can be wrong with a device,
//! its superblock, its log, or a request to change them.

use std::io;

use super::path::escape;

/// What went wrong reading or changing famfs metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("no famfs superblock (magic {found:#x}, expected {expected:#x})")]
    BadSuperMagic { found: u64, expected: u64 },
    #[error("superblock crc mismatch (stored {stored:#x}, computed {computed:#x})")]
    BadSuperCrc { stored: u64, computed: u64 },
    #[error("unsupported famfs format: superblock version {version}, omf {major}.{minor} (this vhost-famfs reads versions 47 (omf 2.1) and 48 (omf 2.2)); nothing was changed")]
    UnsupportedVersion {
        version: u64,
        major: u32,
        minor: u32,
    },
    #[error("invalid superblock: {0}")]
    BadSuper(String),
    #[error("no famfs log (magic {found:#x}, expected {expected:#x})")]
    BadLogMagic { found: u64, expected: u64 },
    #[error("log header crc mismatch (stored {stored:#x}, computed {computed:#x})")]
    BadLogCrc { stored: u64, computed: u64 },
    #[error("invalid log header: {0}")]
    BadLogHeader(String),
    #[error("log entry {index}: crc mismatch (stored {stored:#x}, computed {computed:#x})")]
    BadEntryCrc {
        index: u64,
        stored: u64,
        computed: u64,
    },
    #[error("log entry {index}: seqnum {seqnum} does not match its slot")]
    BadSeqnum { index: u64, seqnum: u64 },
    #[error("log entry {index}: {reason}")]
    BadEntry { index: u64, reason: String },
    #[error("invalid path \"{}\": {reason}", escape(path))]
    BadPath { path: Vec<u8>, reason: &'static str },
    #[error("log full: all {slots} entries are used")]
    LogFull { slots: u64 },
    #[error(
        "no space: {wanted} bytes requested, largest free run {largest} bytes, {free} bytes free"
    )]
    NoSpace {
        wanted: u64,
        largest: u64,
        free: u64,
    },
    #[error("{path}: holds famfs file system {fs_uuid} (superblock version {version}, omf {omf_major}.{omf_minor}{}); refusing to format over it (use --force to overwrite it)", files.map_or_else(|| ", log not readable".to_string(), |n| format!(", {n} files")))]
    HoldsFileSystem {
        path: String,
        fs_uuid: uuid::Uuid,
        version: u64,
        omf_major: u32,
        omf_minor: u32,
        files: Option<u64>,
    },
    #[error("{path}: famfs has it mounted on {mountpoint}; famfs's tools lock a different file, so vhost-famfs does not change a device famfs has mounted (unmount it first)")]
    MountedByFamfs { path: String, mountpoint: String },
    #[error(
        "{path}: the device lock is held by another process (waited {waited_ms} ms); try again"
    )]
    Busy { path: String, waited_ms: u64 },
    #[error("stale file system: {0}")]
    Stale(String),
    #[error("{}: already exists", escape(.0))]
    Exists(Vec<u8>),
    #[error("{}: no such file or directory", escape(.0))]
    NotFound(Vec<u8>),
    #[error("{}: not a directory", escape(.0))]
    NotDir(Vec<u8>),
    #[error("{}: is a directory", escape(.0))]
    IsDir(Vec<u8>),
    #[error("this host is a famfs client (system uuid {local}, master {master}); only the master may change the file system")]
    NotMaster { local: String, master: String },
    #[error("the device is open read-only")]
    ReadOnly,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl MetaError {
    /// The Linux errno that best describes this error to a guest.
    pub fn errno(&self) -> i32 {
        use MetaError::*;
        match self {
            Exists(_) | HoldsFileSystem { .. } => libc::EEXIST,
            Busy { .. } => libc::EAGAIN,
            MountedByFamfs { .. } => libc::EBUSY,
            NotFound(_) => libc::ENOENT,
            NotDir(_) => libc::ENOTDIR,
            IsDir(_) => libc::EISDIR,
            BadPath { reason, .. } if *reason == PATH_TOO_LONG => libc::ENAMETOOLONG,
            BadPath { .. } | InvalidArgument(_) => libc::EINVAL,
            LogFull { .. } | NoSpace { .. } => libc::ENOSPC,
            NotMaster { .. } | ReadOnly => libc::EROFS,
            _ => libc::EIO,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        MetaError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The reason given for a path that does not fit the 80-byte field.
pub const PATH_TOO_LONG: &str = "longer than 79 bytes";

pub type Result<T> = std::result::Result<T, MetaError>;
