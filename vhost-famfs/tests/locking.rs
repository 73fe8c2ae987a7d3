// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The device lock and the request path, through the real daemon and the
//! vhost-user frontend (tests/common plays the VMM): a process stalled
//! while holding the device lock delays no request (creates get EAGAIN
//! after the bounded wait), and a device reformatted under a serving
//! daemon is refused with EIO instead of being served from a stale tree.

// `pub`: the items this test does not use are not dead code (common/mod.rs).
pub mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vhost_famfs::daemon::SocketSpec;
use vhost_famfs::device::{Device, LockWait};
use vhost_famfs::meta::{Famfs, FileSpec, MkfsOptions, ROOT_INO};
use vhost_famfs::server::Access;

const DEV_SIZE: u64 = 64 << 20;

fn mkfs_opts(force: bool) -> MkfsOptions {
    MkfsOptions {
        system_uuid: Some(MASTER),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        force,
        ..Default::default()
    }
}

/// A formatted device holding file "a" and directory "d", served to one
/// VMM whose driver has sent INIT.
fn serving(dir: &Path) -> (PathBuf, Arc<Famfs>, Running, Vm) {
    let dev = dir.join("famfs.dev");
    Device::create_file(&dev, DEV_SIZE).unwrap();
    Famfs::mkfs(&Device::open(&dev, true).unwrap(), &mkfs_opts(false)).unwrap();
    let fs = Famfs::open(&dev, &open_opts(true)).unwrap();
    let spec = FileSpec {
        size: 4096,
        mode: 0o644,
        uid: 0,
        gid: 0,
        striping: None,
    };
    fs.create(&rp("a"), &spec).unwrap();
    fs.mkdir(&rp("d"), 0o755, 0, 0).unwrap();
    let fs = Arc::new(fs);
    let sock = SocketSpec {
        access: Some(Access::Master),
        ..SocketSpec::at(dir.join("famfs.sock"))
    };
    let (srv, mut vm) = serve(&fs, &sock, Opts::full());
    vm.init().unwrap();
    // The window mapping the daemon asks for after INIT.
    vm.backend_msg();
    (dev, fs, srv, vm)
}

/// Another process holding the device lock: flock(1) on the device (-o:
/// the lock stays with flock itself, not with the command it runs).
fn lock_holder(dev: &Path) -> Child {
    let child = Command::new("flock")
        .args(["-x", "-o"])
        .arg(dev)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock(1) from util-linux");
    let probe = Device::open(dev, false).unwrap();
    let t = Instant::now();
    while probe.lock(LockWait::Bounded(Duration::ZERO)).is_ok() {
        assert!(t.elapsed() < TIMEOUT, "flock(1) never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn stopped_lock_holder_gets_eagain_for_creates_and_answers_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, fs, srv, mut vm) = serving(dir.path());
    let mut holder = lock_holder(&dev);
    // Stopped while holding it, like an appender suspended mid-append.
    kill(Pid::from_raw(holder.id() as i32), Signal::SIGSTOP).unwrap();

    for i in 0..5 {
        let t = Instant::now();
        assert_eq!(
            vm.create(ROOT_INO, &format!("new{i}"), 4096).unwrap_err(),
            libc::EAGAIN
        );
        // The bounded wait (100 ms by default), not a hang: the holder
        // never lets go, so only the bound ends the wait. The upper limit
        // is generous for a loaded CI machine; it tells a bound from a hang.
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(90) && waited < TIMEOUT,
            "{waited:?}"
        );
        assert_eq!(vm.mkdir(ROOT_INO, "newdir").unwrap_err(), libc::EAGAIN);
        // Everything that does not append is answered at once.
        let t = Instant::now();
        let a = vm.lookup(ROOT_INO, "a").unwrap();
        vm.getattr(a.nodeid.to_native()).unwrap();
        assert_eq!(vm.lookup(ROOT_INO, "new0").unwrap_err(), libc::ENOENT);
        let (_, entries) = vm.readdir(ROOT_INO, 0, 4096).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(vm.statfs().unwrap().files.to_native(), 1);
        // None of these waits for the lock (which is never released).
        assert!(t.elapsed() < TIMEOUT, "{:?}", t.elapsed());
    }
    // Nothing was half done: the log holds only what the fixture made.
    assert_eq!(fs.applied(), 2);

    kill(Pid::from_raw(holder.id() as i32), Signal::SIGKILL).unwrap();
    holder.wait().unwrap();
    let n = vm.create(ROOT_INO, "after", 4096).unwrap();
    assert_eq!(vm.lookup(ROOT_INO, "after").unwrap().nodeid, n.nodeid);
    stop(srv, vm);
}

#[test]
fn reformat_under_a_serving_daemon_is_refused_with_eio() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, fs, srv, mut vm) = serving(dir.path());
    let a = vm.lookup(ROOT_INO, "a").unwrap();
    Famfs::mkfs(&Device::open(&dev, true).unwrap(), &mkfs_opts(true)).unwrap();
    // The daemon's watcher reads the device every 100 ms.
    let t = Instant::now();
    while vm.getattr(ROOT_INO).is_ok() {
        assert!(t.elapsed() < TIMEOUT, "the reformat went unnoticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(vm.getattr(ROOT_INO).unwrap_err(), libc::EIO);
    assert_eq!(vm.getattr(a.nodeid.to_native()).unwrap_err(), libc::EIO);
    assert_eq!(vm.lookup(ROOT_INO, "a").unwrap_err(), libc::EIO);
    assert_eq!(vm.create(ROOT_INO, "x", 1).unwrap_err(), libc::EIO);
    assert_eq!(vm.statfs().unwrap_err(), libc::EIO);
    // Which check sees it first depends on where mkfs was when the
    // watcher looked (superblock cleared, log reset, or the new uuid).
    let why = fs
        .stale()
        .expect("the file system is marked stale")
        .to_string();
    assert!(why.starts_with("stale file system: "), "{why}");
    // Nothing was appended to the new file system.
    let fresh = Famfs::open(&dev, &open_opts(false)).unwrap();
    assert_eq!(fresh.applied(), 0);
    stop(srv, vm);
}

/// CLI commands wait for the lock instead of failing, and say so.
#[test]
fn cli_commands_wait_for_the_lock_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("famfs.dev");
    Device::create_file(&dev, DEV_SIZE).unwrap();
    Famfs::mkfs(&Device::open(&dev, true).unwrap(), &mkfs_opts(false)).unwrap();
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vhost-famfs"))
            .env("VHOST_FAMFS_DEVICE", &dev)
            .env("VHOST_FAMFS_SYSTEM_UUID", MASTER.to_string())
            .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid")
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let before = |what: &str| match what {
        "mkdir" => 0,
        _ => 1,
    };
    for args in [&["mkdir", "x"][..], &["mkfs", "--force"]] {
        let mut holder = lock_holder(&dev);
        let child = cli(args);
        std::thread::sleep(Duration::from_millis(500));
        // Still waiting: nothing changed yet.
        let fs = Famfs::open(&dev, &open_opts(false)).unwrap();
        assert_eq!(fs.applied(), before(args[0]), "{args:?}");
        holder.kill().unwrap();
        holder.wait().unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains("waiting for the device lock"),
            "{args:?}: {err}"
        );
    }
    // mkfs ran last: an empty file system.
    assert_eq!(Famfs::open(&dev, &open_opts(false)).unwrap().applied(), 0);
}
