// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! ls, stat and getmap.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use anyhow::{bail, Result};
use vhost_famfs::meta::fmap::Fmap;
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::{Famfs, MetaError, Namespace, Node, NodeKind};

use super::fs_path;

fn lookup(fs: &Famfs, path: &OsStr) -> Result<Node> {
    Ok(fs.stat(fs_path::trimmed(path))?)
}

fn mode_string(n: &Node) -> String {
    let mut s = String::from(if n.is_dir() { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = (n.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn print_entries(nodes: &[Node], long: bool) {
    for n in nodes {
        let name = escape(&n.name);
        let name = if n.is_dir() {
            format!("{name}/")
        } else {
            name.into_owned()
        };
        if long {
            println!(
                "{} {:>5} {:>5} {:>14} {:>8} {name}",
                mode_string(n),
                n.uid,
                n.gid,
                n.size(),
                n.ino
            );
        } else {
            println!("{name}");
        }
    }
}

/// Directory `dir` (at device path `shown`, "." for the root) and, depth
/// first, every directory below it, each with its entries: the order
/// `ls -R` prints.
fn tree(ns: &Namespace, dir: &Node, shown: Vec<u8>, out: &mut Vec<(Vec<u8>, Vec<Node>)>) {
    let children: Vec<Node> = ns.children_after(dir.ino, 0).cloned().collect();
    let subdirs: Vec<Node> = children.iter().filter(|n| n.is_dir()).cloned().collect();
    out.push((shown.clone(), children));
    for d in subdirs {
        let sub = if shown == b"." {
            d.name.to_vec()
        } else {
            [&shown[..], b"/", &d.name].concat()
        };
        tree(ns, &d, sub, out);
    }
}

pub fn ls(fs: &Famfs, path: &OsStr, long: bool, recursive: bool) -> Result<()> {
    let dir = lookup(fs, path)?;
    if !dir.is_dir() {
        print_entries(&[dir], long);
        return Ok(());
    }
    if !recursive {
        let nodes: Vec<Node> = fs.with_ns(|ns| ns.children_after(dir.ino, 0).cloned().collect());
        print_entries(&nodes, long);
        return Ok(());
    }
    let top = match fs_path::trimmed(path) {
        b"" => b".".to_vec(),
        p => p.to_vec(),
    };
    let mut dirs = Vec::new();
    fs.with_ns(|ns| tree(ns, &dir, top, &mut dirs));
    for (i, (shown, nodes)) in dirs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}:", escape(shown));
        print_entries(nodes, long);
    }
    Ok(())
}

pub fn stat(fs: &Famfs, path: &OsStr) -> Result<()> {
    let n = lookup(fs, path)?;
    let kind = if n.is_dir() { "directory" } else { "file" };
    println!("  path: {}", escape(&fs.with_ns(|ns| ns.path_of(n.ino))));
    println!("  type: {kind}");
    println!("  inode: {}", n.ino);
    println!("  mode: {:04o} ({})", n.mode & 0o7777, mode_string(&n));
    println!("  uid: {}  gid: {}", n.uid, n.gid);
    println!("  size: {}", n.size());
    println!("  allocated: {}", n.allocated());
    if let Some(i) = n.log_index {
        println!("  log entry: {i}");
    }
    Ok(())
}

/// Prints the map in the layout famfs's getmap uses.
pub fn getmap(fs: &Famfs, path: &OsStr) -> Result<()> {
    let n = lookup(fs, path)?;
    let shown = escape(path.as_bytes());
    let NodeKind::File { size, fmap, .. } = &n.kind else {
        return Err(MetaError::IsDir(fs_path::trimmed(path).to_vec()).into());
    };
    let print = |list: &[vhost_famfs::meta::fmap::Extent]| {
        for e in list {
            println!("\t\t{:x}\t{}", e.offset, e.len);
        }
    };
    println!("File:     {shown}");
    println!("\tsize:    {size}");
    match fmap {
        Fmap::Simple(list) => {
            println!("\textents: {}", list.len());
            print(list);
        }
        Fmap::Interleaved { chunk_size, strips } => {
            println!("\textents: 1");
            println!("Interleave_Param chunk_size: {chunk_size}");
            println!("Interleaved extent has {} strips:", strips.len());
            print(strips);
        }
    }
    if fmap.ranges().is_empty() {
        bail!("{shown}: no extent map");
    }
    println!("vhost-famfs getmap: good file {shown}");
    Ok(())
}
