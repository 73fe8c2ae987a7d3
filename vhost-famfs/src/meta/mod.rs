// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! famfs metadata: the on-media format, the log, the tree replayed from
//! it, space allocation, roles, and fsck.

pub mod alloc;
pub mod cache;
pub mod entry;
pub mod error;
pub mod famfs_mount;
pub mod fmap;
pub mod format;
pub mod fs;
pub mod fsck;
pub mod log;
pub mod namespace;
pub mod path;
pub mod role;
pub mod superblock;

pub use error::{MetaError, Result};
pub use fs::{Famfs, FileSpec, MkfsOptions, OpenOptions, Usage};
pub use namespace::{Ino, Namespace, Node, NodeKind, ROOT_INO};
pub use path::RelPath;
pub use role::Role;
