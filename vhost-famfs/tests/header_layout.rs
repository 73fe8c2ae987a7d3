// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Proves that the Rust wire structs (src/protocol.rs) and the one C
//! definition (spec/virtio_famfs.h) agree: the header is compiled with the
//! system C compiler, and every struct size, every field offset and every
//! shared constant is compared.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use vhost_famfs::protocol as p;

/// (C struct, Rust size, [(C field, Rust offset)])
type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

macro_rules! layout {
    ($c:literal, $t:ty, { $($cf:ident => $rf:ident),* $(,)? }) => {
        ($c, size_of::<$t>(), vec![$((stringify!($cf), offset_of!($t, $rf))),*])
    };
}

fn layouts() -> Vec<Layout> {
    vec![
        layout!("virtio_famfs_config", p::Config, {
            tag => tag, num_request_queues => num_request_queues, flags => flags,
            fs_uuid => fs_uuid, magic => magic, device_size => device_size,
            alloc_unit => alloc_unit, meta_size => meta_size,
            max_extents => max_extents, version => version,
        }),
        layout!("virtio_famfs_req_hdr", p::ReqHdr, {
            opcode => opcode, len => len, unique => unique, nodeid => nodeid,
        }),
        layout!("virtio_famfs_resp_hdr", p::RespHdr, {
            len => len, error => error, unique => unique,
        }),
        layout!("virtio_famfs_init_in", p::InitIn, {
            major => major, minor => minor, flags => flags, padding => padding,
        }),
        layout!("virtio_famfs_init_out", p::InitOut, {
            major => major, minor => minor, flags => flags,
            max_readdir_bytes => max_readdir_bytes, root_nodeid => root_nodeid,
            log_generation => log_generation,
        }),
        layout!("virtio_famfs_statfs_out", p::StatfsOut, {
            total_bytes => total_bytes, free_bytes => free_bytes,
            largest_free => largest_free, files => files, dirs => dirs,
            log_slots => log_slots, log_used => log_used, bsize => bsize,
            namelen => namelen,
        }),
        layout!("virtio_famfs_lookup_in", p::LookupIn, {
            namelen => namelen, padding => padding,
        }),
        layout!("virtio_famfs_attr", p::Attr, {
            nodeid => nodeid, size => size, blocks => blocks,
            generation => generation, mode => mode, uid => uid, gid => gid,
            nlink => nlink, flags => flags, padding => padding,
        }),
        layout!("virtio_famfs_readdir_in", p::ReaddirIn, { cookie => cookie }),
        layout!("virtio_famfs_entry_out", p::EntryOut, {
            attr => attr, fmap_len => fmap_len, padding => padding,
        }),
        layout!("virtio_famfs_direntplus", p::DirentPlus, {
            attr => attr, cookie => cookie, type => type_, namelen => namelen,
            fmap_len => fmap_len, padding => padding,
        }),
        layout!("virtio_famfs_forget_in", p::ForgetIn, {
            count => count, padding => padding,
        }),
        layout!("virtio_famfs_readdir_out", p::ReaddirOut, {
            nentries => nentries, flags => flags,
        }),
        layout!("virtio_famfs_dirent", p::Dirent, {
            nodeid => nodeid, cookie => cookie, type => type_, namelen => namelen,
        }),
        layout!("virtio_famfs_fmap_out", p::FmapOut, {
            file_size => file_size, nextents => nextents, kind => kind,
        }),
        layout!("virtio_famfs_fmap_interleave", p::FmapInterleave, {
            chunk_size => chunk_size,
        }),
        layout!("virtio_famfs_extent", p::Extent, { offset => offset, len => len }),
        layout!("virtio_famfs_create_in", p::CreateIn, {
            mode => mode, uid => uid, gid => gid, flags => flags, size => size,
            namelen => namelen, padding => padding,
        }),
        layout!("virtio_famfs_mkdir_in", p::MkdirIn, {
            mode => mode, uid => uid, gid => gid, namelen => namelen,
        }),
        layout!("virtio_famfs_notify", p::Notify, {
            type => type_, padding => padding, log_generation => log_generation,
        }),
    ]
}

