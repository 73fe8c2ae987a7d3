// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Subtree exports (`subtree=/DIR`) on the virtio-famfs front door,
//! through real vhost-user and real virtqueues (the test VMM in
//! tests/common): each guest's root is its directory, and no node id from
//! elsewhere in the file system, however forged, is served.

// `pub`: the items this test does not use are not dead code (common/mod.rs).
pub mod common;

use std::collections::BTreeSet;

use common::*;
use vhost_famfs::daemon::{Daemon, DaemonError, SocketSpec};
use vhost_famfs::meta::namespace::{S_IFDIR, S_IFMT};
use vhost_famfs::meta::{FileSpec, ROOT_INO};

const DEV_SIZE: u64 = 64 << 20;

/// A device holding two tenants' trees and a file of the host's own:
/// a/f1, a/sub/g, b/secret, b/d/, top.
fn fixture() -> Fixture {
    Fixture::build(DEV_SIZE, |fs| {
        for d in ["a", "a/sub", "b", "b/d"] {
            fs.mkdir(&rp(d), 0o755, 0, 0).unwrap();
        }
        for (f, size) in [
            ("a/f1", 8192),
            ("a/sub/g", 100),
            ("b/secret", 4096),
            ("top", 1),
        ] {
            let spec = FileSpec {
                uid: 0,
                gid: 0,
                ..file_spec(size)
            };
            fs.create(&rp(f), &spec).unwrap();
        }
    })
}

/// A master socket of `fx`; `opts` are more options, each after a comma.
fn sock(fx: &Fixture, name: &str, opts: &str) -> SocketSpec {
    fx.socket(name, &format!("role=master{opts}"))
}

fn allocated(fx: &Fixture, path: &str) -> u64 {
    fx.stat(path).allocated()
}

fn connect(s: &SocketSpec) -> Vm {
    let mut vm = Vm::connect(&s.path, Opts::full());
    let init = vm.init().unwrap();
    assert_eq!(init.root_nodeid.to_native(), ROOT_INO);
    vm
}

