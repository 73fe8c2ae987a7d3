// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! cp: host files and directories into the device.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use vhost_famfs::hostio;
use vhost_famfs::meta::{Famfs, FileSpec, MetaError, RelPath};

use super::args::OwnerArgs;
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
    let dest = dest
        .to_str()
        .context("destination is not valid UTF-8")?
        .trim_matches('/')
        .to_string();
    let dest_is_dir = match fs.stat(&dest) {
        Ok(n) => n.is_dir(),
        Err(MetaError::NotFound(_)) => false,
        Err(e) => return Err(e.into()),
    };
    let dest_exists = dest.is_empty() || fs.stat(&dest).is_ok();
    if srcs.len() > 1 && !dest_is_dir && (dest_exists || !recursive) {
        bail!("{dest}: copying several sources needs an existing destination directory");
    }
    let mut plan = Vec::new();
    for src in srcs {
        let meta = std::fs::metadata(src).with_context(|| format!("{}", src.display()))?;
        if meta.is_dir() {
            if !recursive {
                bail!("{}: is a directory (use -r)", src.display());
            }
            if !dest.is_empty() {
                plan.push(Step::Dir {
                    dest: RelPath::new(&dest)?,
                    mode: meta.permissions().mode() & 0o777,
                });
            }
            walk(src, &dest, &mut plan)?;
        } else if meta.is_file() {
            let target = if dest_is_dir || srcs.len() > 1 {
                join(&dest, &file_name(src)?)?
            } else {
                RelPath::new(&dest)?
            };
            plan.push(Step::File {
                src: src.clone(),
                dest: target,
                size: meta.len(),
                mode: meta.mode() & 0o777,
            });
        } else {
            bail!("{}: not a regular file or directory", src.display());
        }
    }
    execute(fs, plan, owner, progress)
}

fn file_name(p: &Path) -> Result<String> {
    Ok(p.file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: no usable file name", p.display()))?
        .to_string())
}

fn join(dir: &str, name: &str) -> Result<RelPath> {
    Ok(if dir.is_empty() {
        RelPath::new(name)?
    } else {
        RelPath::new(&format!("{dir}/{name}"))?
    })
}

/// Plans the contents of host directory `src` into device directory `dest`.
fn walk(src: &Path, dest: &str, plan: &mut Vec<Step>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .with_context(|| format!("{}", src.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?;
        let target = join(dest, &file_name(&path)?)?;
        if meta.is_dir() {
            let sub = target.as_str().to_string();
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
                path.display()
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
                        let n = fs.stat(dest.as_str())?;
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
                let f = File::open(&src).with_context(|| format!("{}", src.display()))?;
                hostio::copy_file_in(fs.device(), &node, &f, |n| bar.inc(n))
                    .with_context(|| format!("copying {} to {dest}", src.display()))?;
            }
        }
    }
    bar.finish();
    Ok(())
}
