// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The `serve` binary confined (`--user`, `--seccomp=kill`) and watched
//! (`--control-socket`, `vhost-famfs status`): this test plays the VMM
//! (tests/common) against the real daemon process, then reads the
//! daemon's counters back with the `status` command.

// `pub`: the items this test does not use are not dead code (common/mod.rs).
pub mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Instant;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vhost_famfs::meta::ROOT_INO;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vhost-famfs"));
    c.env("VHOST_FAMFS_SYSTEM_UUID", MASTER.to_string())
        .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid");
    c
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A formatted device holding file `f`, in a directory anyone may enter
/// (the daemon removes its sockets there after dropping root).
fn device(dir: &Path) -> PathBuf {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let dev = dir.join("dev");
    ok(bin()
        .arg("mkfs")
        .arg("-D")
        .arg(&dev)
        .args(["--size", "64M"])
        .output()
        .unwrap());
    ok(bin()
        .args(["creat", "-s", "2M", "-D"])
        .arg(&dev)
        .arg("f")
        .output()
        .unwrap());
    // Only root may open it: the daemon must not need to open it again.
    std::fs::set_permissions(&dev, std::fs::Permissions::from_mode(0o600)).unwrap();
    dev
}

fn wait_for(p: &Path) {
    let t = Instant::now();
    while !p.exists() {
        assert!(t.elapsed() < TIMEOUT, "{} never appeared", p.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn status(ctl: &Path) -> String {
    ok(bin()
        .arg("status")
        .arg("--control-socket")
        .arg(ctl)
        .output()
        .unwrap())
}

/// The value of `key` in a status report ("  key value").
fn field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{report}"))
}

/// `op=N` of a `requests`/`errors` line.
fn count(report: &str, line: &str, op: &str) -> u64 {
    field(report, line)
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{op}=")))
        .unwrap_or_else(|| panic!("no {op} in {line} of:\n{report}"))
        .parse()
        .unwrap()
}

/// A line of /proc/PID/status, e.g. "Uid" or "Seccomp".
fn proc_status(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap()
        .trim()
        .to_string()
}

fn stop(mut daemon: Child) {
    kill(Pid::from_raw(daemon.id() as i32), Signal::SIGTERM).unwrap();
    let t = Instant::now();
    loop {
        if let Some(st) = daemon.try_wait().unwrap() {
            assert!(st.success(), "daemon ended with {st:?}");
            return;
        }
        assert!(t.elapsed() < TIMEOUT, "daemon did not stop on SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn confined_daemon_serves_and_reports_its_requests() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: dropping privileges needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = device(dir.path());
    let sock = dir.path().join("vm.sock");
    let ctl = dir.path().join("ctl.sock");
    let daemon = bin()
        .args(["-v", "serve", "-D"])
        .arg(&dev)
        .arg("-s")
        .arg(format!("{},tag=t1", sock.display()))
        .arg("--control-socket")
        .arg(&ctl)
        .args(["--user", "nobody", "--seccomp", "kill"])
        // Many threads: glibc's malloc then probes the CPU count, opening
        // /sys files the filter must refuse without killing.
        .args(["--request-queues", "16"])
        .spawn()
        .unwrap();
    wait_for(&sock);
    wait_for(&ctl);

    let before = status(&ctl);
    assert_eq!(field(&before, "socket"), sock.to_str().unwrap());
    assert_eq!(field(&before, "tag"), "t1");
    assert_eq!(field(&before, "role"), "master");
    assert_eq!(field(&before, "connected"), "no");
    assert_eq!(count(&before, "requests", "init"), 0);

    let mut vm = Vm::connect(&sock, Opts::full());
    vm.init().unwrap();
    let BackendMsg::Map(map, _) = vm.backend_msg() else {
        panic!("no SHMEM_MAP after INIT");
    };
    vm.lookup(ROOT_INO, "f").unwrap();
    assert_eq!(vm.lookup(ROOT_INO, "missing"), Err(libc::ENOENT));
    // A creation takes the device lock: no reopening of the device.
    vm.mkdir(ROOT_INO, "d").unwrap();
    assert_eq!(vm.mkdir(ROOT_INO, "d").map(|_| ()), Err(libc::EEXIST));
    vm.getattr(ROOT_INO).unwrap();
    // Unknown opcode.
    assert_eq!(vm.call(99, ROOT_INO, &[], 64), Err(libc::ENOSYS));

    let pid = daemon.id();
    assert_eq!(proc_status(pid, "Seccomp"), "2", "filter mode");
    assert!(
        proc_status(pid, "Uid")
            .split_whitespace()
            .all(|u| u == "65534"),
        "still root: {}",
        proc_status(pid, "Uid")
    );
    assert_eq!(proc_status(pid, "CapEff"), "0000000000000000");

    let during = status(&ctl);
    assert_eq!(field(&during, "connected"), "yes");
    assert_eq!(field(&during, "connections"), "1");
    let mapped = { map.len };
    assert_eq!(field(&during, "mapped_bytes"), mapped.to_string());
    for (op, n, failed) in [
        ("init", 1, 0),
        ("lookup", 2, 1),
        ("mkdir", 2, 1),
        ("getattr", 1, 0),
        ("other", 1, 1),
        ("create", 0, 0),
        ("readdir", 0, 0),
    ] {
        assert_eq!(count(&during, "requests", op), n, "{op}:\n{during}");
        assert_eq!(count(&during, "errors", op), failed, "{op}:\n{during}");
    }

    drop(vm);
    let t = Instant::now();
    while field(&status(&ctl), "connected") != "no" {
        assert!(t.elapsed() < TIMEOUT, "still connected after the VMM left");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let after = status(&ctl);
    assert_eq!(field(&after, "mapped_bytes"), "0");
    assert_eq!(count(&after, "requests", "lookup"), 2, "counts survive");

    stop(daemon);
    assert!(!sock.exists() && !ctl.exists(), "sockets left behind");
    // The directory the guest created is in the log.
    let ls = ok(bin().args(["ls", "-D"]).arg(&dev).output().unwrap());
    assert!(ls.lines().any(|l| l == "d" || l == "d/"), "{ls}");
}

#[test]
fn status_without_a_daemon_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = dir.path().join("none.sock");
    let o = bin()
        .arg("status")
        .arg("--control-socket")
        .arg(&ctl)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(ctl.to_str().unwrap()), "{err}");
}

#[test]
fn bad_sandbox_options_fail_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let dev = device(dir.path());
    let sock = dir.path().join("vm.sock");
    for (args, says) in [
        (&["--user", "no-such-user-vhost-famfs"][..], "no such user"),
        (
            &["--group", "no-such-group-vhost-famfs"][..],
            "no such group",
        ),
        (&["--seccomp", "maybe"][..], "expected none, kill or log"),
    ] {
        let o = bin()
            .args(["serve", "-D"])
            .arg(&dev)
            .arg("-s")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{args:?}: {err}");
        assert!(!sock.exists());
    }
}