fn names(vm: &mut Vm, dir: u64) -> BTreeSet<Vec<u8>> {
    read_all(vm, dir, 4096)
        .0
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<Vec<u8>> {
    names.iter().map(|n| n.as_bytes().to_vec()).collect()
}

/// Every request that names a node refuses one outside the export with
/// ESTALE, whatever the node is; the root node id is the exported
/// directory, `..` does not climb out of it, statfs counts the export's
/// own files, and creations land under it on the host.
#[test]
fn a_subtree_export_is_the_guests_whole_world() {
    let fx = fixture();
    let socks = [
        sock(&fx, "a.sock", ",subtree=/a"),
        sock(&fx, "b.sock", ",subtree=/b/"),
        sock(&fx, "all.sock", ""),
    ];
    let srv = Running::start(&fx.fs, &socks);
    let mut a = connect(&socks[0]);
    let mut b = connect(&socks[1]);
    let mut all = connect(&socks[2]);

    // The root is the exported directory, under the root node id.
    let root = a.getattr(ROOT_INO).unwrap();
    assert_eq!(root.nodeid.to_native(), ROOT_INO);
    assert_eq!(root.mode.to_native() & S_IFMT, S_IFDIR);
    assert_eq!(root.nlink.to_native(), 3, "a/ has one subdirectory");
    assert_eq!(names(&mut a, ROOT_INO), set(&["f1", "sub"]));
    assert_eq!(names(&mut b, ROOT_INO), set(&["secret", "d"]));
    assert_eq!(names(&mut all, ROOT_INO), set(&["a", "b", "top"]));
    let sub = a.lookup(ROOT_INO, "sub").unwrap().nodeid.to_native();
    assert_eq!(sub, fx.ino("a/sub"));
    assert_eq!(names(&mut a, sub), set(&["g"]));
    let f1 = a.lookup(ROOT_INO, "f1").unwrap().nodeid.to_native();
    let (e, out, exts) = a.get_fmap(f1, 4096);
    assert_eq!(e, 0);
    assert_eq!(out.file_size.to_native(), 8192);
    assert_eq!(exts[0].0, fx.fs.stat("a/f1").unwrap().extents()[0].offset);

    // `..` is not a name; the parent's and the neighbour's names are not
    // found from the export's root.
    assert_eq!(a.lookup(ROOT_INO, ".."), Err(libc::EINVAL));
    assert_eq!(a.lookup(ROOT_INO, "."), Err(libc::EINVAL));
    for n in ["a", "b", "top", ".meta"] {
        assert_eq!(a.lookup(ROOT_INO, n), Err(libc::ENOENT), "{n}");
    }
    // No entry of any listing names a node outside.
    let inside: BTreeSet<u64> = [fx.ino("a/f1"), fx.ino("a/sub"), fx.ino("a/sub/g")].into();
    for dir in [ROOT_INO, sub] {
        for e in read_all(&mut a, dir, 4096).0 {
            assert!(inside.contains(&e.nodeid), "{e:?}");
        }
    }

    // Forged node ids: b's tree, the host's file, the file system root
    // under its own id would be, and a's own directory under its famfs id
    // (the guest knows it only as the root node id).
    let outside = [
        fx.ino("b"),
        fx.ino("b/secret"),
        fx.ino("b/d"),
        fx.ino("top"),
        fx.ino("a"),
    ];
    for id in outside {
        assert_eq!(a.getattr(id), Err(libc::ESTALE), "GETATTR {id}");
        assert_eq!(
            a.readdir(id, 0, 4096).err(),
            Some(libc::ESTALE),
            "READDIR {id}"
        );
        assert_eq!(a.get_fmap(id, 4096).0, libc::ESTALE, "GET_FMAP {id}");
        assert_eq!(a.lookup(id, "secret"), Err(libc::ESTALE), "LOOKUP {id}");
        assert_eq!(a.create(id, "x", 4096), Err(libc::ESTALE), "CREATE {id}");
        assert_eq!(a.mkdir(id, "x"), Err(libc::ESTALE), "MKDIR {id}");
    }
    // Nothing was created anywhere by those.
    assert!(fx.fs.stat("b/x").is_err() && fx.fs.stat("x").is_err());
    // And the other way round: a's nodes are not b's.
    assert_eq!(b.getattr(f1), Err(libc::ESTALE));
    assert_eq!(b.get_fmap(f1, 4096).0, libc::ESTALE);

    // statfs: the export's own files, directories (itself included) and
    // bytes; free space and log slots are the device's.
    let whole = all.statfs().unwrap();
    let s = a.statfs().unwrap();
    assert_eq!(s.files.to_native(), 2);
    assert_eq!(s.dirs.to_native(), 2);
    let used = allocated(&fx, "a/f1") + allocated(&fx, "a/sub/g");
    assert_eq!(s.free_bytes.to_native(), whole.free_bytes.to_native());
    assert_eq!(
        s.total_bytes.to_native(),
        whole.free_bytes.to_native() + used
    );
    assert_eq!(s.log_slots.to_native(), whole.log_slots.to_native());
    assert_eq!(s.log_used.to_native(), whole.log_used.to_native());
    assert_eq!(
        whole.total_bytes.to_native(),
        DEV_SIZE,
        "unrestricted socket unchanged"
    );
    assert_eq!(whole.files.to_native(), 4);

    // Creations land under the exported directory on the host.
    let n = a.create(ROOT_INO, "new", 4096).unwrap();
    assert_eq!(n.nodeid.to_native(), fx.ino("a/new"));
    let d = a.mkdir(ROOT_INO, "nd").unwrap().nodeid.to_native();
    assert_eq!(d, fx.ino("a/nd"));
    let deep = a.create(d, "deep", 10).unwrap().nodeid.to_native();
    assert_eq!(deep, fx.ino("a/nd/deep"));
    assert!(fx.fs.stat("new").is_err() && fx.fs.stat("nd").is_err());
    assert_eq!(a.statfs().unwrap().files.to_native(), 4);
    // ... and stay out of the other tenant's reach.
    for id in [n.nodeid.to_native(), d, deep] {
        assert_eq!(b.getattr(id), Err(libc::ESTALE));
    }
    // The unrestricted socket sees everything under its usual ids.
    assert_eq!(
        all.getattr(fx.ino("b/secret")).unwrap().size.to_native(),
        4096
    );
    assert_eq!(
        all.lookup(ROOT_INO, "a").unwrap().nodeid.to_native(),
        fx.ino("a")
    );
    assert_eq!(
        names(&mut all, fx.ino("a")),
        set(&["f1", "sub", "new", "nd"])
    );

    drop((a, b, all));
    srv.stop();
}

/// A subtree that does not exist, or is a file, stops the daemon at start
/// with an error naming the socket and the path; `/` is no restriction.
#[test]
fn a_bad_subtree_is_refused_at_start() {
    let fx = fixture();
    for (opt, want) in [
        (",subtree=/nope", "no such directory"),
        (",subtree=/top", "not a directory"),
        (",subtree=/a/../b", "subtree"),
        (",subtree=/.meta", "reserved"),
    ] {
        let s = sock(&fx, "x.sock", opt);
        let e = Daemon::new(fx.fs.clone(), &[s], 1).err().expect(opt);
        assert!(matches!(e, DaemonError::Export { .. }), "{opt}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(want) && msg.contains("x.sock"), "{opt}: {msg}");
    }
    let s = sock(&fx, "root.sock", ",subtree=/");
    let srv = Running::start(&fx.fs, std::slice::from_ref(&s));
    let mut vm = connect(&s);
    assert_eq!(names(&mut vm, ROOT_INO), set(&["a", "b", "top"]));
    drop(vm);
    srv.stop();
}
