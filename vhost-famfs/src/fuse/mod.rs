// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-fs front door: FUSE over virtqueues, served from the same
//! file-system layer as virtio-famfs.

pub mod abi;
pub mod cache;
pub mod chain;
pub mod pending;
pub mod server;

pub use cache::CachePolicy;
pub use server::{DaxWindow, FuseServer, NoWindow};
