// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The host-side commands.

pub mod args;
pub mod assets;
pub mod capabilities;
mod copy;
mod copy_out;
mod flush;
mod fs_path;
mod logplay;
mod progress;
mod serve;
mod show;
mod sockets;

use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use std::time::Duration;

use vhost_famfs::device::{Device, LockWait};
use vhost_famfs::meta::fsck;
use vhost_famfs::meta::{Famfs, FileSpec, MetaError, MkfsOptions, OpenOptions, RelPath};
use vhost_famfs::pattern::Pattern;
use vhost_famfs::{hostio, meta::alloc::Striping};

use args::{Cli, Command, DeviceArg, OwnerArgs};

/// Runs one command; the exit code is the command's own where it has one
/// (fsck), else 0 or 1.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let open = |d: &DeviceArg, writable: bool| -> Result<Famfs> {
        let opts = OpenOptions {
            writable,
            system_uuid: cli.system_uuid,
            system_uuid_file: cli.system_uuid_file.clone(),
            // Commands wait for the device lock (saying so); the daemon
            // must not, see Serve.
            lock_wait: LockWait::Forever,
        };
        Famfs::open(&d.device, &opts).with_context(|| format!("opening {}", d.device.display()))
    };
    let Some(command) = &cli.command else {
        bail!("no command given (see vhost-famfs --help)");
    };
    match command {
        Command::Serve {
            device,
            sockets,
            socket_path,
            fd,
            socket_options,
            socket_group,
            request_queues,
            lock_wait_ms,
            runtime,
        } => {
            let (sockets, listeners) = sockets::gather(&sockets::SocketArgs {
                sockets,
                socket_path: socket_path.as_ref(),
                fd: *fd,
                socket_options: socket_options.as_deref(),
                socket_group: socket_group.as_deref(),
            })?;
            let opts = OpenOptions {
                writable: true,
                system_uuid: cli.system_uuid,
                system_uuid_file: cli.system_uuid_file.clone(),
                lock_wait: LockWait::Bounded(Duration::from_millis(*lock_wait_ms)),
            };
            let fs = Famfs::open(&device.device, &opts)
                .with_context(|| format!("opening {}", device.device.display()))?;
            let fs = std::sync::Arc::new(fs);
            serve::run(
                fs,
                &sockets,
                listeners,
                usize::from(*request_queues),
                runtime,
            )?;
        }
        Command::Status { control_socket } => {
            print!("{}", vhost_famfs::control::query(control_socket)?);
        }
        Command::Mkfs {
            device,
            force,
            loglen,
            size,
        } => {
            if let Some(size) = size {
                Device::create_file(&device.device, *size)?;
            }
            let dev = Device::open(&device.device, true)?;
            let opts = MkfsOptions {
                log_len: *loglen,
                force: *force,
                system_uuid: cli.system_uuid,
                system_uuid_file: cli.system_uuid_file.clone(),
                lock_wait: LockWait::Forever,
            };
            let sb = Famfs::mkfs(&dev, &opts)?;
            println!(
                "famfs file system {} on {} ({} MiB, log {} MiB, {} entries); master system uuid {}",
                sb.fs_uuid,
                device.device.display(),
                dev.size() >> 20,
                sb.log_len >> 20,
                vhost_famfs::meta::format::last_index_for(sb.log_len) + 1,
                sb.system_uuid
            );
        }
        Command::Mkdir {
            device,
            parents,
            owner,
            paths,
        } => {
            let fs = open(device, true)?;
            let (mode, uid, gid) = owner_or(owner, 0o755);
            for p in paths {
                let rp = RelPath::new(fs_path::trimmed(p))?;
                if *parents {
                    fs.mkdir_p(&rp, mode, uid, gid)?;
                } else {
                    fs.mkdir(&rp, mode, uid, gid)?;
                }
            }
        }
        Command::Creat {
            device,
            size,
            seed,
            strips,
            chunk,
            owner,
            paths,
        } => {
            let pattern_ok = seed.map(Pattern::new);
            if let Some(None) = pattern_ok {
                bail!("--seed must not be 0 (famfs reserves it; only its low 32 bits count)");
            }
            let fs = open(device, true)?;
            let (mode, uid, gid) = owner_or(owner, 0o644 & !umask());
            let striping = strips
                .zip(*chunk)
                .map(|(strips, chunk_size)| Striping { strips, chunk_size });
            let spec = FileSpec {
                size: *size,
                mode,
                uid,
                gid,
                striping,
            };
            for p in paths {
                let rp = RelPath::new(fs_path::relative(p))?;
                let node = match fs.create(&rp, &spec) {
                    Ok(n) => n,
                    Err(MetaError::Exists(_)) => {
                        let n = fs.stat(&rp)?;
                        if n.is_dir() || n.size() != *size {
                            bail!("{rp}: exists with another size ({} bytes)", n.size());
                        }
                        n
                    }
                    Err(e) => return Err(e.into()),
                };
                if let Some(seed) = seed {
                    let mut pat = Pattern::new(*seed).expect("checked above");
                    hostio::fill(fs.device(), &node, |b| pat.fill(b))?;
                }
            }
        }
        Command::Cp {
            device,
            recursive,
            out,
            force,
            progress,
            owner,
            paths,
        } => {
            if *out {
                if owner.mode.is_some() || owner.uid.is_some() || owner.gid.is_some() {
                    bail!("--mode, --uid and --gid apply to copies into the device, not --out");
                }
                copy_out::run(&open(device, false)?, paths, *recursive, *force, *progress)?;
            } else {
                let fs = open(device, true)?;
                copy::run(&fs, paths, *recursive, owner, *progress)?;
            }
        }
        Command::Ls {
            device,
            long,
            recursive,
            path,
        } => {
            show::ls(&open(device, false)?, path, *long, *recursive)?;
        }
        Command::Cat { device, paths } => copy_out::cat(&open(device, false)?, paths)?,
        Command::Logplay { device, json } => {
            if !logplay::run(&open(device, false)?, *json)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Flush { device, paths } => flush::run(&open(device, false)?, paths)?,
        Command::Stat { device, path } => show::stat(&open(device, false)?, path)?,
        Command::Getmap { device, path } => show::getmap(&open(device, false)?, path)?,
        Command::Fsck { device, repair } => {
            if *repair {
                let fixed = Device::open(&device.device, true)
                    .map_err(MetaError::from)
                    .and_then(|dev| vhost_famfs::meta::fs::repair(&dev, LockWait::Forever));
                match fixed {
                    Ok(done) if done.is_empty() => println!("nothing to repair"),
                    Ok(done) => done.iter().for_each(|d| println!("repaired: {d}")),
                    Err(e) => {
                        eprintln!("vhost-famfs fsck: cannot repair: {e}");
                        return Ok(ExitCode::from(fsck::EXIT_OPERATIONAL as u8));
                    }
                }
            }
            let dev = match Device::open(&device.device, false) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("vhost-famfs fsck: {e}");
                    return Ok(ExitCode::from(fsck::EXIT_OPERATIONAL as u8));
                }
            };
            let report = fsck::fsck(&dev);
            println!("{report}");
            return Ok(ExitCode::from(report.exit_code() as u8));
        }
        Command::Verify { device, seed, path } => {
            let fs = open(device, false)?;
            let node = fs.stat(fs_path::relative(path))?;
            let path = vhost_famfs::meta::path::escape(path.as_bytes());
            if node.is_dir() {
                bail!("{path}: is a directory");
            }
            let Some(mut pat) = Pattern::new(*seed) else {
                bail!("--seed must not be 0");
            };
            let mut bad = None;
            hostio::read_out(fs.device(), &node, |off, b| {
                if bad.is_none() {
                    bad = pat.check(b).map(|i| off + i as u64);
                }
                Ok(())
            })?;
            if let Some(off) = bad {
                eprintln!("Verify fail: {path} at offset {off}");
                return Ok(ExitCode::FAILURE);
            }
            println!("{path}: {} bytes match seed {seed}", node.size());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn umask() -> u32 {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

/// Mode, uid and gid from the options, else `mode` and the caller's ids.
fn owner_or(o: &OwnerArgs, mode: u32) -> (u32, u32, u32) {
    (
        o.mode.unwrap_or(mode),
        o.uid.unwrap_or_else(|| nix::unistd::getuid().as_raw()),
        o.gid.unwrap_or_else(|| nix::unistd::getgid().as_raw()),
    )
}
