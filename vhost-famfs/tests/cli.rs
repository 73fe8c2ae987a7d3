// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vhost-famfs binary, run as users run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MASTER: &str = "6a1f3c9e-0000-4000-8000-000000000001";

struct Dev {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn cmd(dev: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vhost-famfs"));
    c.env("VHOST_FAMFS_DEVICE", dev)
        .env("VHOST_FAMFS_SYSTEM_UUID", MASTER)
        .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid");
    c
}

fn run(dev: &Path, args: &[&str]) -> Output {
    cmd(dev).args(args).output().unwrap()
}

fn ok(dev: &Path, args: &[&str]) -> String {
    let o = run(dev, args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn formatted(size: &str) -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev");
    ok(&path, &["mkfs", "--size", size]);
    Dev { dir, path }
}

#[test]
fn two_processes_creating_1000_files_each() {
    let d = formatted("8G");
    let spawn = |prefix: &str| {
        let names: Vec<String> = (0..1000).map(|i| format!("{prefix}{i:04}")).collect();
        cmd(&d.path)
            .args(["creat", "-s", "2M"])
            .args(&names)
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn("a"), spawn("b"));
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let fsck = run(&d.path, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert_eq!(fsck.status.code(), Some(0), "{report}");
    assert!(report.contains("2000 of 15420"), "{report}");
    let ls = ok(&d.path, &["ls"]);
    let mut names: Vec<&str> = ls.lines().collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 2000);
    assert!(names.contains(&"a0999") && names.contains(&"b0000"));
}

#[test]
fn cp_recursive_restart_and_verify() {
    let d = formatted("1G");
    let src = d.dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("sub/small"), b"hello famfs").unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    let s = src.to_str().unwrap();
    ok(&d.path, &["cp", "-r", s, "tree"]);
    let ls = ok(&d.path, &["ls", "-l", "tree"]);
    assert!(ls.contains(" 20000000 ") && ls.contains("sub/"), "{ls}");
    assert!(ok(&d.path, &["ls", "-l", "tree/sub"]).contains(" 11 "));
    // Running the same copy again restarts it in place: same entries.
    let before = ok(&d.path, &["fsck"]);
    ok(&d.path, &["cp", "-r", s, "tree"]);
    assert_eq!(ok(&d.path, &["fsck"]), before);
    // The bytes landed where getmap says.
    let map = ok(&d.path, &["getmap", "tree/big"]);
    let line = map.lines().find(|l| l.starts_with("\t\t")).unwrap();
    let off = u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap();
    let dev = std::fs::read(&d.path).unwrap();
    assert_eq!(&dev[off as usize..off as usize + big.len()], &big[..]);
    // A source of another size is refused, the original kept.
    std::fs::write(src.join("big"), b"short").unwrap();
    let o = run(
        &d.path,
        &["cp", src.join("big").to_str().unwrap(), "tree/big"],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("another size"));
    // Directories need -r; several sources need a directory.
    assert!(!run(&d.path, &["cp", s, "x"]).status.success());
    let small = src.join("sub/small");
    let small = small.to_str().unwrap();
    assert!(!run(&d.path, &["cp", small, small, "tree/big"])
        .status
        .success());
}

#[test]
fn creat_seed_and_verify() {
    let d = formatted("1G");
    ok(&d.path, &["creat", "-s", "3M", "-S", "42", "f"]);
    assert!(ok(&d.path, &["verify", "-S", "42", "f"]).contains("match"));
    let o = run(&d.path, &["verify", "-S", "43", "f"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Verify fail: f at offset 0"));
    // Same size again is fine (famfs semantics), another size is not.
    ok(&d.path, &["creat", "-s", "3M", "f"]);
    assert!(!run(&d.path, &["creat", "-s", "4M", "f"]).status.success());
    assert!(!run(&d.path, &["creat", "-s", "1M", "-S", "0", "g"])
        .status
        .success());
}

#[test]
fn errors_are_clear_and_exit_codes_documented() {
    let d = formatted("1G");
    let client = cmd(&d.path)
        .env(
            "VHOST_FAMFS_SYSTEM_UUID",
            "6a1f3c9e-0000-4000-8000-0000000000ff",
        )
        .args(["mkdir", "x"])
        .output()
        .unwrap();
    assert!(!client.status.success());
    assert!(String::from_utf8_lossy(&client.stderr).contains("client"));
    let missing = d.dir.path().join("missing");
    let o = run(&missing, &["fsck"]);
    assert_eq!(o.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such device"));
    let o = run(&d.path, &["mkfs"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    std::fs::write(d.dir.path().join("odd"), [0u8; 1000]).unwrap();
    let o = run(&d.dir.path().join("odd"), &["fsck"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("multiple of 2 MiB"));
    let o = run(&d.path, &["bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let help = ok(&d.path, &["--help"]);
    for c in ["mkfs", "mkdir", "creat", "cp", "fsck", "getmap", "verify"] {
        assert!(help.contains(c), "{c} missing from --help");
    }
}

/// Names as the CLI takes and prints them: the root's `.meta` is
/// famfs's; `ls` and error messages escape control characters so a name
/// cannot forge a line; 79 bytes fit famfs's path field, 80 do not.
#[test]
fn names_reserved_escaped_and_long() {
    let d = formatted("1G");
    for args in [
        &["mkdir", ".meta"][..],
        &["creat", "-s", "1M", ".meta"],
        &["mkdir", "-p", ".meta/x"],
    ] {
        let o = run(&d.path, args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("reserved"),
            "{args:?}"
        );
    }
    ok(&d.path, &["mkdir", "sub"]);
    ok(&d.path, &["mkdir", "sub/.meta"]);
    ok(&d.path, &["creat", "-s", "1M", "evil\nforged"]);
    let ls = ok(&d.path, &["ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines, ["sub/", "evil\\nforged"], "{ls:?}");
    let o = run(&d.path, &["creat", "-s", "2M", "evil\nforged"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("evil\\nforged") && !err.contains("evil\nforged"),
        "{err}"
    );
    let n79 = "n".repeat(79);
    ok(&d.path, &["creat", "-s", "1M", &n79]);
    assert!(ok(&d.path, &["ls"]).contains(&n79));
    let o = run(&d.path, &["creat", "-s", "1M", &"n".repeat(80)]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("longer than 79 bytes"));
    let o = run(&d.path, &["mkdir", &format!("sub/{}", "n".repeat(76))]);
    assert!(!o.status.success());
}

/// Runs with arguments that need not be UTF-8.
fn run_bytes(dev: &Path, args: &[&[u8]]) -> Output {
    use std::os::unix::ffi::OsStrExt;
    cmd(dev)
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .output()
        .unwrap()
}

/// As `run_bytes`, which must succeed; what it prints must be UTF-8
/// (names are printed escaped).
fn ok_bytes(dev: &Path, args: &[&[u8]]) -> String {
    let o = run_bytes(dev, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("raw name bytes on stdout")
}

/// Names are byte strings, as in famfs: names that are not UTF-8 are
/// created, used as directories, filled and verified, copied in from a
/// host tree whose names are not UTF-8 either, and printed escaped as
/// `ls -b` does, in listings and in errors alike.
#[test]
fn names_that_are_not_utf8_are_byte_strings() {
    use std::os::unix::ffi::OsStrExt;
    let d = formatted("1G");
    ok_bytes(&d.path, &[b"creat", b"-s", b"1M", b"-S", b"5", b"caf\xe9"]);
    ok_bytes(&d.path, &[b"mkdir", b"-p", b"d\xff/e\x80"]);
    ok_bytes(&d.path, &[b"creat", b"-s", b"1M", b"/d\xff/x\ny\xfe"]);
    assert_eq!(ok(&d.path, &["ls"]), "caf\\351\nd\\377/\n");
    assert_eq!(
        ok_bytes(&d.path, &[b"ls", b"d\xff/"]),
        "e\\200/\nx\\ny\\376\n"
    );
    let st = ok_bytes(&d.path, &[b"stat", b"d\xff/x\ny\xfe"]);
    assert!(st.contains("  path: d\\377/x\\ny\\376\n"), "{st}");
    let v = ok_bytes(&d.path, &[b"verify", b"-S", b"5", b"caf\xe9"]);
    assert_eq!(v, "caf\\351: 1048576 bytes match seed 5\n");
    let map = ok_bytes(&d.path, &[b"getmap", b"caf\xe9"]);
    assert!(map.contains("good file caf\\351"), "{map}");
    // Another byte string is another name.
    let o = run(&d.path, &["stat", "café"]);
    assert!(!o.status.success());
    // Errors escape the name too.
    let o = run_bytes(&d.path, &[b"creat", b"-s", b"2M", b"caf\xe9"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8(o.stderr.clone()).is_ok_and(|e| e.contains("caf\\351: exists")),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A '.' component is refused, whatever the other bytes.
    let o = run_bytes(&d.path, &[b"mkdir", b"d\xff/./z"]);
    assert!(!o.status.success());
    // cp -r of a host tree whose names are not UTF-8.
    let src = d.dir.path().join("src");
    let host = |b: &[u8]| src.join(std::ffi::OsStr::from_bytes(b));
    std::fs::create_dir_all(host(b"sub\xfa")).unwrap();
    std::fs::write(host(b"sub\xfa/h\xe9"), b"host bytes").unwrap();
    let mut args: Vec<&[u8]> = vec![b"cp", b"-r"];
    args.push(src.as_os_str().as_bytes());
    args.push(b"in\xfd");
    ok_bytes(&d.path, &args);
    assert_eq!(ok_bytes(&d.path, &[b"ls", b"in\xfd/sub\xfa"]), "h\\351\n");
    let st = ok_bytes(&d.path, &[b"stat", b"in\xfd/sub\xfa/h\xe9"]);
    assert!(st.contains("size: 10\n"), "{st}");
    let fsck = run(&d.path, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert_eq!(fsck.status.code(), Some(0), "{report}");
}
