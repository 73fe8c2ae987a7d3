// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Is the device mounted by famfs itself on this host?
//!
//! famfs's own tools append to the same log but serialize with a flock on
//! their `.meta/.log` file, a different inode from the device we lock: the
//! two cannot exclude each other. So a device that famfs has mounted here
//! is not served or appended to. famfs finds its mounts the same way: a
//! `/proc/mounts` line whose source is the device (famfs's FUSE daemon
//! sets fsname= to it) and that is a famfs mount: file system type
//! `famfs` (kernel), or FUSE (`fuse.famfs`, or plain `fuse` when no
//! subtype is shown).

use std::path::{Path, PathBuf};

/// Where the kernel lists this host's mounts.
pub const PROC_MOUNTS: &str = "/proc/mounts";

/// The mount point of a famfs mount of `dev` listed in `mounts` (the text
/// of /proc/mounts), if any.
pub fn famfs_mount_in(mounts: &str, dev: &Path) -> Option<PathBuf> {
    let dev = canonical(dev);
    mounts.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (source, target, fstype) = (f.next()?, f.next()?, f.next()?);
        let is_famfs = fstype.split('.').any(|t| t == "famfs" || t == "fuse");
        (is_famfs && canonical(Path::new(&unescape(source))) == dev)
            .then(|| PathBuf::from(unescape(target)))
    })
}

/// The mount point of a famfs mount of `dev` on this host, if any. A host
/// without /proc/mounts has none we could see.
pub fn famfs_mount_of(dev: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(PROC_MOUNTS).ok()?;
    famfs_mount_in(&text, dev)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Undoes the octal escapes (`\040` for a space) the kernel writes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
sysfs /sys sysfs rw,nosuid 0 0
/dev/dax1.0 /mnt/other\\040dir famfs rw,relatime 0 0
/dev/dax0.0 /mnt/famfs fuse.famfs rw,nosuid 0 0
/dev/pmem0 /mnt/xfs xfs rw 0 0
/dev/dax3.0 /mnt/f3 fuse rw,user_id=0 0 0
";

    #[test]
    fn finds_kernel_and_fuse_famfs_mounts_of_the_device_only() {
        assert_eq!(
            famfs_mount_in(MOUNTS, Path::new("/dev/dax0.0")),
            Some(PathBuf::from("/mnt/famfs"))
        );
        assert_eq!(
            famfs_mount_in(MOUNTS, Path::new("/dev/dax1.0")),
            Some(PathBuf::from("/mnt/other dir"))
        );
        assert_eq!(
            famfs_mount_in(MOUNTS, Path::new("/dev/dax3.0")),
            Some(PathBuf::from("/mnt/f3"))
        );
        assert_eq!(famfs_mount_in(MOUNTS, Path::new("/dev/pmem0")), None);
        assert_eq!(famfs_mount_in(MOUNTS, Path::new("/dev/dax2.0")), None);
    }

    #[test]
    fn a_symlink_to_the_device_counts() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev");
        std::fs::write(&dev, b"").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&dev, &link).unwrap();
        let mounts = format!("{} /mnt/f famfs rw 0 0\n", dev.display());
        assert!(famfs_mount_in(&mounts, &link).is_some());
    }
}
