// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! cat and cp --out: file data from the device to the host.
//!
//! hostio::read_out invalidates each range in the CPU caches before it
//! is read, so what lands on the host is what the device holds even when
//! another host wrote it.

use std::ffi::OsStr;
use std::fs::{self, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use vhost_famfs::hostio;
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::{Famfs, MetaError, Node};

use super::fs_path;
use super::progress::Progress;

/// A path in the device as the CLI takes it: "/" and "" are the root.
/// Device names are bytes (UTF-8 or not), as the shell passed them.
fn device_path(p: &Path) -> Vec<u8> {
    fs_path::trimmed(p.as_os_str()).to_vec()
}

fn lookup(fs: &Famfs, path: &[u8]) -> Result<Node> {
    fs.stat(path).map_err(|e| match e {
        MetaError::NotFound(_) => {
            anyhow::anyhow!("{}: no such file or directory in the device", shown(path))
        }
        e => e.into(),
    })
}

fn io_error(context: impl Into<String>, source: std::io::Error) -> MetaError {
    MetaError::Io {
        context: context.into(),
        source,
    }
}

/// A device path for messages; the root shows as "/".
fn shown(path: &[u8]) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        escape(path).into_owned()
    }
}

/// `cat`: the files' bytes, in order, to standard output.
pub fn cat(fs: &Famfs, paths: &[std::ffi::OsString]) -> Result<()> {
    // Check every path first: nothing is printed for a bad command line.
    let nodes = paths
        .iter()
        .map(|p| {
            let p = fs_path::trimmed(p);
            let n = lookup(fs, p)?;
            if n.is_dir() {
                bail!("{}: is a directory", shown(p));
            }
            Ok(n)
        })
        .collect::<Result<Vec<_>>>()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, p) in nodes.iter().zip(paths) {
        hostio::read_out(fs.device(), n, |_, b| {
            out.write_all(b)
                .map_err(|e| io_error("writing to standard output", e))
        })
        .with_context(|| format!("reading {}", shown(fs_path::trimmed(p))))?;
    }
    out.flush().context("writing to standard output")?;
    Ok(())
}

/// One thing to do on the host, in order: directories before their
/// contents.
enum Step {
    /// `top`: the destination the user named, which may be a symlink to
    /// a directory; below it nothing is followed.
    Dir { dest: PathBuf, mode: u32, top: bool },
    File {
        node: Node,
        src: Vec<u8>,
        dest: PathBuf,
    },
}

/// `cp --out`: device files and trees to the host.
pub fn run(
    fs: &Famfs,
    paths: &[PathBuf],
    recursive: bool,
    force: bool,
    progress: bool,
) -> Result<()> {
    let (dest, srcs) = paths
        .split_last()
        .context("cp needs a source and a destination")?;
    // The destination itself may be a symlink to a directory (the user
    // named it); below it nothing is followed.
    let dest_is_dir = dest.is_dir();
    if srcs.len() > 1 && !dest_is_dir {
        bail!(
            "{}: copying several sources needs an existing destination directory",
            dest.display()
        );
    }
    let mut plan = Vec::new();
    for src in srcs {
        let src = device_path(src);
        let node = lookup(fs, &src)?;
        if node.is_dir() {
            if !recursive {
                bail!("{}: is a directory (use -r)", shown(&src));
            }
            plan.push(Step::Dir {
                dest: dest.clone(),
                mode: node.mode,
                top: true,
            });
            fs.with_ns(|ns| walk(ns, &node, &src, dest, &mut plan));
        } else {
            let target = if dest_is_dir {
                dest.join(OsStr::from_bytes(&node.name))
            } else {
                dest.clone()
            };
            plan.push(Step::File {
                node,
                src,
                dest: target,
            });
        }
    }
    check(&plan, force)?;
    execute(fs, plan, force, progress)
}

/// Plans the contents of device directory `dir` (at `src`) into host
/// directory `dest`.
fn walk(
    ns: &vhost_famfs::meta::Namespace,
    dir: &Node,
    src: &[u8],
    dest: &Path,
    plan: &mut Vec<Step>,
) {
    for child in ns.children_after(dir.ino, 0) {
        // Device names are single components (never "", ".", ".." or
        // containing '/'), so the join stays below `dest`.
        let target = dest.join(OsStr::from_bytes(&child.name));
        let child_src = if src.is_empty() {
            child.name.to_vec()
        } else {
            [src, b"/", &child.name].concat()
        };
        if child.is_dir() {
            plan.push(Step::Dir {
                dest: target.clone(),
                mode: child.mode,
                top: false,
            });
            walk(ns, child, &child_src, &target, plan);
        } else {
            plan.push(Step::File {
                node: child.clone(),
                src: child_src,
                dest: target,
            });
        }
    }
}

