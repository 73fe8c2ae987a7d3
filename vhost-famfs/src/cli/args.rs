// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Command-line arguments (clap).

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
#[command(name = "vhost-famfs", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

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

    #[command(subcommand)]
    pub command: Command,
}

/// The memory device every subcommand works on.
#[derive(Debug, Args)]
pub struct DeviceArg {
    /// The device: /dev/daxX.Y, or a regular/tmpfs/hugetlbfs file.
    #[arg(short = 'D', long = "device", env = "VHOST_FAMFS_DEVICE")]
    pub device: PathBuf,
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
    /// After a VMM disconnects, the socket accepts the next connection.
    /// SIGINT or SIGTERM stops the daemon and removes its sockets.
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
        #[arg(short, long = "socket", required = true)]
        sockets: Vec<vhost_famfs::daemon::SocketSpec>,
        /// Request queues per device (1-16), each served by its own thread.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        request_queues: u16,
        /// Milliseconds a CREATE or MKDIR waits for the device lock another
        /// process holds before the guest gets EAGAIN (0-10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        lock_wait_ms: u64,
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
        /// Paths relative to the file system root, e.g. data/run1.
        #[arg(required = true)]
        paths: Vec<String>,
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
        /// Fill the file with famfs's seeded test pattern (see verify).
        #[arg(short = 'S', long)]
        seed: Option<u64>,
        /// Stripe the file over this many strips (2-16).
        #[arg(short = 'N', long, requires = "chunk")]
        strips: Option<u64>,
        /// Striping chunk size, a multiple of 2M.
        #[arg(short = 'C', long, value_parser = parse_size, requires = "strips")]
        chunk: Option<u64>,
        #[command(flatten)]
        owner: OwnerArgs,
        /// Paths relative to the file system root, e.g. data/run1.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Copy files (and with -r directories) from the host into the device.
    ///
    /// `cp SRC DEST` copies one file to DEST (or into DEST if it is a
    /// directory). With several sources DEST must be a directory. `cp -r
    /// DIR DEST` copies DIR's contents into DEST, creating it.
    /// Restartable: a destination file that exists with the source's size
    /// is copied again in place; one with another size is an error.
    Cp {
        #[command(flatten)]
        device: DeviceArg,
        /// Copy directories recursively.
        #[arg(short, long)]
        recursive: bool,
        #[command(flatten)]
        owner: OwnerArgs,
        /// Host files or directories, then the destination in the device.
        #[arg(required = true, num_args = 2..)]
        paths: Vec<PathBuf>,
    },
    /// List a directory.
    Ls {
        #[command(flatten)]
        device: DeviceArg,
        /// Long listing: mode, owner, size, inode.
        #[arg(short, long)]
        long: bool,
        /// Directory (default: the root).
        #[arg(default_value = "")]
        path: String,
    },
    /// Show a file's or directory's attributes.
    Stat {
        #[command(flatten)]
        device: DeviceArg,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: String,
    },
    /// Print a file's extent map (the format famfs getmap prints).
    Getmap {
        #[command(flatten)]
        device: DeviceArg,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: String,
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
        /// The seed the file was filled with.
        #[arg(short = 'S', long)]
        seed: u64,
        /// Path relative to the file system root, e.g. data/run1/out.bin.
        path: String,
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
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
