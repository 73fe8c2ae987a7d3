// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A virtio-fs socket's cache policy: how long a guest may trust names,
//! attributes and file data it has seen (virtiofsd's never/auto/always).
//!
//! famfs data changes without any metadata change (another VM writes the
//! shared memory), so only `never` keeps every VM's read(2) coherent; it
//! is the default.

use std::time::Duration;

use super::abi::{FOPEN_CACHE_DIR, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// Nothing cached: names and attributes are asked for on each use,
    /// read(2)/write(2) go to the device (FOPEN_DIRECT_IO); mmap goes
    /// through the page cache, dropped at each mmap.
    #[default]
    Never,
    /// Names and attributes trusted for 1 s; the page cache is dropped at
    /// each open (close-to-open coherence).
    Auto,
    /// Names and attributes trusted for a day; the page cache is kept
    /// across opens (one VM writing, or data that never changes).
    Always,
}

impl std::str::FromStr for CachePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "never" | "none" => Ok(CachePolicy::Never),
            "auto" => Ok(CachePolicy::Auto),
            "always" => Ok(CachePolicy::Always),
            _ => Err(format!("cache={s}: expected never, auto or always")),
        }
    }
}

impl CachePolicy {
    /// How long entries and attributes stay valid in the guest.
    pub fn timeout(self) -> Duration {
        match self {
            CachePolicy::Never => Duration::ZERO,
            CachePolicy::Auto => Duration::from_secs(1),
            CachePolicy::Always => Duration::from_secs(86_400),
        }
    }

    /// FOPEN_* flags for an opened file. `direct_mmap`: the guest lets
    /// FOPEN_DIRECT_IO files be mmapped shared (FUSE_DIRECT_IO_ALLOW_MMAP);
    /// without it `never` falls back to dropping the cache at each open.
    pub fn open_flags(self, direct_mmap: bool) -> u32 {
        match self {
            CachePolicy::Never if direct_mmap => FOPEN_DIRECT_IO,
            CachePolicy::Never | CachePolicy::Auto => 0,
            CachePolicy::Always => FOPEN_KEEP_CACHE,
        }
    }

    /// FOPEN_* flags for an opened directory.
    pub fn opendir_flags(self) -> u32 {
        match self {
            CachePolicy::Always => FOPEN_CACHE_DIR,
            _ => 0,
        }
    }
}
