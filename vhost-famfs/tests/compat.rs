// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Devices as famfs makes them: superblock version 47 (omf 2.1, famfs
//! releases before 2.2) and 48 (omf 2.2), built here byte by byte from the
//! documented layout, independently of vhost-famfs's own encoder, and used
//! through every CLI command. Also: a superblock from a future version,
//! and mkfs refusing to format over any sealed superblock.

use std::path::{Path, PathBuf};

mod cli_run;

use cli_run::{cmd, ok, run, MASTER};
const MIB: u64 = 1 << 20;
const DEV_SIZE: u64 = 64 * MIB;
const LOG_OFFSET: u64 = 2 * MIB;
const LOG_LEN: u64 = 8 * MIB;
const ENTRY: u64 = 544;
const FS_UUID: &str = "0c4b5e1a-2f3d-4c5b-9a8e-77665544332a";

fn crc(b: &[u8]) -> u64 {
    u64::from(crc32fast::hash(b))
}

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}

fn put64(buf: &mut [u8], off: usize, v: u64) {
    put(buf, off, &v.to_le_bytes());
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    put(buf, off, &v.to_le_bytes());
}

fn uuid(s: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(s).unwrap().as_bytes()
}

/// The 200-byte superblock: fields at the offsets the famfs layout note
/// gives, CRC over bytes 0..96.
fn superblock(version: u64, omf_minor: u32, size: u64) -> Vec<u8> {
    let mut b = vec![0u8; 200];
    put64(&mut b, 0, 0x87b2_82ff);
    put64(&mut b, 8, version);
    put64(&mut b, 16, LOG_OFFSET);
    put64(&mut b, 24, LOG_LEN);
    put64(&mut b, 32, 2 * MIB);
    put32(&mut b, 40, 2);
    put32(&mut b, 44, omf_minor);
    put(&mut b, 48, &uuid(FS_UUID));
    put(&mut b, 64, &uuid("11111111-2222-4333-8444-555555555555"));
    put(&mut b, 80, &uuid(MASTER));
    let c = crc(&b[..96]);
    put64(&mut b, 96, c);
    put32(&mut b, 104, 1);
    put64(&mut b, 112, size);
    put(&mut b, 120, &uuid("11111111-2222-4333-8444-555555555555"));
    put(&mut b, 136, b"dax0.0");
    b
}

/// One log entry. `body` is placed at entry offset 16.
enum Body<'a> {
    /// size, mode, path, [(offset, len)]: a simple extent list.
    File(u64, u32, &'a [u8], &'a [(u64, u64)]),
    /// mode, path.
    Mkdir(u32, &'a [u8]),
    /// size, index.
    AddDaxdev(u64, u32),
}

fn entry(index: u64, body: &Body<'_>) -> Vec<u8> {
    let mut e = vec![0u8; ENTRY as usize];
    put64(&mut e, 0, index);
    match *body {
        Body::File(size, mode, path, extents) => {
            put32(&mut e, 8, 0);
            put64(&mut e, 16, size);
            put32(&mut e, 24, 2); // ALL_HOSTS_RW, as famfs writes
            put32(&mut e, 28, 1000);
            put32(&mut e, 32, 1000);
            put32(&mut e, 36, mode);
            put(&mut e, 40, path);
            // fmap at body offset 104: ext_type u32, then the union whose
            // members start with a u32 count and are 8-byte aligned (C
            // layout on x86-64): count at +8, extents at +16.
            let fmap = 16 + 104;
            put32(&mut e, fmap, 0);
            put32(&mut e, fmap + 8, extents.len() as u32);
            for (i, &(off, len)) in extents.iter().enumerate() {
                let x = fmap + 16 + 24 * i;
                put64(&mut e, x, 0);
                put64(&mut e, x + 8, off);
                put64(&mut e, x + 16, len);
            }
        }
        Body::Mkdir(mode, path) => {
            put32(&mut e, 8, 1);
            put32(&mut e, 16, 1000);
            put32(&mut e, 20, 1000);
            put32(&mut e, 24, mode);
            put(&mut e, 28, path);
        }
        Body::AddDaxdev(size, index) => {
            put32(&mut e, 8, 3);
            put64(&mut e, 16, size);
            put(&mut e, 24, &uuid("99999999-2222-4333-8444-555555555555"));
            put32(&mut e, 40, index);
        }
    }
    let c = crc(&e[..536]);
    put64(&mut e, 536, c);
    e
}

