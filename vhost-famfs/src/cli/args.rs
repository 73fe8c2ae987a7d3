// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Command-line arguments (clap).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

/// Share a host's DAX memory with virtual machines as files.
///
/// vhost-famfs keeps a famfs file system (on-media format 2.2) on a memory
/// device: a device-DAX instance (/dev/daxX.Y) or a file standing in for
/// one. The subcommands below format and fill the device directly on the
/// host (no mount needed); `serve` gives it to VMs as a vhost-user device.
///
/// Only the master host (the one whose system uuid mkfs recorded) may add
/// files and directories; every other host is a client and reads.
#[derive(Debug, Parser)]
#[command(
    name = "vhost-famfs",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log level: off, error, warn, info, debug or trace (overrides -v
    /// and RUST_LOG).
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<log::LevelFilter>,

    /// Log to syslog (/dev/log, facility daemon) instead of stderr.
    #[arg(long, global = true)]
    pub syslog: bool,

    /// Print the vhost-user backend capabilities (JSON, the format QEMU's
    /// docs/interop/vhost-user.json describes) and exit.
    #[arg(long)]
    pub print_capabilities: bool,

    /// This host's system uuid, instead of the one in --system-uuid-file.
    #[arg(long, global = true, env = "VHOST_FAMFS_SYSTEM_UUID")]
    pub system_uuid: Option<Uuid>,

    /// File holding this host's system uuid (famfs's own file).
    #[arg(
        long,
        global = true,
        env = "VHOST_FAMFS_SYSTEM_UUID_FILE",
        default_value = "/opt/famfs/system_uuid"
    )]
    pub system_uuid_file: PathBuf,

    /// Absent only with --print-capabilities.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The memory device every subcommand works on.
#[derive(Debug, Args)]
pub struct DeviceArg {
    /// The device: /dev/daxX.Y, or a regular/tmpfs/hugetlbfs file.
    #[arg(short = 'D', long = "device", env = "VHOST_FAMFS_DEVICE")]
    pub device: PathBuf,
}

/// How `serve` runs once its device and sockets are open: confined and
/// watched.
#[derive(Debug, Args, Clone)]
pub struct RuntimeArgs {
    /// Run as this user (name or uid) once the device and sockets are
    /// open; the sockets are handed to it.
    #[arg(long, value_name = "NAME|UID")]
    pub user: Option<String>,
    /// Run as this group (name or gid); default: --user's primary group.
    #[arg(long, value_name = "NAME|GID")]
    pub group: Option<String>,
    /// System calls outside the daemon's list: kill the daemon (SIGSYS),
    /// log them and go on, or no filter at all (debugging).
    #[arg(long, default_value = "kill", value_name = "kill|log|none")]
    pub seccomp: vhost_famfs::seccomp::SeccompMode,
    /// Answer `vhost-famfs status` on this Unix socket.
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
}

