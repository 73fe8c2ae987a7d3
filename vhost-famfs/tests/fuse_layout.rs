// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Proves that the FUSE mirrors (src/fuse/abi.rs) match the system's
//! `linux/fuse.h` (Debian's linux-libc-dev): a C program compiled against
//! it prints every struct size, field offset and constant used, and each
//! is compared with the Rust side.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use vhost_famfs::fuse::abi as f;

/// (C struct, Rust size, [(C field, Rust offset)])
type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

macro_rules! layout {
    ($c:literal, $t:ty, { $($cf:ident => $rf:ident),* $(,)? }) => {
        ($c, size_of::<$t>(), vec![$((stringify!($cf), offset_of!($t, $rf))),*])
    };
}

fn layouts() -> Vec<Layout> {
    vec![
        layout!("fuse_in_header", f::InHeader, {
            len => len, opcode => opcode, unique => unique, nodeid => nodeid,
            uid => uid, gid => gid, pid => pid, total_extlen => total_extlen,
            padding => padding,
        }),
        layout!("fuse_out_header", f::OutHeader, {
            len => len, error => error, unique => unique,
        }),
        layout!("fuse_attr", f::Attr, {
            ino => ino, size => size, blocks => blocks, atime => atime,
            mtime => mtime, ctime => ctime, atimensec => atimensec,
            mtimensec => mtimensec, ctimensec => ctimensec, mode => mode,
            nlink => nlink, uid => uid, gid => gid, rdev => rdev,
            blksize => blksize, flags => flags,
        }),
        layout!("fuse_kstatfs", f::Kstatfs, {
            blocks => blocks, bfree => bfree, bavail => bavail, files => files,
            ffree => ffree, bsize => bsize, namelen => namelen, frsize => frsize,
            padding => padding, spare => spare,
        }),
        layout!("fuse_entry_out", f::EntryOut, {
            nodeid => nodeid, generation => generation, entry_valid => entry_valid,
            attr_valid => attr_valid, entry_valid_nsec => entry_valid_nsec,
            attr_valid_nsec => attr_valid_nsec, attr => attr,
        }),
        layout!("fuse_forget_in", f::ForgetIn, { nlookup => nlookup }),
        layout!("fuse_forget_one", f::ForgetOne, { nodeid => nodeid, nlookup => nlookup }),
        layout!("fuse_batch_forget_in", f::BatchForgetIn, { count => count, dummy => dummy }),
        layout!("fuse_getattr_in", f::GetattrIn, {
            getattr_flags => getattr_flags, dummy => dummy, fh => fh,
        }),
        layout!("fuse_attr_out", f::AttrOut, {
            attr_valid => attr_valid, attr_valid_nsec => attr_valid_nsec,
            dummy => dummy, attr => attr,
        }),
        layout!("fuse_mkdir_in", f::MkdirIn, { mode => mode, umask => umask }),
        layout!("fuse_setattr_in", f::SetattrIn, {
            valid => valid, padding => padding, fh => fh, size => size,
            lock_owner => lock_owner, atime => atime, mtime => mtime,
            ctime => ctime, atimensec => atimensec, mtimensec => mtimensec,
            ctimensec => ctimensec, mode => mode, unused4 => unused4,
            uid => uid, gid => gid, unused5 => unused5,
        }),
        layout!("fuse_open_in", f::OpenIn, { flags => flags, open_flags => open_flags }),
        layout!("fuse_create_in", f::CreateIn, {
            flags => flags, mode => mode, umask => umask, open_flags => open_flags,
        }),
        layout!("fuse_open_out", f::OpenOut, {
            fh => fh, open_flags => open_flags, padding => padding,
        }),
        layout!("fuse_release_in", f::ReleaseIn, {
            fh => fh, flags => flags, release_flags => release_flags,
            lock_owner => lock_owner,
        }),
        layout!("fuse_flush_in", f::FlushIn, {
            fh => fh, unused => unused, padding => padding, lock_owner => lock_owner,
        }),
        layout!("fuse_read_in", f::ReadIn, {
            fh => fh, offset => offset, size => size, read_flags => read_flags,
            lock_owner => lock_owner, flags => flags, padding => padding,
        }),
        layout!("fuse_write_in", f::WriteIn, {
            fh => fh, offset => offset, size => size, write_flags => write_flags,
            lock_owner => lock_owner, flags => flags, padding => padding,
        }),
        layout!("fuse_write_out", f::WriteOut, { size => size, padding => padding }),
        layout!("fuse_statfs_out", f::StatfsOut, { st => st }),
        layout!("fuse_fsync_in", f::FsyncIn, {
            fh => fh, fsync_flags => fsync_flags, padding => padding,
        }),
        layout!("fuse_init_in", f::InitIn, {
            major => major, minor => minor, max_readahead => max_readahead,
            flags => flags, flags2 => flags2, unused => unused,
        }),
        layout!("fuse_init_out", f::InitOut, {
            major => major, minor => minor, max_readahead => max_readahead,
            flags => flags, max_background => max_background,
            congestion_threshold => congestion_threshold, max_write => max_write,
            time_gran => time_gran, max_pages => max_pages,
            map_alignment => map_alignment, flags2 => flags2, unused => unused,
        }),
        layout!("fuse_interrupt_in", f::InterruptIn, { unique => unique }),
        layout!("fuse_dirent", f::Dirent, {
            ino => ino, off => off, namelen => namelen, type => type_,
        }),
        layout!("fuse_direntplus", f::Direntplus, {
            entry_out => entry_out, dirent => dirent,
        }),
        layout!("fuse_fallocate_in", f::FallocateIn, {
            fh => fh, offset => offset, length => length, mode => mode,
            padding => padding,
        }),
        layout!("fuse_lseek_in", f::LseekIn, {
            fh => fh, offset => offset, whence => whence, padding => padding,
        }),
        layout!("fuse_lseek_out", f::LseekOut, { offset => offset }),
        layout!("fuse_syncfs_in", f::SyncfsIn, { padding => padding }),
        layout!("fuse_setupmapping_in", f::SetupmappingIn, {
            fh => fh, foffset => foffset, len => len, flags => flags,
            moffset => moffset,
        }),
        layout!("fuse_removemapping_in", f::RemovemappingIn, { count => count }),
        layout!("fuse_removemapping_one", f::RemovemappingOne, {
            moffset => moffset, len => len,
        }),
    ]
}