/// Data starts after the superblock area and the log: 10 MiB.
const DATA: u64 = LOG_OFFSET + LOG_LEN;

/// The tree both versions hold: a directory, files in it, a file at the
/// root with two extents, and a file whose parents were never made (famfs
/// replay creates them).
fn common_entries() -> Vec<Body<'static>> {
    vec![
        Body::Mkdir(0o755, b"data"),
        Body::File(2 * MIB, 0o644, b"data/a.bin", &[(DATA, 2 * MIB)]),
        Body::File(
            3 * MIB,
            0o600,
            b"top.bin",
            &[(DATA + 2 * MIB, 2 * MIB), (DATA + 6 * MIB, 2 * MIB)],
        ),
        Body::File(4096, 0o644, b"imp/deep/f", &[(DATA + 4 * MIB, 2 * MIB)]),
    ]
}

/// Writes a device: superblock, log header, `entries`.
fn build(path: &Path, sb: &[u8], entries: &[Body<'_>]) {
    let mut img = vec![0u8; (LOG_OFFSET + LOG_LEN) as usize];
    put(&mut img, 0, sb);
    let h = LOG_OFFSET as usize;
    put64(&mut img, h, 0xbad_cafe_f00d);
    put64(&mut img, h + 8, LOG_LEN);
    put64(&mut img, h + 16, (LOG_LEN - 48) / ENTRY - 1);
    let c = crc(&img[h..h + 24]);
    put64(&mut img, h + 24, c);
    put64(&mut img, h + 32, entries.len() as u64);
    put64(&mut img, h + 40, entries.len() as u64);
    for (i, b) in entries.iter().enumerate() {
        put(&mut img, h + 48 + i * ENTRY as usize, &entry(i as u64, b));
    }
    std::fs::write(path, &img).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(DEV_SIZE).unwrap();
}

fn device(sb: &[u8], entries: &[Body<'_>]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev");
    build(&path, sb, entries);
    (dir, path)
}

/// Runs with arguments that need not be UTF-8; stdout must be (names are
/// printed escaped).
fn ok_bytes(dev: &Path, args: &[&[u8]]) -> String {
    use std::os::unix::ffi::OsStrExt;
    let o = cmd(dev)
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("raw name bytes on stdout")
}

fn failing(dev: &Path, args: &[&str]) -> String {
    let o = run(dev, args);
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every read command, then an append, on a device built by hand.
fn exercise(path: &Path, version: u64) {
    let ls = ok(path, &["ls", "-l", "/"]);
    for name in ["data", "top.bin", "imp"] {
        assert!(ls.contains(name), "{ls}");
    }
    assert!(ok(path, &["ls", "data"]).contains("a.bin"));
    assert!(ok(path, &["ls", "imp/deep"]).contains('f'));
    let st = ok(path, &["stat", "top.bin"]);
    assert!(st.contains("size: 3145728"), "{st}");
    assert!(st.contains("mode: 0600"), "{st}");
    let map = ok(path, &["getmap", "top.bin"]);
    assert!(map.contains(&format!("{:x}", DATA + 2 * MIB)), "{map}");
    assert!(map.contains(&format!("{:x}", DATA + 6 * MIB)), "{map}");
    assert!(map.contains("extents: 2"), "{map}");
    let fsck = run(path, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert_eq!(fsck.status.code(), Some(0), "{report}");
    assert!(report.contains(&format!("version {version}")), "{report}");
    assert!(report.contains("clean"), "{report}");
    // Fill an existing file (same size) and verify it.
    ok(path, &["creat", "-s", "2M", "--seed", "7", "data/a.bin"]);
    assert!(ok(path, &["verify", "-S", "7", "data/a.bin"]).contains("match"));
    assert!(!run(path, &["verify", "-S", "8", "data/a.bin"])
        .status
        .success());
    // Appending keeps the device's version: entries are the same in both.
    ok(path, &["mkdir", "new"]);
    ok(path, &["creat", "-s", "1M", "new/g"]);
    let sb = std::fs::read(path).unwrap();
    assert_eq!(u64::from_le_bytes(sb[8..16].try_into().unwrap()), version);
    assert!(ok(path, &["ls", "new"]).contains('g'));
    assert_eq!(run(path, &["fsck"]).status.code(), Some(0));
}

#[test]
fn famfs_version_47_device_works_with_every_command() {
    let (_d, path) = device(&superblock(47, 1, DEV_SIZE), &common_entries());
    exercise(&path, 47);
}

#[test]
fn famfs_version_48_device_works_with_every_command() {
    let mut entries = common_entries();
    entries.push(Body::AddDaxdev(DEV_SIZE, 1));
    let (_d, path) = device(&superblock(48, 2, DEV_SIZE), &entries);
    exercise(&path, 48);
}

/// famfs takes any byte but '/' and NUL in a name. Its logs with names
/// that are not UTF-8 (Latin-1, 0xff, a newline, in implicitly created
/// parents too) are read whole: listed escaped as `ls -b` does, clean for
/// fsck, and appended to, the new entries keeping their bytes.
#[test]
fn names_that_are_not_utf8_are_read_listed_and_appended_to() {
    let mut entries = common_entries();
    entries.extend([
        Body::Mkdir(0o755, b"caf\xe9"),
        Body::File(
            4096,
            0o644,
            b"caf\xe9/\xff\nx",
            &[(DATA + 8 * MIB, 2 * MIB)],
        ),
        Body::File(
            4096,
            0o644,
            b"imp\x80/deep\xfe/f",
            &[(DATA + 10 * MIB, 2 * MIB)],
        ),
    ]);
    for (version, minor) in [(47, 1), (48, 2)] {
        let (_d, path) = device(&superblock(version, minor, DEV_SIZE), &entries);
        let fsck = run(&path, &["fsck"]);
        let report = String::from_utf8_lossy(&fsck.stdout);
        assert_eq!(fsck.status.code(), Some(0), "{version}: {report}");
        assert!(report.contains("clean"), "{report}");
        let ls: Vec<String> = ok(&path, &["ls"]).lines().map(String::from).collect();
        for want in ["caf\\351/", "imp\\200/", "imp/"] {
            assert!(ls.iter().any(|l| l == want), "{want} not in {ls:?}");
        }
        assert_eq!(ok_bytes(&path, &[b"ls", b"caf\xe9"]), "\\377\\nx\n");
        assert_eq!(ok_bytes(&path, &[b"ls", b"/imp\x80/deep\xfe/"]), "f\n");
        let st = ok_bytes(&path, &[b"stat", b"caf\xe9/\xff\nx"]);
        assert!(st.contains("  path: caf\\351/\\377\\nx\n"), "{st}");
        // Appends under those names.
        ok_bytes(&path, &[b"mkdir", b"caf\xe9/sub\xfa"]);
        ok_bytes(
            &path,
            &[
                b"creat",
                b"-s",
                b"1M",
                b"-S",
                b"9",
                b"caf\xe9/sub\xfa/n\xe9w",
            ],
        );
        let v = ok_bytes(&path, &[b"verify", b"-S", b"9", b"caf\xe9/sub\xfa/n\xe9w"]);
        assert!(
            v.starts_with("caf\\351/sub\\372/n\\351w: 1048576 bytes match"),
            "{v}"
        );
        assert_eq!(ok_bytes(&path, &[b"ls", b"caf\xe9/sub\xfa"]), "n\\351w\n");
        let img = std::fs::read(&path).unwrap();
        let log = &img[LOG_OFFSET as usize..(LOG_OFFSET + LOG_LEN) as usize];
        let field = b"caf\xe9/sub\xfa/n\xe9w\0";
        assert!(
            log.windows(field.len()).any(|w| w == field),
            "the new path's bytes are not in the log"
        );
        assert_eq!(run(&path, &["fsck"]).status.code(), Some(0));
    }
}

#[test]
fn add_daxdev_is_damage_on_a_version_47_device() {
    let mut entries = common_entries();
    entries.push(Body::AddDaxdev(DEV_SIZE, 1));
    let (_d, path) = device(&superblock(47, 1, DEV_SIZE), &entries);
    let fsck = run(&path, &["fsck"]);
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert_eq!(fsck.status.code(), Some(4), "{report}");
    assert!(report.contains("ADD_DAXDEV"), "{report}");
}

#[test]
fn mkfs_refuses_every_sealed_superblock_and_changes_nothing() {
    let cases = [
        (
            superblock(47, 1, DEV_SIZE),
            "version 47, omf 2.1",
            Some("3 files"),
        ),
        (
            superblock(48, 2, DEV_SIZE),
            "version 48, omf 2.2",
            Some("3 files"),
        ),
        (superblock(49, 3, DEV_SIZE), "version 49, omf 2.3", None),
    ];
    for (sb, what, files) in cases {
        let (_d, path) = device(&sb, &common_entries());
        let before = std::fs::read(&path).unwrap();
        let err = failing(&path, &["mkfs"]);
        assert!(err.contains(FS_UUID), "{err}");
        assert!(err.contains(what), "{err}");
        assert!(err.contains("--force"), "{err}");
        match files {
            Some(f) => assert!(err.contains(f), "{err}"),
            None => assert!(err.contains("log not readable"), "{err}"),
        }
        assert!(
            std::fs::read(&path).unwrap() == before,
            "{what}: device changed"
        );
        // Forced, it formats (as version 48).
        ok(&path, &["mkfs", "--force"]);
        let after = std::fs::read(&path).unwrap();
        assert_eq!(u64::from_le_bytes(after[8..16].try_into().unwrap()), 48);
        assert_eq!(u32::from_le_bytes(after[44..48].try_into().unwrap()), 2);
        assert!(ok(&path, &["ls", "/"]).trim().is_empty());
    }
}

#[test]
fn future_version_is_refused_by_name_and_nothing_is_written() {
    let (_d, path) = device(&superblock(49, 3, DEV_SIZE), &common_entries());
    let before = std::fs::read(&path).unwrap();
    for args in [
        &["ls", "/"][..],
        &["stat", "top.bin"],
        &["mkdir", "x"],
        &["creat", "-s", "2M", "y"],
    ] {
        let err = failing(&path, args);
        assert!(
            err.contains("superblock version 49, omf 2.3"),
            "{args:?}: {err}"
        );
    }
    let fsck = run(&path, &["fsck"]);
    assert_eq!(fsck.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&fsck.stdout).contains("version 49"));
    assert!(std::fs::read(&path).unwrap() == before, "device changed");
}

#[test]
fn superblock_size_wins_over_a_larger_device_file_and_a_smaller_one_is_refused() {
    // Recorded: 32 MiB; the file is 64 MiB. Nothing past 32 MiB is used.
    let (_d, path) = device(&superblock(48, 2, 32 * MIB), &common_entries());
    let fsck = ok(&path, &["fsck"]);
    assert!(fsck.contains("uses the recorded size"), "{fsck}");
    // 32 MiB - 10 MiB metadata - 8 MiB used by the four files (the first
    // three extents, the fourth file's unit) = 14 MiB free.
    assert!(
        fsck.contains("free                         14.0 MiB"),
        "{fsck}"
    );
    let err = failing(&path, &["creat", "-s", "16M", "big"]);
    assert!(err.contains("no space"), "{err}");
    // Recorded: 128 MiB, file 64 MiB: refused clearly.
    let (_d2, small) = device(&superblock(48, 2, 128 * MIB), &common_entries());
    let err = failing(&small, &["ls", "/"]);
    assert!(err.contains("formatted for 0x8000000 bytes"), "{err}");
}