/// Owner and permissions for new files and directories.
#[derive(Debug, Args, Clone, Copy)]
pub struct OwnerArgs {
    /// Permission bits, in octal (defaults: creat 0644 minus the umask,
    /// mkdir 0755, cp the source's).
    #[arg(short, long, value_parser = parse_mode)]
    pub mode: Option<u32>,
    /// Owner uid (default: yours).
    #[arg(short, long)]
    pub uid: Option<u32>,
    /// Owner gid (default: yours).
    #[arg(short, long)]
    pub gid: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the device to VMs as a vhost-user device (virtio-famfs or virtio-fs).
    ///
    /// Each --socket is one VM's vhost-user socket: the VMM connects to it
    /// (QEMU: `-chardev socket,path=SOCK` and `-device
    /// vhost-user-test-device-pci,chardev=...`, see vmm-config/). The guest
    /// mounts it with `mount -t famfs TAG /mnt`. Roles per socket: master
    /// (may create files; only on the master host), client (reads metadata,
    /// reads and writes existing files), ro (read-only). Without role= a
    /// socket gets master on the master host and client elsewhere.
    ///
    /// The single-socket options of other vhost-user backends work too:
    /// --socket-path PATH, or --fd N for a listening socket a service
    /// manager passes (systemd socket activation), with the role, tag and
    /// guest policy in --socket-options.
    ///
    /// After a VMM disconnects, the socket accepts the next connection.
    /// SIGINT or SIGTERM stops the daemon and removes the sockets it
    /// created.
    ///
    /// Once the device and sockets are open the daemon can drop to
    /// --user/--group, and it installs a seccomp filter (--seccomp);
    /// --control-socket serves `vhost-famfs status`.
    #[command(group(
        clap::ArgGroup::new("listen").required(true).multiple(true)
            .args(["sockets", "socket_path", "fd"])
    ))]
    Serve {
        #[command(flatten)]
        device: DeviceArg,
        /// PATH[,role=master|client|ro][,tag=TAG][,suid=on]
        /// [,uid-map=GUEST:HOST:COUNT][,gid-map=GUEST:HOST:COUNT][,squash=UID:GID];
        /// repeat for more VMs. TAG is what the guest mounts (1-35 bytes,
        /// default "famfs"). Guest-created set-id bits are cleared unless
        /// suid=on; uid-map/gid-map translate owners, squash replaces them
        /// (see docs/user-guide.md). [,proto=virtio-fs][,cache=never|auto|always]
        /// makes the socket a virtio-fs device for stock guests
        /// (`mount -t virtiofs TAG /mnt`, QEMU vhost-user-fs-pci,
        /// cloud-hypervisor --fs) instead of virtio-famfs; add
        /// dax-window=SIZE (a power of two, e.g. 1G) for a DAX window on
        /// QEMU 11.1's vhost-user-test-device-pci,virtio-id=26
        /// (`mount -t virtiofs TAG /mnt -o dax=always`).
        /// [,readdirplus=off][,entry-fmap=off] withhold listings with
        /// attributes and inline extent maps from virtio-famfs guests.
        #[arg(short, long = "socket", value_name = "SPEC")]
        sockets: Vec<vhost_famfs::daemon::SocketSpec>,
        /// One vhost-user socket at PATH (taken whole, commas included);
        /// its role, tag and policy come from --socket-options.
        #[arg(long, value_name = "PATH")]
        socket_path: Option<PathBuf>,
        /// Serve the listening UNIX socket inherited as file descriptor N
        /// (systemd socket activation: --fd 3). It is left in place on
        /// exit; its options come from --socket-options.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
        fd: Option<i32>,
        /// Options of the --socket-path or --fd socket, as after a --socket
        /// path: role=master|client|ro,tag=TAG,suid=on,uid-map=...
        #[arg(long, value_name = "OPTS")]
        socket_options: Option<String>,
        /// Group owning the sockets the daemon creates, which are then
        /// mode 0660 (default: owner only, 0600). Name or number.
        #[arg(long, value_name = "GROUP")]
        socket_group: Option<String>,
        /// Request queues per device (1-16), each served by its own thread.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        request_queues: u16,
        /// Milliseconds a CREATE or MKDIR waits for the device lock another
        /// process holds before the guest gets EAGAIN (0-10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        lock_wait_ms: u64,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Show what a running daemon's sockets have done.
    ///
    /// Reads the report of a daemon started with `serve --control-socket
    /// PATH`: per socket, whether a VMM is connected, how many connections
    /// it has had, the bytes of the device mapped into the guest, and the
    /// requests and failed requests by type (docs/user-guide.md).
    Status {
        /// The daemon's --control-socket.
        #[arg(short, long)]
        control_socket: PathBuf,
    },
    /// Format a device: superblock and an empty log.
    ///
    /// This host becomes the file system's master. A regular file is
    /// created (sparse) or extended when --size is given, which is how to
    /// make a file-backed device for tests and demos. famfs's own tools
    /// refuse devices under 4 GiB; vhost-famfs accepts anything that holds
    /// the log and one 2 MiB unit.
    Mkfs {
        #[command(flatten)]
        device: DeviceArg,
        /// Overwrite an existing famfs file system (of any version).
        #[arg(short, long)]
        force: bool,
        /// Log length: a power of two, at least 8M (15,420 entries).
        #[arg(short, long, value_parser = parse_size, default_value = "8M")]
        loglen: u64,
        /// Create or extend a regular file of this size first (e.g. 4G).
        #[arg(short, long, value_parser = parse_size)]
        size: Option<u64>,
    },
    /// Create directories.
    Mkdir {
        #[command(flatten)]
        device: DeviceArg,
        /// Create missing parents; existing directories are fine.
        #[arg(short, long)]
        parents: bool,
        #[command(flatten)]
        owner: OwnerArgs,
        /// Paths relative to the file system root, e.g. data/run1 (any
        /// bytes but NUL; see "Names" in the user guide).
        #[arg(required = true)]
        paths: Vec<OsString>,
    },
    /// Create preallocated files of a fixed size.
    ///
    /// famfs files never change size: the size given here is final. An
    /// existing file of the same size is left as it is (and refilled with
    /// --seed); a different size is an error.
    Creat {
        #[command(flatten)]
        device: DeviceArg,
        /// File size, e.g. 64M, 1G, 4096.
        #[arg(short, long, value_parser = parse_size)]
        size: u64,
        /// Fill the file with famfs's seeded test pattern (see verify);
        /// decimal or 0x-prefixed hex, e.g. 42 or 0x5eed.
        #[arg(short = 'S', long, value_parser = parse_seed)]
        seed: Option<u64>,
        /// Stripe the file over this many strips (2-16).
        #[arg(short = 'N', long, requires = "chunk")]
        strips: Option<u64>,
        /// Striping chunk size, a multiple of 2M.
        #[arg(short = 'C', long, value_parser = parse_size, requires = "strips")]
        chunk: Option<u64>,
        #[command(flatten)]
        owner: OwnerArgs,
        /// Paths relative to the file system root, e.g. data/run1 (any
        /// bytes but NUL; see "Names" in the user guide).
        #[arg(required = true)]
        paths: Vec<OsString>,
    },
    /// Copy files (and with -r directories) into the device, or with
    /// --out from the device to the host.
    ///
    /// `cp SRC DEST` copies one file to DEST (or into DEST if it is a
    /// directory). With several sources DEST must be a directory. `cp -r
    /// DIR DEST` copies DIR's contents into DEST, creating it.
    ///
    /// Into the device, restartable: a destination file that exists with
    /// the source's size is copied again in place; one with another size
    /// is an error. Out of the device (--out), sources are paths in the
    /// device ("/" is the root) and DEST is a host path; existing host
    /// files are kept unless --force, and each file appears under its
    /// name only once it is complete.
    ///
    /// Data written is written back from the CPU caches and data read is
    /// invalidated first, for memory that is not coherent between hosts.
    Cp {
        #[command(flatten)]
        device: DeviceArg,
        /// Copy directories recursively.
        #[arg(short, long)]
        recursive: bool,
        /// Copy out of the device: device paths to a host destination.
        #[arg(short = 'O', long)]
        out: bool,
        /// With --out: replace existing host files.
        #[arg(short, long, requires = "out")]
        force: bool,
        /// Report progress even when stderr is not a terminal (a bar on a
        /// terminal, else a line every second). Without it a bar appears
        /// on a terminal for copies of 64 MiB or more.
        #[arg(long)]
        progress: bool,
        #[command(flatten)]
        owner: OwnerArgs,
        /// Sources, then the destination: host paths then a device path,
        /// or with --out device paths then a host path.
        #[arg(required = true, num_args = 2..)]
        paths: Vec<PathBuf>,
    },
    /// Write files from the device to standard output.
    ///
    /// Each file's data is invalidated in the CPU caches first, so what is
    /// printed is what the device holds.
    Cat {
        #[command(flatten)]
        device: DeviceArg,
        /// Paths relative to the file system root, e.g. data/run1/out.bin.
        #[arg(required = true)]
        paths: Vec<OsString>,
    },
    /// List a directory.
    Ls {
        #[command(flatten)]
        device: DeviceArg,
        /// Long listing: mode, owner, size, inode.
        #[arg(short, long)]
        long: bool,
        /// List subdirectories too, each under a "path:" heading.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Directory (default: the root).
        #[arg(default_value = "")]
        path: OsString,
    },
    /// Show a file's or directory's attributes.
    Stat {
        #[command(flatten)]
        device: DeviceArg,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: OsString,
    },
    /// Print a file's extent map (the format famfs getmap prints).
    Getmap {
        #[command(flatten)]
        device: DeviceArg,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: OsString,
    },
    /// Print every log entry: index, type, path, mode, owner, extents.
    ///
    /// The log is famfs's record of every file and directory ever
    /// created; this shows it entry by entry, damaged entries included
    /// (exit status 1 if there are any). --json prints one JSON document
    /// for programs (see docs/user-guide.md for its fields).
    Logplay {
        #[command(flatten)]
        device: DeviceArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write back and invalidate the CPU cache lines of files.
    ///
    /// For memory that is not cache coherent between hosts: run it after
    /// writing a file through this host's caches (a guest, an mmap) so
    /// other hosts see the data, or before reading what another host
    /// wrote. A directory covers every file below it; with no path, the
    /// whole file system (superblock, log and every file).
    Flush {
        #[command(flatten)]
        device: DeviceArg,
        /// Paths relative to the file system root.
        paths: Vec<OsString>,
    },
    /// Check the file system and report space and log usage.
    ///
    /// Exit status as fsck(8): 0 clean, 4 errors found, 8 the device could
    /// not be checked, 16 usage error. A log header torn by a crash (an
    /// interrupted append) is a warning; --repair rewrites it.
    Fsck {
        #[command(flatten)]
        device: DeviceArg,
        /// Repair what can be repaired without losing anything (a torn
        /// log header), then check.
        #[arg(long)]
        repair: bool,
    },
    /// Check that a file holds the seeded test pattern.
    Verify {
        #[command(flatten)]
        device: DeviceArg,
        /// The seed the file was filled with (decimal or 0x-prefixed hex).
        #[arg(short = 'S', long, value_parser = parse_seed)]
        seed: u64,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: OsString,
    },
}

/// Parses "4096", "64K", "2M", "1G", "1T" (binary units; "MiB" and "MB"
/// mean the same).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a log level name (case-insensitive).
pub fn parse_log_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s:?}: expected off, error, warn, info, debug or trace"))
}