fn constants() -> Vec<(&'static str, u64)> {
    vec![
        ("FUSE_KERNEL_VERSION", f::KERNEL_VERSION.into()),
        ("FUSE_KERNEL_MINOR_VERSION", f::KERNEL_MINOR_VERSION.into()),
        ("FUSE_ROOT_ID", f::ROOT_ID),
        (
            "FUSE_COMPAT_22_INIT_OUT_SIZE",
            f::COMPAT_22_INIT_OUT_SIZE as u64,
        ),
        ("FUSE_LOOKUP", f::LOOKUP.into()),
        ("FUSE_FORGET", f::FORGET.into()),
        ("FUSE_GETATTR", f::GETATTR.into()),
        ("FUSE_SETATTR", f::SETATTR.into()),
        ("FUSE_MKDIR", f::MKDIR.into()),
        ("FUSE_OPEN", f::OPEN.into()),
        ("FUSE_READ", f::READ.into()),
        ("FUSE_WRITE", f::WRITE.into()),
        ("FUSE_STATFS", f::STATFS.into()),
        ("FUSE_RELEASE", f::RELEASE.into()),
        ("FUSE_FSYNC", f::FSYNC.into()),
        ("FUSE_FLUSH", f::FLUSH.into()),
        ("FUSE_INIT", f::INIT.into()),
        ("FUSE_OPENDIR", f::OPENDIR.into()),
        ("FUSE_READDIR", f::READDIR.into()),
        ("FUSE_RELEASEDIR", f::RELEASEDIR.into()),
        ("FUSE_FSYNCDIR", f::FSYNCDIR.into()),
        ("FUSE_CREATE", f::CREATE.into()),
        ("FUSE_INTERRUPT", f::INTERRUPT.into()),
        ("FUSE_DESTROY", f::DESTROY.into()),
        ("FUSE_BATCH_FORGET", f::BATCH_FORGET.into()),
        ("FUSE_FALLOCATE", f::FALLOCATE.into()),
        ("FUSE_READDIRPLUS", f::READDIRPLUS.into()),
        ("FUSE_LSEEK", f::LSEEK.into()),
        ("FUSE_SETUPMAPPING", f::SETUPMAPPING.into()),
        ("FUSE_REMOVEMAPPING", f::REMOVEMAPPING.into()),
        ("FUSE_SYNCFS", f::SYNCFS.into()),
        ("FUSE_ASYNC_READ", f::ASYNC_READ.into()),
        ("FUSE_BIG_WRITES", f::BIG_WRITES.into()),
        ("FUSE_DO_READDIRPLUS", f::DO_READDIRPLUS.into()),
        ("FUSE_READDIRPLUS_AUTO", f::READDIRPLUS_AUTO.into()),
        ("FUSE_PARALLEL_DIROPS", f::PARALLEL_DIROPS.into()),
        ("FUSE_MAX_PAGES", f::MAX_PAGES.into()),
        ("FUSE_MAP_ALIGNMENT", f::MAP_ALIGNMENT.into()),
        ("FUSE_INIT_EXT", f::INIT_EXT.into()),
        ("FATTR_MODE", f::FATTR_MODE.into()),
        ("FATTR_UID", f::FATTR_UID.into()),
        ("FATTR_GID", f::FATTR_GID.into()),
        ("FATTR_SIZE", f::FATTR_SIZE.into()),
        ("FOPEN_DIRECT_IO", f::FOPEN_DIRECT_IO.into()),
        ("FOPEN_KEEP_CACHE", f::FOPEN_KEEP_CACHE.into()),
        ("FOPEN_CACHE_DIR", f::FOPEN_CACHE_DIR.into()),
        ("FUSE_SETUPMAPPING_FLAG_WRITE", f::SETUPMAPPING_FLAG_WRITE),
        ("FUSE_SETUPMAPPING_FLAG_READ", f::SETUPMAPPING_FLAG_READ),
        (
            "FUSE_REMOVEMAPPING_MAX_ENTRY",
            f::REMOVEMAPPING_MAX_ENTRY as u64,
        ),
    ]
}