/// Refuses the whole copy before writing anything if a destination is in
/// the way: a file that exists (without --force), or something that is
/// not a directory where one must go, or a symlink (never followed).
fn check(plan: &[Step], force: bool) -> Result<()> {
    let mut files = std::collections::HashSet::new();
    for step in plan {
        let (dest, want_dir, top) = match step {
            Step::Dir { dest, top, .. } => (dest, true, *top),
            Step::File { dest, .. } => (dest, false, false),
        };
        if !want_dir && !files.insert(dest) {
            bail!("{}: more than one source copies to it", dest.display());
        }
        let meta = if top {
            fs::metadata(dest)
        } else {
            fs::symlink_metadata(dest)
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| dest.display().to_string()),
        };
        let d = dest.display();
        if meta.file_type().is_symlink() {
            bail!("{d}: is a symbolic link; refusing to write through it");
        }
        match (want_dir, meta.is_dir()) {
            (true, true) => {}
            (true, false) => bail!("{d}: exists and is not a directory"),
            (false, true) => bail!("{d}: is a directory"),
            (false, false) if !force => {
                bail!("{d}: already exists (use --force to replace it)")
            }
            (false, false) => {
                if !meta.is_file() {
                    bail!("{d}: not a regular file; refusing to replace it");
                }
            }
        }
    }
    Ok(())
}

/// True if `p` is a directory; only the user's own destination may be a
/// symlink to one (a symlink planted below it since the check is not).
fn is_dir(p: &Path, top: bool) -> bool {
    let meta = if top {
        fs::metadata(p)
    } else {
        fs::symlink_metadata(p)
    };
    meta.is_ok_and(|m| m.is_dir())
}

fn umask() -> u32 {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

fn execute(fs: &Famfs, plan: Vec<Step>, force: bool, progress: bool) -> Result<()> {
    // Permission bits only: set-id bits from a shared device are not
    // given to host files, and the umask applies as it does for cp.
    let keep = 0o777 & !umask();
    let total = plan
        .iter()
        .map(|s| match s {
            Step::File { node, .. } => node.size(),
            Step::Dir { .. } => 0,
        })
        .sum();
    let mut bar = Progress::new(total, progress);
    // Directories stay writable until their contents are in.
    let mut dir_modes = Vec::new();
    for step in plan {
        match step {
            Step::Dir { dest, mode, top } => {
                match fs::DirBuilder::new().mode(0o700).create(&dest) {
                    Ok(()) => dir_modes.push((dest, mode & keep)),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists && is_dir(&dest, top) => {}
                    Err(e) => return Err(e).with_context(|| dest.display().to_string()),
                }
            }
            Step::File { node, src, dest } => {
                copy_file(fs, &node, &dest, node.mode & keep, force, &mut bar)
                    .with_context(|| format!("copying {} to {}", shown(&src), dest.display()))?;
            }
        }
    }
    for (dir, mode) in dir_modes.into_iter().rev() {
        fs::set_permissions(&dir, Permissions::from_mode(mode))
            .with_context(|| dir.display().to_string())?;
    }
    bar.finish();
    Ok(())
}

/// Writes the file into a temporary file beside `dest`, then renames it
/// into place: `dest` is either untouched or complete, never partial.
fn copy_file(
    fs: &Famfs,
    node: &Node,
    dest: &Path,
    mode: u32,
    force: bool,
    bar: &mut Progress,
) -> Result<()> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".vhost-famfs-cp.")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    hostio::read_out(fs.device(), node, |_, b| {
        tmp.write_all(b)
            .map_err(|e| io_error(format!("writing {}", tmp.path().display()), e))?;
        bar.inc(b.len() as u64);
        Ok(())
    })?;
    tmp.as_file().sync_all().context("syncing")?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .context("setting permissions")?;
    if force {
        tmp.persist(dest).map_err(|e| e.error)?;
    } else {
        // Someone may have created it since the check: never replace.
        tmp.persist_noclobber(dest).map_err(|e| {
            if e.error.kind() == ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{}: already exists (use --force to replace it)",
                    dest.display()
                )
            } else {
                e.error.into()
            }
        })?;
    }
    Ok(())
}