/// Constants both sides must agree on: (C macro, Rust value).
fn constants() -> Vec<(&'static str, u64)> {
    vec![
        ("VIRTIO_ID_FAMFS", p::VIRTIO_ID_FAMFS.into()),
        ("VIRTIO_ID_FAMFS_COMPAT", p::VIRTIO_ID_FAMFS_COMPAT.into()),
        ("VIRTIO_FAMFS_MAGIC", p::MAGIC.into()),
        ("VIRTIO_FAMFS_VERSION_MAJOR", p::VERSION_MAJOR.into()),
        ("VIRTIO_FAMFS_VERSION_MINOR", p::VERSION_MINOR.into()),
        ("VIRTIO_FAMFS_F_NOTIFY", p::F_NOTIFY),
        ("VIRTIO_FAMFS_F_INTERLEAVE", p::F_INTERLEAVE),
        ("VIRTIO_FAMFS_F_READDIRPLUS", p::F_READDIRPLUS),
        ("VIRTIO_FAMFS_F_ENTRY_FMAP", p::F_ENTRY_FMAP),
        ("VIRTIO_FAMFS_F_FORGET", p::F_FORGET),
        ("VIRTIO_FAMFS_ENTRY_FMAP_MAX", p::ENTRY_FMAP_MAX.into()),
        ("VIRTIO_FAMFS_FORGET_MAX", p::FORGET_MAX.into()),
        ("VIRTIO_FAMFS_FMAP_SIMPLE", p::FMAP_SIMPLE.into()),
        ("VIRTIO_FAMFS_FMAP_INTERLEAVED", p::FMAP_INTERLEAVED.into()),
        ("VIRTIO_FAMFS_VQ_NOTIFY", p::NOTIFY_QUEUE.into()),
        (
            "VIRTIO_FAMFS_VQ_REQUEST_BASE",
            p::FIRST_REQUEST_QUEUE.into(),
        ),
        ("VIRTIO_FAMFS_TAG_SIZE", p::TAG_LEN as u64),
        ("VIRTIO_FAMFS_NAME_MAX", p::NAME_MAX.into()),
        ("VIRTIO_FAMFS_CFG_F_READ_ONLY", p::CFG_F_READ_ONLY.into()),
        ("VIRTIO_FAMFS_CFG_F_MAY_CREATE", p::CFG_F_MAY_CREATE.into()),
        ("VIRTIO_FAMFS_CFG_F_NO_WINDOW", p::CFG_F_NO_WINDOW.into()),
        ("VIRTIO_FAMFS_OP_INIT", p::OP_INIT.into()),
        ("VIRTIO_FAMFS_OP_STATFS", p::OP_STATFS.into()),
        ("VIRTIO_FAMFS_OP_LOOKUP", p::OP_LOOKUP.into()),
        ("VIRTIO_FAMFS_OP_GETATTR", p::OP_GETATTR.into()),
        ("VIRTIO_FAMFS_OP_READDIR", p::OP_READDIR.into()),
        ("VIRTIO_FAMFS_OP_GET_FMAP", p::OP_GET_FMAP.into()),
        ("VIRTIO_FAMFS_OP_CREATE", p::OP_CREATE.into()),
        ("VIRTIO_FAMFS_OP_MKDIR", p::OP_MKDIR.into()),
        ("VIRTIO_FAMFS_OP_READDIRPLUS", p::OP_READDIRPLUS.into()),
        ("VIRTIO_FAMFS_OP_FORGET", p::OP_FORGET.into()),
        ("VIRTIO_FAMFS_ATTR_F_RDONLY", p::ATTR_F_RDONLY.into()),
        ("VIRTIO_FAMFS_READDIR_F_EOF", p::READDIR_F_EOF.into()),
        ("VIRTIO_FAMFS_DT_DIR", p::DT_DIR.into()),
        ("VIRTIO_FAMFS_DT_REG", p::DT_REG.into()),
        (
            "VIRTIO_FAMFS_NOTIFY_NAMESPACE_CHANGED",
            p::NOTIFY_NAMESPACE_CHANGED.into(),
        ),
        ("VIRTIO_FAMFS_ENOENT", libc::ENOENT as u64),
        ("VIRTIO_FAMFS_E2BIG", libc::E2BIG as u64),
        ("VIRTIO_FAMFS_EAGAIN", libc::EAGAIN as u64),
        ("VIRTIO_FAMFS_EEXIST", libc::EEXIST as u64),
        ("VIRTIO_FAMFS_ENOTDIR", libc::ENOTDIR as u64),
        ("VIRTIO_FAMFS_EISDIR", libc::EISDIR as u64),
        ("VIRTIO_FAMFS_EINVAL", libc::EINVAL as u64),
        ("VIRTIO_FAMFS_ENOSPC", libc::ENOSPC as u64),
        ("VIRTIO_FAMFS_EROFS", libc::EROFS as u64),
        ("VIRTIO_FAMFS_ENAMETOOLONG", libc::ENAMETOOLONG as u64),
        ("VIRTIO_FAMFS_ENOSYS", libc::ENOSYS as u64),
        ("VIRTIO_FAMFS_EPROTO", libc::EPROTO as u64),
        ("VIRTIO_FAMFS_ESTALE", libc::ESTALE as u64),
    ]
}

/// Compiles a program that prints the C side's numbers, runs it, and
/// returns "name -> value".
fn c_side(layouts: &[Layout], consts: &[(&str, u64)]) -> HashMap<String, u64> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let header = root.join("spec/virtio_famfs.h");
    assert!(header.exists(), "{} missing", header.display());
    let mut src = format!(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"{}\"\nint main(void) {{\n",
        header.display()
    );
    for (s, _, fields) in layouts {
        src += &format!("printf(\"{s} %zu\\n\", sizeof(struct {s}));\n");
        for (f, _) in fields {
            src += &format!("printf(\"{s}.{f} %zu\\n\", offsetof(struct {s}, {f}));\n");
        }
    }
    for (c, _) in consts {
        src += &format!("printf(\"{c} %llu\\n\", (unsigned long long)({c}));\n");
    }
    src += "return 0;\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let (c, exe) = (dir.path().join("layout.c"), dir.path().join("layout"));
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Wpadded", "-Werror", "-o"])
        .arg(&exe)
        .arg(&c)
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "the header does not compile cleanly:\n{}",
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
fn rust_structs_and_constants_match_the_c_header() {
    let layouts = layouts();
    let consts = constants();
    let c = c_side(&layouts, &consts);
    let mut mismatches = Vec::new();
    for (s, size, fields) in &layouts {
        if c[*s] != *size as u64 {
            mismatches.push(format!("sizeof {s}: C {} Rust {size}", c[*s]));
        }
        for (f, off) in fields {
            let key = format!("{s}.{f}");
            if c[&key] != *off as u64 {
                mismatches.push(format!("offsetof {key}: C {} Rust {off}", c[&key]));
            }
        }
        // Every byte is accounted for: the listed fields cover the struct.
        assert!(!fields.is_empty());
    }
    for (name, v) in &consts {
        if c[*name] != *v {
            mismatches.push(format!("{name}: C {} Rust {v}", c[*name]));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn config_fits_qemu_limit() {
    assert!(size_of::<p::Config>() <= 256);
    assert_eq!(size_of::<p::Config>(), 96);
}