/// Compiles a program against <linux/fuse.h>, runs it, and returns
/// "name -> value".
fn c_side(layouts: &[Layout], consts: &[(&str, u64)]) -> HashMap<String, u64> {
    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#define PAGE_SIZE 4096\n#include <linux/fuse.h>\nint main(void) {\n",
    );
    for (s, _, fields) in layouts {
        src += &format!("printf(\"{s} %zu\\n\", sizeof(struct {s}));\n");
        for (fl, _) in fields {
            src += &format!("printf(\"{s}.{fl} %zu\\n\", offsetof(struct {s}, {fl}));\n");
        }
    }
    for (c, _) in consts {
        src += &format!("printf(\"{c} %llu\\n\", (unsigned long long)({c}));\n");
    }
    src += "return 0;\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let (c, exe) = (dir.path().join("fuse.c"), dir.path().join("fuse"));
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "linux/fuse.h (package linux-libc-dev) does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn fuse_structs_and_constants_match_linux_fuse_h() {
    let layouts = layouts();
    let consts = constants();
    let c = c_side(&layouts, &consts);
    let mut mismatches = Vec::new();
    for (s, size, fields) in &layouts {
        if c[*s] != *size as u64 {
            mismatches.push(format!("sizeof {s}: C {} Rust {size}", c[*s]));
        }
        for (fl, off) in fields {
            let key = format!("{s}.{fl}");
            if c[&key] != *off as u64 {
                mismatches.push(format!("offsetof {key}: C {} Rust {off}", c[&key]));
            }
        }
    }
    for (name, v) in &consts {
        if c[*name] != *v {
            mismatches.push(format!("{name}: C {} Rust {v}", c[*name]));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn virtio_fs_config_is_tag_and_queue_count() {
    assert_eq!(size_of::<f::VirtioFsConfig>(), 40);
    assert_eq!(offset_of!(f::VirtioFsConfig, num_request_queues), 36);
}
