// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `serve`'s vhost-user backend conventions, run as the binary: the
//! single-socket `--socket-path` and inherited `--fd` (systemd socket
//! activation), `--socket-group`, the socket directory, `--print-
//! capabilities` (and the QEMU descriptor in vmm-config), `--log-level`
//! and `--syslog`. A real vhost-user frontend connects where it matters.

pub mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Opts, Vm, MASTER};
use vhost_famfs::protocol::{Config, CFG_F_READ_ONLY, TAG_LEN};

const BIN: &str = env!("CARGO_BIN_EXE_vhost-famfs");
const WAIT: Duration = Duration::from_secs(20);

fn cmd() -> Command {
    let mut c = Command::new(BIN);
    c.env("VHOST_FAMFS_SYSTEM_UUID", MASTER.to_string())
        .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid")
        .env_remove("RUST_LOG")
        .env_remove("VHOST_FAMFS_DEVICE");
    c
}

struct Fx {
    dir: tempfile::TempDir,
    dev: PathBuf,
}

fn formatted() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    let o = cmd()
        .args(["mkfs", "--size", "64M", "-D"])
        .arg(&dev)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Fx { dir, dev }
}

/// `serve -D DEV ARGS...` in the background, stderr captured.
fn serve(fx: &Fx, args: &[&str]) -> Child {
    cmd()
        .arg("serve")
        .arg("-D")
        .arg(&fx.dev)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `serve` that must fail at once; its stderr.
fn serve_fails(fx: &Fx, args: &[&str]) -> String {
    let o = cmd()
        .arg("serve")
        .arg("-D")
        .arg(&fx.dev)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8(o.stderr).unwrap()
}

fn wait_for_socket(p: &Path, child: &mut Child) {
    let t0 = Instant::now();
    while !std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) {
        if let Some(st) = child.try_wait().unwrap() {
            let mut e = String::new();
            child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            panic!("daemon exited ({st}) before binding {}: {e}", p.display());
        }
        assert!(t0.elapsed() < WAIT, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM, then the exit status must be success; returns stderr.
fn stop(mut child: Child) -> String {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < WAIT, "daemon ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut e = String::new();
    child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
    assert!(st.success(), "daemon exit {st}: {e}");
    e
}

fn tag_of(c: &Config) -> String {
    let end = c.tag.iter().position(|&b| b == 0).unwrap_or(TAG_LEN);
    String::from_utf8(c.tag[..end].to_vec()).unwrap()
}

/// A VMM's view of the socket: its tag and whether it is read-only.
fn probe(sock: &Path) -> (String, bool) {
    let mut vm = Vm::connect(sock, Opts::full());
    let c = vm.config();
    let ro = u32::from(c.flags) & CFG_F_READ_ONLY != 0;
    (tag_of(&c), ro)
}

#[test]
fn socket_path_creates_its_directory_and_takes_options() {
    let fx = formatted();
    // The user guide's layout: a directory that does not exist yet.
    let sock = fx.dir.path().join("run/vhost-famfs/vm1.sock");
    let mut d = serve(
        &fx,
        &[
            "--socket-path",
            sock.to_str().unwrap(),
            "--socket-options",
            "role=ro,tag=data",
        ],
    );
    wait_for_socket(&sock, &mut d);
    let m = std::fs::metadata(&sock).unwrap();
    assert_eq!(m.mode() & 0o777, 0o600, "owner-only by default");
    let dm = std::fs::metadata(sock.parent().unwrap()).unwrap();
    assert_eq!(dm.mode() & 0o022, 0, "directory writable by others");
    assert_eq!(probe(&sock), ("data".to_string(), true));
    stop(d);
    assert!(!sock.exists(), "bound socket left behind");
}

#[test]
fn socket_path_is_taken_whole_and_mixes_with_socket() {
    let fx = formatted();
    let a = fx.dir.path().join("a,role=ro.sock");
    let b = fx.dir.path().join("b.sock");
    let mut d = serve(
        &fx,
        &[
            "--socket-path",
            a.to_str().unwrap(),
            "-s",
            &format!("{},tag=bee", b.display()),
        ],
    );
    wait_for_socket(&a, &mut d);
    wait_for_socket(&b, &mut d);
    assert_eq!(probe(&a), ("famfs".to_string(), false));
    assert_eq!(probe(&b), ("bee".to_string(), false));
    stop(d);
    assert!(!a.exists() && !b.exists());
}

#[test]
fn socket_group_shares_the_socket_with_a_group() {
    let fx = formatted();
    let gid = nix::unistd::getegid();
    let name = nix::unistd::Group::from_gid(gid)
        .unwrap()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string());
    for group in [name, gid.to_string()] {
        let sock = fx.dir.path().join(format!("g-{group}.sock"));
        let mut d = serve(
            &fx,
            &["-s", sock.to_str().unwrap(), "--socket-group", &group],
        );
        wait_for_socket(&sock, &mut d);
        let m = std::fs::metadata(&sock).unwrap();
        assert_eq!(m.mode() & 0o777, 0o660, "group {group}");
        assert_eq!(m.gid(), gid.as_raw(), "group {group}");
        stop(d);
    }
    let e = serve_fails(
        &fx,
        &[
            "-s",
            "x.sock",
            "--socket-group",
            "no-such-group-vhost-famfs",
        ],
    );
    assert!(e.contains("no-such-group-vhost-famfs"), "{e}");
}

#[test]
fn socket_errors_are_clear_and_destroy_nothing() {
    let fx = formatted();
    // A directory that cannot be created: its parent is a file. The
    // message names the directory, once.
    let file = fx.dir.path().join("plain");
    std::fs::write(&file, b"keep").unwrap();
    let e = serve_fails(&fx, &["-s", file.join("vm.sock").to_str().unwrap()]);
    let want = format!("creating socket directory {}", file.display());
    assert_eq!(e.matches(&want).count(), 1, "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    // A file where the socket goes is not replaced.
    let e = serve_fails(&fx, &["--socket-path", file.to_str().unwrap()]);
    assert!(e.contains("is not a socket"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // A socket another daemon serves is neither taken over nor removed.
    let sock = fx.dir.path().join("live.sock");
    let mut first = serve(&fx, &["-s", sock.to_str().unwrap(), "--socket-options", ""]);
    // (--socket-options without --socket-path/--fd is refused.)
    assert!(!first.wait().unwrap().success());
    let mut first = serve(&fx, &["-s", sock.to_str().unwrap()]);
    wait_for_socket(&sock, &mut first);
    let e = serve_fails(&fx, &["-s", sock.to_str().unwrap()]);
    assert!(e.contains("in use"), "{e}");
    assert!(sock.exists());
    assert_eq!(probe(&sock).0, "famfs");
    stop(first);
    // Too long for a socket address.
    let long = fx.dir.path().join("l".repeat(120));
    let e = serve_fails(&fx, &["-s", long.to_str().unwrap()]);
    assert!(e.contains("longer than the 107 bytes"), "{e}");
    // A bad option names the option it came from.
    let e = serve_fails(
        &fx,
        &["--socket-path", "x.sock", "--socket-options", "color=red"],
    );
    assert!(
        e.contains("--socket-options") && e.contains("color=red"),
        "{e}"
    );
    // Nothing to listen on.
    let e = serve_fails(&fx, &[]);
    assert!(e.contains("--socket-path"), "{e}");
}

#[test]
fn fd_must_be_a_listening_unix_socket() {
    let fx = formatted();
    let e = serve_fails(&fx, &["--fd", "0"]);
    assert!(e.contains("--fd 0: not a socket"), "{e}");
    let e = serve_fails(&fx, &["--fd", "97"]);
    assert!(e.contains("--fd 97: not an open file descriptor"), "{e}");
    // A bound socket that does not listen.
    let p = fx.dir.path().join("notlistening.sock");
    let s = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        nix::sys::socket::SockFlag::empty(),
        None,
    )
    .unwrap();
    nix::sys::socket::bind(s.as_raw_fd(), &nix::sys::socket::UnixAddr::new(&p).unwrap()).unwrap();
    let o = with_fd3(cmd().arg("serve").arg("-D").arg(&fx.dev), s.as_raw_fd())
        .args(["--fd", "3"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(e.contains("not a listening socket"), "{e}");
}

/// Passes `fd` as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to
/// the daemon's own pid, which is what systemd does for a .socket unit
/// (the shell's `exec` keeps its pid for the daemon).
fn with_fd3(c: &mut Command, fd: i32) -> &mut Command {
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child
    // before exec and touches nothing else.
    unsafe {
        c.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec set.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

fn activated(fx: &Fx, listener: &UnixListener, tag: &str) -> Child {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$@""#)
        .arg("sh")
        .arg(BIN)
        .args(["serve", "-D"])
        .arg(&fx.dev)
        .args(["--fd", "3", "--socket-options", &format!("tag={tag}")])
        .env("VHOST_FAMFS_SYSTEM_UUID", MASTER.to_string())
        .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid")
        .env("RUST_LOG", "info")
        .env_remove("VHOST_FAMFS_DEVICE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_fd3(&mut c, listener.as_raw_fd());
    c.spawn().unwrap()
}

#[test]
fn fd_serves_a_socket_passed_as_systemd_does() {
    let fx = formatted();
    let sock = fx.dir.path().join("activated.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let d = activated(&fx, &listener, "act");
    // The VMM may connect before the daemon runs: the kernel queues it.
    assert_eq!(probe(&sock), ("act".to_string(), false));
    let log = stop(d);
    assert!(log.contains("(inherited)"), "{log}");
    // The socket belongs to the service manager: still there, still
    // listening (a second activation serves the next VMM).
    assert!(sock.exists(), "inherited socket removed");
    let d = activated(&fx, &listener, "again");
    assert_eq!(probe(&sock).0, "again");
    stop(d);
}

/// systemd's own activation tool, as `systemctl start vhost-famfs@.socket`
/// would do it: it binds the socket, starts the daemon at the first
/// connection and passes the socket as descriptor 3.
#[test]
fn systemd_socket_activate_starts_the_daemon_on_connect() {
    let Some(tool) = [
        "/usr/bin/systemd-socket-activate",
        "/bin/systemd-socket-activate",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        eprintln!("skipped: systemd-socket-activate is not installed (Debian package systemd)");
        return;
    };
    let fx = formatted();
    let sock = fx.dir.path().join("sd.sock");
    let mut act = Command::new(tool)
        .arg("--listen")
        .arg(&sock)
        .args([
            &format!("--setenv=VHOST_FAMFS_SYSTEM_UUID={MASTER}"),
            "--setenv=VHOST_FAMFS_SYSTEM_UUID_FILE=/nonexistent",
            "--setenv=RUST_LOG=info",
            "--",
            BIN,
            "serve",
            "-D",
        ])
        .arg(&fx.dev)
        .args(["--fd", "3", "--socket-options", "tag=sd,role=ro"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_socket(&sock, &mut act);
    assert_eq!(probe(&sock), ("sd".to_string(), true));
    // The tool exec'd the daemon in its place: same process.
    let log = stop(act);
    assert!(log.contains("(inherited)"), "{log}");
}

#[test]
fn print_capabilities_is_the_json_libvirt_reads() {
    // libvirt runs `BINARY --print-capabilities`, nothing else.
    let o = Command::new(BIN)
        .arg("--print-capabilities")
        .output()
        .unwrap();
    assert!(o.status.success());
    let caps: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let obj = caps.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{caps}");
    assert_eq!(caps["type"], "famfs");
    let features: Vec<&str> = caps["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(!features.is_empty());
    // Every feature is an option `serve` really has.
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let options: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', '=']).next())
        .collect();
    for f in &features {
        assert!(options.contains(f), "serve has no --{f}: {options:?}");
    }
    // The same with the environment the daemon runs in.
    let o = cmd().arg("--print-capabilities").output().unwrap();
    assert!(o.status.success());
}

/// vmm-config/qemu/50-vhost-famfs.json against QEMU's schema
/// (docs/interop/vhost-user.json, struct VhostUserBackend): the required
/// members with their types, no others, and the type the binary reports.
#[test]
fn qemu_descriptor_follows_the_schema() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vmm-config/qemu/50-vhost-famfs.json");
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let obj = d.as_object().unwrap();
    for k in obj.keys() {
        assert!(
            ["description", "type", "binary", "tags"].contains(&k.as_str()),
            "member {k} is not in the schema"
        );
    }
    assert!(!d["description"].as_str().unwrap().is_empty());
    let binary = d["binary"].as_str().unwrap();
    assert!(binary.starts_with('/'), "binary must be absolute");
    assert_eq!(Path::new(binary).file_name().unwrap(), "vhost-famfs");
    if let Some(tags) = d.get("tags") {
        assert!(tags.as_array().unwrap().iter().all(|t| t.is_string()));
    }
    let o = Command::new(BIN)
        .arg("--print-capabilities")
        .output()
        .unwrap();
    let caps: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["type"], caps["type"]);
}

#[test]
fn log_level_overrides_verbose_and_rust_log() {
    let fx = formatted();
    let run = |extra: &[&str], rust_log: Option<&str>| -> String {
        let sock = fx.dir.path().join("log.sock");
        let mut c = cmd();
        c.args(extra)
            .arg("serve")
            .arg("-D")
            .arg(&fx.dev)
            .arg("-s")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(r) = rust_log {
            c.env("RUST_LOG", r);
        }
        let mut d = c.spawn().unwrap();
        wait_for_socket(&sock, &mut d);
        stop(d)
    };
    assert!(run(&["--log-level", "info"], Some("off")).contains("listening on"));
    assert!(run(&["-vv", "--log-level", "warn"], None).is_empty());
    assert!(run(&["-v"], None).contains("listening on"));
    assert!(run(&[], None).is_empty());
    assert!(run(&["--log-level=OFF"], Some("trace")).is_empty());
}

#[test]
fn syslog_sends_records_to_the_syslog_socket() {
    let fx = formatted();
    let log_sock = fx.dir.path().join("syslog");
    let rx = UnixDatagram::bind(&log_sock).unwrap();
    rx.set_read_timeout(Some(WAIT)).unwrap();
    let sock = fx.dir.path().join("s.sock");
    let mut d = cmd()
        .args(["--syslog", "--log-level", "info", "serve", "-D"])
        .arg(&fx.dev)
        .arg("-s")
        .arg(&sock)
        .env("VHOST_FAMFS_SYSLOG_SOCKET", &log_sock)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = d.id();
    wait_for_socket(&sock, &mut d);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.iter().any(|l: &String| l.contains("listening on")) {
        let n = rx.recv(&mut buf).expect("no syslog record");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // Facility daemon (3), severity info (6): priority 30.
    let want = format!("<30>vhost-famfs[{pid}]: listening on {}", sock.display());
    assert!(got.iter().any(|l| l.starts_with(&want)), "{got:?}");
    assert!(stop(d).is_empty(), "records went to stderr too");
    // No syslog socket: a clear error naming it.
    let missing = fx.dir.path().join("no-syslog");
    let o = cmd()
        .args(["--syslog", "ls", "-D"])
        .arg(&fx.dev)
        .env("VHOST_FAMFS_SYSLOG_SOCKET", &missing)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(e.contains(&missing.display().to_string()), "{e}");
}
