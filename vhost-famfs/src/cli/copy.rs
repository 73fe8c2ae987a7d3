// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! cp: host files and directories into the device.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use vhost_famfs::hostio;
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::{Famfs, FileSpec, MetaError, RelPath};

use super::args::OwnerArgs;
use super::fs_path;
use super::progress::Progress;

/// One thing to do, in order: directories before their contents.
enum Step {
    Dir {
        dest: RelPath,
        mode: u32,
    },
    File {
        src: PathBuf,
        dest: RelPath,
        size: u64,
        mode: u32,
    },
}

pub fn run(
    fs: &Famfs,
    paths: &[PathBuf],
    recursive: bool,
    owner: &OwnerArgs,
    progress: bool,
) -> Result<()> {
    let (dest, srcs) = paths
        .split_last()
        .context("cp needs a source and a destination")?;
    let dest = fs_path::trimmed(dest.as_os_str());
    let dest_is_dir = match fs.stat(dest) {
        Ok(n) => n.is_dir(),
        Err(MetaError::NotFound(_)) => false,
        Err(e) => return Err(e.into()),
    };
    let dest_exists = dest.is_empty() || fs.stat(dest).is_ok();
    if srcs.len() > 1 && !dest_is_dir && (dest_exists || !recursive) {
        bail!(
            "{}: copying several sources needs an existing destination directory",
            escape(dest)
        );
    }
    let mut plan = Vec::new();
    for src in srcs {
        let meta = std::fs::metadata(src).with_context(|| format!("{}", shown(src)))?;
        if meta.is_dir() {
            if !recursive {
                bail!("{}: is a directory (use -r)", shown(src));
            }
            if !dest.is_empty() {
                plan.push(Step::Dir {
                    dest: RelPath::new(dest)?,
                    mode: meta.permissions().mode() & 0o777,
                });
            }
            walk(src, dest, &mut plan)?;
        } else if meta.is_file() {
            let target = if dest_is_dir || srcs.len() > 1 {
                join(dest, file_name(src)?)?
            } else {
                RelPath::new(dest)?
            };
            plan.push(Step::File {
                src: src.clone(),
                dest: target,
                size: meta.len(),
                mode: meta.mode() & 0o777,
            });
        } else {
            bail!("{}: not a regular file or directory", shown(src));
        }
    }
    execute(fs, plan, owner, progress)
}

/// A host path made safe to print (its names are as untrusted as ours).
fn shown(p: &Path) -> std::borrow::Cow<'_, str> {
    escape(p.as_os_str().as_bytes())
}

/// The source's name, as bytes: a host name need not be UTF-8 either.
fn file_name(p: &Path) -> Result<&[u8]> {
    Ok(p.file_name()
        .with_context(|| format!("{}: no usable file name", shown(p)))?
        .as_bytes())
}

fn join(dir: &[u8], name: &[u8]) -> Result<RelPath> {
    Ok(if dir.is_empty() {
        RelPath::new(name)?
    } else {
        RelPath::new(&[dir, b"/", name].concat())?
    })
}

/// Plans the contents of host directory `src` into device directory `dest`.
fn walk(src: &Path, dest: &[u8], plan: &mut Vec<Step>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .with_context(|| format!("{}", shown(src)))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta = std::fs::metadata(&path).with_context(|| format!("{}", shown(&path)))?;
        let target = join(dest, file_name(&path)?)?;
        if meta.is_dir() {
            let sub = target.as_bytes().to_vec();
            plan.push(Step::Dir {
                dest: target,
                mode: meta.permissions().mode() & 0o777,
            });
            walk(&path, &sub, plan)?;
        } else if meta.is_file() {
            plan.push(Step::File {
                src: path,
                dest: target,
                size: meta.len(),
                mode: meta.mode() & 0o777,
            });
        } else {
            log::warn!(
                "{}: skipped (not a regular file or directory)",
                shown(&path)
            );
        }
    }
    Ok(())
}

fn execute(fs: &Famfs, plan: Vec<Step>, owner: &OwnerArgs, progress: bool) -> Result<()> {
    let uid = owner.uid.unwrap_or_else(|| nix::unistd::getuid().as_raw());
    let gid = owner.gid.unwrap_or_else(|| nix::unistd::getgid().as_raw());
    let total: u64 = plan
        .iter()
        .map(|s| match s {
            Step::File { size, .. } => *size,
            Step::Dir { .. } => 0,
        })
        .sum();
    let mut bar = Progress::new(total, progress);
    for step in plan {
        match step {
            Step::Dir { dest, mode } => {
                fs.mkdir_p(&dest, owner.mode.unwrap_or(mode), uid, gid)?;
            }
            Step::File {
                src,
                dest,
                size,
                mode,
            } => {
                let spec = FileSpec {
                    size,
                    mode: owner.mode.unwrap_or(mode),
                    uid,
                    gid,
                    striping: None,
                };
                let node = match fs.create(&dest, &spec) {
                    Ok(n) => n,
                    // Restart: same size, copy the data again in place.
                    Err(MetaError::Exists(_)) => {
                        let n = fs.stat(&dest)?;
                        if n.is_dir() || n.size() != size {
                            bail!(
                                "{dest}: already exists with another size ({} bytes, source {size})",
                                n.size()
                            );
                        }
                        log::info!("{dest}: exists with the same size, copying again");
                        n
                    }
                    Err(e) => return Err(e.into()),
                };
                let f = File::open(&src).with_context(|| format!("{}", shown(&src)))?;
                hostio::copy_file_in(fs.device(), &node, &f, |n| bar.inc(n))
                    .with_context(|| format!("copying {} to {dest}", shown(&src)))?;
            }
        }
    }
    bar.finish();
    Ok(())
}
