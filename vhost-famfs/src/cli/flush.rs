// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! flush: write back and invalidate the CPU cache lines of files, for
//! memory that is not cache coherent between hosts (famfs's `flush`).

use anyhow::{Context, Result};
use vhost_famfs::hostio;
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::{cache, Famfs, MetaError, Namespace, Node};

/// Every file at or below `node`.
fn files_below(ns: &Namespace, node: &Node, out: &mut Vec<Node>) {
    if !node.is_dir() {
        out.push(node.clone());
        return;
    }
    for child in ns.children_after(node.ino, 0) {
        files_below(ns, child, out);
    }
}

pub fn run(fs: &Famfs, paths: &[std::ffi::OsString]) -> Result<()> {
    let mut files = Vec::new();
    if paths.is_empty() {
        let meta = fs.superblock().meta_size();
        cache::flush(fs.device(), 0, meta).context("flushing the superblock and log")?;
        fs.with_ns(|ns| files.extend(ns.iter_files().cloned()));
    } else {
        for p in paths {
            let p = super::fs_path::trimmed(p);
            let node = fs.stat(p).map_err(|e| match e {
                MetaError::NotFound(_) => {
                    anyhow::anyhow!("{}: no such file or directory in the device", escape(p))
                }
                e => e.into(),
            })?;
            fs.with_ns(|ns| files_below(ns, &node, &mut files));
        }
    }
    let mut bytes = 0;
    for n in &files {
        hostio::flush_file(fs.device(), n)
            .with_context(|| format!("flushing {}", escape(&fs.with_ns(|ns| ns.path_of(n.ino)))))?;
        bytes += n.size();
    }
    println!("flushed {} files, {bytes} bytes", files.len());
    Ok(())
}