/// Parses a pattern seed: decimal ("24301") or hex with a 0x prefix
/// ("0x5eed"), as famfs's tools take it (they also read a leading 0 as
/// octal, which is refused here as ambiguous).
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    // from_str_radix also takes a sign; a seed has none.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("{s:?} is not a seed (decimal, or hex as 0x5eed)"));
    }
    // famfs's tools read "010" as octal: refuse rather than disagree.
    if radix == 10 && digits.len() > 1 && digits.starts_with('0') {
        return Err(format!(
            "{s:?}: a seed with a leading 0 is ambiguous (famfs reads it as octal); write it without"
        ));
    }
    u64::from_str_radix(digits, radix).map_err(|_| format!("{s:?}: seed above 64 bits"))
}

/// Parses an octal mode such as 644 or 0o755.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0o");
    let m = u32::from_str_radix(t, 8).map_err(|_| format!("{s:?} is not an octal mode"))?;
    if m > 0o7777 {
        return Err(format!("{s:?}: mode bits above 07777"));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_modes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("0o1777"), Ok(0o1777));
        assert!(parse_mode("9").is_err());
        assert!(parse_mode("77777").is_err());
        assert_eq!(parse_seed("0x5eed"), Ok(0x5eed));
        assert_eq!(parse_seed("0X5EED"), Ok(0x5eed));
        assert_eq!(parse_seed("24301"), Ok(24301));
        assert_eq!(parse_seed("0"), Ok(0));
        assert!(parse_seed("010").unwrap_err().contains("octal"));
        assert!(parse_seed("0x10000000000000000")
            .unwrap_err()
            .contains("64 bits"));
        for bad in ["", "0x", "5eed", "-1", "+1", "0x+1", "1.5", "0x1_0"] {
            assert!(parse_seed(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
