// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vhost-famfs binary, run as users run it.

use std::path::{Path, PathBuf};
use std::process::Output;

mod cli_run;

use cli_run::{cmd, ok, run};

struct Dev {
    dir: tempfile::TempDir,
    path: PathBuf,
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

fn fail(dev: &Path, args: &[&str]) -> String {
    let o = run(dev, args);
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8(o.stderr).unwrap()
}

/// Bytes that differ from position to position and from file to file.
fn bytes(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 13) as u8)
        .collect()
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every regular file and directory below `root`, relative, sorted.
fn host_tree(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            if p.is_dir() {
                out.push((rel, None));
                todo.push(p);
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// A host tree copied in and back out is the same tree, byte for byte,
/// with the same permission bits; single files go to a named file or
/// into a directory.
#[test]
fn cp_in_then_out_round_trips_files_and_trees() {
    use std::os::unix::fs::PermissionsExt;
    let d = formatted("1G");
    let src = d.dir.path().join("src");
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::create_dir_all(src.join("emptydir")).unwrap();
    let files: [(&str, usize); 5] = [
        ("zero", 0),
        ("one", 1),
        ("a/unit_plus_one", (2 << 20) + 1),
        ("a/b/big", 9_000_001),
        ("a/b/c/small", 4096),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(src.join(name), bytes(*len, i as u32)).unwrap();
    }
    std::fs::set_permissions(src.join("one"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(src.join("a/b"), std::fs::Permissions::from_mode(0o750)).unwrap();
    ok(&d.path, &["cp", "-r", src.to_str().unwrap(), "tree"]);

    let out = d.dir.path().join("out");
    ok(
        &d.path,
        &["cp", "--out", "-r", "tree", out.to_str().unwrap()],
    );
    assert_eq!(host_tree(&out), host_tree(&src));
    assert_eq!(mode_of(&out.join("one")), 0o600);
    assert_eq!(mode_of(&out.join("a/b")), 0o750);
    // The whole file system from the root lands under one directory.
    let all = d.dir.path().join("all");
    ok(&d.path, &["cp", "-O", "-r", "/", all.to_str().unwrap()]);
    assert_eq!(host_tree(&all.join("tree")), host_tree(&src));
    // No temporary file is left behind.
    assert!(host_tree(&all)
        .iter()
        .all(|(p, _)| !p.contains(".vhost-famfs-cp.")));

    // One file to a new name; several into an existing directory.
    let one = d.dir.path().join("copy_of_big");
    ok(
        &d.path,
        &["cp", "--out", "tree/a/b/big", one.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&one).unwrap(), bytes(9_000_001, 3));
    let into = d.dir.path().join("into");
    std::fs::create_dir(&into).unwrap();
    ok(
        &d.path,
        &[
            "cp",
            "--out",
            "tree/one",
            "/tree/a/b/c/small",
            into.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(into.join("one")).unwrap(), bytes(1, 1));
    assert_eq!(std::fs::read(into.join("small")).unwrap(), bytes(4096, 4));
}

/// cat prints exactly the file's bytes (several files one after the
/// other), including a seeded file's pattern as verify checks it.
#[test]
fn cat_equals_the_host_file() {
    let d = formatted("1G");
    let host = d.dir.path().join("h");
    let data = bytes(3_000_000, 7);
    std::fs::write(&host, &data).unwrap();
    ok(&d.path, &["cp", host.to_str().unwrap(), "f"]);
    let o = run(&d.path, &["cat", "f"]);
    assert!(o.status.success());
    assert!(o.stdout == data, "cat differs from the host file");
    ok(&d.path, &["mkdir", "d"]);
    std::fs::write(&host, b"tail\n").unwrap();
    ok(&d.path, &["cp", host.to_str().unwrap(), "d/t"]);
    let o = run(&d.path, &["cat", "d/t", "/f", "d/t"]);
    let mut want = b"tail\n".to_vec();
    want.extend_from_slice(&data);
    want.extend_from_slice(b"tail\n");
    assert!(o.stdout == want, "cat of three files differs");
    // The pattern creat --seed writes is the one verify checks, and cat
    // shows it: verify accepts the bytes cat printed, copied back in.
    ok(&d.path, &["creat", "-s", "5M", "-S", "0x5eed", "p"]);
    let o = run(&d.path, &["cat", "p"]);
    assert_eq!(o.stdout.len(), 5 << 20);
    std::fs::write(&host, &o.stdout).unwrap();
    ok(&d.path, &["cp", host.to_str().unwrap(), "p2"]);
    ok(&d.path, &["verify", "-S", "0x5eed", "p2"]);
}

/// logplay --json lists every entry with what created it; the text form
/// has one escaped line per entry; a damaged entry is shown and fails.
#[test]
fn logplay_json_matches_created_entries() {
    let d = formatted("1G");
    ok(
        &d.path,
        &["mkdir", "-m", "0750", "-u", "11", "-g", "12", "d"],
    );
    ok(
        &d.path,
        &[
            "creat", "-s", "3M", "-m", "600", "-u", "1234", "-g", "5678", "d/f",
        ],
    );
    ok(
        &d.path,
        &["creat", "-s", "8M", "-N", "2", "-C", "2M", "striped"],
    );
    ok(&d.path, &["creat", "-s", "1", "odd\nname"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&d.path, &["logplay", "--json"])).unwrap();
    assert_eq!(v["next_index"], 4);
    assert_eq!(v["slots"], 15420);
    assert_eq!(v["log_len"], 8 << 20);
    let e = v["entries"].as_array().unwrap();
    assert_eq!(e.len(), 4);
    for (i, x) in e.iter().enumerate() {
        assert_eq!(x["seq"], i as u64);
    }
    assert_eq!(e[0]["type"], "mkdir");
    assert_eq!(e[0]["path"], "d");
    assert_eq!(e[0]["mode"].as_u64().unwrap() & 0o7777, 0o750);
    assert_eq!(
        (e[0]["uid"].as_u64(), e[0]["gid"].as_u64()),
        (Some(11), Some(12))
    );
    assert_eq!(e[1]["type"], "file");
    assert_eq!(e[1]["path"], "d/f");
    assert_eq!(e[1]["size"], 3 << 20);
    assert_eq!(e[1]["mode"].as_u64().unwrap() & 0o7777, 0o600);
    assert_eq!(
        (e[1]["uid"].as_u64(), e[1]["gid"].as_u64()),
        (Some(1234), Some(5678))
    );
    assert_eq!(e[1]["layout"], "simple");
    // The extents are the ones getmap reports.
    let map = ok(&d.path, &["getmap", "d/f"]);
    let want: Vec<(u64, u64)> = map
        .lines()
        .filter(|l| l.starts_with("\t\t"))
        .map(|l| {
            let mut w = l.split_whitespace();
            let off = u64::from_str_radix(w.next().unwrap(), 16).unwrap();
            (off, w.next().unwrap().parse().unwrap())
        })
        .collect();
    let got: Vec<(u64, u64)> = e[1]["extents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["offset"].as_u64().unwrap(), x["len"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.iter().map(|x| x.1).sum::<u64>(), 4 << 20);
    assert_eq!(e[2]["layout"], "interleaved");
    assert_eq!(e[2]["chunk_size"], 2 << 20);
    assert_eq!(e[2]["extents"].as_array().unwrap().len(), 2);
    assert_eq!(e[3]["path"], "odd\nname");
    assert_eq!(v["summary"]["files"], 3);
    assert_eq!(v["summary"]["dirs"], 1);
    assert_eq!(v["summary"]["damaged"], 0);

    let text = ok(&d.path, &["logplay"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[1].contains(" mkdir  d mode=0750 uid=11 gid=12"),
        "{text}"
    );
    assert!(
        lines[2].contains(" file   d/f size=3145728 mode=0600 uid=1234 gid=5678 extents=0x"),
        "{text}"
    );
    assert!(lines[3].contains("chunk_size=2097152 strips=0x"), "{text}");
    assert!(lines[4].contains(" odd\\nname size=1"), "{text}");
    assert_eq!(
        lines[5],
        "4 entries: 3 files, 1 directories, 0 daxdevs, 0 damaged"
    );

    // Damage entry 1 on the device: logplay still lists all four.
    let off = vhost_famfs::meta::format::entry_offset(1) + 40;
    let mut dev = std::fs::read(&d.path).unwrap();
    dev[off as usize] ^= 0xff;
    std::fs::write(&d.path, &dev).unwrap();
    let o = run(&d.path, &["logplay", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["entries"][1]["type"], "damaged");
    assert!(v["entries"][1]["error"].as_str().unwrap().contains("crc"));
    assert_eq!(v["entries"][2]["type"], "file");
    assert_eq!(v["summary"]["damaged"], 1);
    let o = run(&d.path, &["logplay"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("     1 DAMAGED log entry 1: crc"));
}

/// Seeds are decimal or 0x hex, the same seed either way; anything else
/// is a usage error naming both forms.
#[test]
fn seeds_in_hex_and_decimal() {
    let d = formatted("1G");
    ok(&d.path, &["creat", "-s", "2M", "-S", "0x5eed", "hex"]);
    ok(&d.path, &["creat", "-s", "2M", "--seed", "24301", "dec"]);
    for f in ["hex", "dec"] {
        ok(&d.path, &["verify", "-S", "24301", f]);
        ok(&d.path, &["verify", "-S", "0X5EED", f]);
    }
    assert_eq!(
        run(&d.path, &["verify", "-S", "0x5eee", "hex"])
            .status
            .code(),
        Some(1)
    );
    for bad in ["5eed", "0x", "+1", "0x5eedg"] {
        let o = run(&d.path, &["creat", "-s", "2M", "-S", bad, "x"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("hex as 0x5eed"),
            "{bad}"
        );
    }
    let err = fail(&d.path, &["verify", "-S", "030", "hex"]);
    assert!(err.contains("leading 0 is ambiguous"), "{err}");
    assert!(fail(&d.path, &["stat", "x"]).contains("no such file"));
}

#[test]
fn ls_recursive_lists_every_directory() {
    let d = formatted("1G");
    ok(&d.path, &["mkdir", "-p", "a/b", "c"]);
    ok(&d.path, &["creat", "-s", "1M", "a/f", "a/b/g", "top"]);
    assert_eq!(
        ok(&d.path, &["ls", "-R"]),
        ".:\na/\nc/\ntop\n\na:\nb/\nf\n\na/b:\ng\n\nc:\n"
    );
    assert_eq!(ok(&d.path, &["ls", "-R", "/a"]), "a:\nb/\nf\n\na/b:\ng\n");
    let long = ok(&d.path, &["ls", "-lR", "a"]);
    assert!(long.starts_with("a:\ndrwx"), "{long}");
    assert!(long.contains("\n\na/b:\n-rw"), "{long}");
    assert!(long.contains(" 1048576 "), "{long}");
    // Without -R only the directory itself.
    assert_eq!(ok(&d.path, &["ls", "a"]), "b/\nf\n");
}

/// Bad input to the reading commands: a clear message, a failing status,
/// and nothing on the host or the device changed.
#[test]
fn reading_out_refuses_bad_input() {
    let d = formatted("1G");
    let host = d.dir.path().join("h");
    std::fs::write(&host, b"device copy").unwrap();
    ok(&d.path, &["mkdir", "dir"]);
    ok(&d.path, &["cp", host.to_str().unwrap(), "dir/f"]);

    assert!(fail(&d.path, &["cat", "missing"]).contains("missing: no such file or directory"));
    let o = run(&d.path, &["cat", "dir/f", "dir"]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "printed before failing");
    assert!(String::from_utf8_lossy(&o.stderr).contains("dir: is a directory"));

    // An existing host file is kept unless --force; then it is replaced.
    let dest = d.dir.path().join("dest");
    std::fs::write(&dest, b"precious").unwrap();
    let dests = dest.to_str().unwrap();
    let err = fail(&d.path, &["cp", "--out", "dir/f", dests]);
    assert!(err.contains("already exists (use --force"), "{err}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
    // In a tree copy the conflict is found before anything is written.
    let tree = d.dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), b"mine").unwrap();
    ok(&d.path, &["creat", "-s", "1", "dir/aaa"]);
    let err = fail(
        &d.path,
        &["cp", "--out", "-r", "dir", tree.to_str().unwrap()],
    );
    assert!(err.contains("f: already exists"), "{err}");
    assert!(!tree.join("aaa").exists(), "copied before refusing");
    ok(&d.path, &["cp", "--out", "--force", "dir/f", dests]);
    assert_eq!(std::fs::read(&dest).unwrap(), b"device copy");

    let err = fail(&d.path, &["cp", "--out", "dir", dests]);
    assert!(err.contains("dir: is a directory (use -r)"), "{err}");
    let err = fail(&d.path, &["cp", "--out", "nope", dests]);
    assert!(
        err.contains("nope: no such file or directory in the device"),
        "{err}"
    );
    let err = fail(&d.path, &["cp", "--out", "dir/f", "dir/aaa", dests]);
    assert!(
        err.contains("needs an existing destination directory"),
        "{err}"
    );
    let err = fail(&d.path, &["cp", "--out", "-r", "dir", dests]);
    assert!(err.contains("exists and is not a directory"), "{err}");
    let err = fail(&d.path, &["cp", "--out", "-u", "0", "dir/f", dests]);
    assert!(err.contains("not --out"), "{err}");
    assert_eq!(
        run(&d.path, &["cp", "--force", dests, "x"]).status.code(),
        Some(2)
    );
    // A symlink in the way is not written through.
    let link_dir = d.dir.path().join("l");
    std::fs::create_dir(&link_dir).unwrap();
    std::os::unix::fs::symlink(&dest, link_dir.join("f")).unwrap();
    let err = fail(
        &d.path,
        &[
            "cp",
            "--out",
            "-r",
            "--force",
            "dir",
            link_dir.to_str().unwrap(),
        ],
    );
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"device copy");
    // The destination the user names may itself be a symlink to a
    // directory, for every source.
    let real = d.dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let via = d.dir.path().join("via");
    std::os::unix::fs::symlink(&real, &via).unwrap();
    ok(&d.path, &["mkdir", "dir2"]);
    ok(&d.path, &["creat", "-s", "1", "dir2/g"]);
    ok(
        &d.path,
        &["cp", "-O", "-r", "dir", "/dir2", via.to_str().unwrap()],
    );
    assert!(real.join("f").is_file() && real.join("aaa").is_file());
    assert!(real.join("g").is_file());
    let dup = d.dir.path().join("dup");
    std::fs::create_dir(&dup).unwrap();
    let err = fail(
        &d.path,
        &["cp", "-O", "dir/f", "dir/f", dup.to_str().unwrap()],
    );
    assert!(err.contains("more than one source copies to it"), "{err}");
    assert_eq!(std::fs::read_dir(&dup).unwrap().count(), 0);
    assert!(fail(&d.path, &["flush", "nope"]).contains("no such file"));
    // Nothing on the device changed through all of that.
    assert!(ok(&d.path, &["fsck"]).contains("5 of 15420"));
}

/// --progress reports to a pipe (a closing 100% line), and nothing is
/// printed without it; flush counts what it covered.
#[test]
fn progress_lines_and_flush_counts() {
    let d = formatted("1G");
    let host = d.dir.path().join("h");
    std::fs::write(&host, bytes(3 << 20, 9)).unwrap();
    let o = run(&d.path, &["cp", "--progress", host.to_str().unwrap(), "f"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("copied 3.0 of 3.0 MiB (100%)"), "{err}");
    let out = d.dir.path().join("o");
    let o = run(
        &d.path,
        &["cp", "-O", "--progress", "f", out.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("(100%)"));
    let o = run(
        &d.path,
        &["cp", "-O", "f", d.dir.path().join("o2").to_str().unwrap()],
    );
    assert!(o.status.success() && o.stderr.is_empty());
    ok(&d.path, &["mkdir", "sub"]);
    ok(&d.path, &["creat", "-s", "5", "sub/a", "sub/b"]);
    assert_eq!(ok(&d.path, &["flush"]), "flushed 3 files, 3145738 bytes\n");
    assert_eq!(
        ok(&d.path, &["flush", "sub"]),
        "flushed 2 files, 10 bytes\n"
    );
    assert_eq!(
        ok(&d.path, &["flush", "f", "/sub/a"]),
        "flushed 2 files, 3145733 bytes\n"
    );
}
