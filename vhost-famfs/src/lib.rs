// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vhost-famfs: share a host's DAX memory with virtual machines as files.
//!
//! The crate holds the famfs-compatible metadata core (`meta`), device
//! access (`device`), and the host tools built on them.

pub mod control;
pub mod daemon;
pub mod dax_window;
pub mod device;
pub mod export;
pub mod features;
pub mod filesystem;
pub mod fmap_reply;
pub mod fuse;
pub mod guest_policy;
pub mod hostio;
pub mod isolated_window;
pub mod listen;
pub mod meta;
pub mod pattern;
pub mod privileges;
pub mod protocol;
pub mod seccomp;
pub mod server;
pub mod status;
pub mod vhu_famfs;
pub mod vhu_virtiofs;
pub mod vring_serve;
