// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The metadata core on real (file-backed) devices: replay, appends,
//! corruption and fsck.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use uuid::Uuid;
use vhost_famfs::device::{Device, LockWait};
use vhost_famfs::meta::format::*;
use vhost_famfs::meta::fsck::fsck;
use vhost_famfs::meta::{Famfs, FileSpec, MetaError, MkfsOptions, OpenOptions, RelPath, Role};
use vm_memory::ByteValued;

const MASTER: Uuid = Uuid::from_u128(0x1111);
const MIB2: u64 = 2 << 20;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn opts(uuid: Uuid) -> OpenOptions {
    OpenOptions {
        writable: true,
        system_uuid: Some(uuid),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        // These tests are about what appends and replay do, not about how
        // long a writer waits: on a loaded machine another thread can hold
        // the device lock past the daemon's bounded wait.
        lock_wait: LockWait::Forever,
    }
}

fn fixture(size: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev");
    Device::create_file(&path, size).unwrap();
    let dev = Device::open(&path, true).unwrap();
    Famfs::mkfs(
        &dev,
        &MkfsOptions {
            system_uuid: Some(MASTER),
            system_uuid_file: "/nonexistent/system_uuid".into(),
            ..Default::default()
        },
    )
    .unwrap();
    Fixture { _dir: dir, path }
}

fn open(p: &Path) -> Famfs {
    Famfs::open(p, &opts(MASTER)).unwrap()
}

fn spec(size: u64) -> FileSpec {
    FileSpec {
        size,
        mode: 0o644,
        uid: 1,
        gid: 2,
        striping: None,
    }
}

fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// Overwrites raw bytes of the device, as a corruption would.
fn poke(p: &Path, off: u64, bytes: &[u8]) {
    Device::open(p, true)
        .unwrap()
        .write_bytes(off, bytes)
        .unwrap();
}

/// Rewrites entry `index` through `f` and reseals its CRC, so that only
/// the field problem remains.
fn rewrite_entry(p: &Path, index: u64, f: impl FnOnce(&mut RawLogEntry)) {
    let dev = Device::open(p, true).unwrap();
    let mut raw: RawLogEntry = dev.read_obj(entry_offset(index)).unwrap();
    f(&mut raw);
    raw.crc = crc32(&raw.as_slice()[..ENTRY_CRC_OFFSET]).into();
    dev.write_obj(entry_offset(index), &raw).unwrap();
}

#[test]
fn mkfs_refuses_existing_fs_without_force() {
    let fx = fixture(64 << 20);
    let dev = Device::open(&fx.path, true).unwrap();
    let o = MkfsOptions {
        system_uuid: Some(MASTER),
        ..Default::default()
    };
    let e = Famfs::mkfs(&dev, &o).unwrap_err();
    assert!(
        matches!(e, MetaError::HoldsFileSystem { files: Some(0), .. }),
        "{e}"
    );
    let forced = MkfsOptions { force: true, ..o };
    Famfs::mkfs(&dev, &forced).unwrap();
    // Too small for the log, and a log length that is not a power of two.
    let small = fixture(64 << 20);
    let d = Device::open(&small.path, true).unwrap();
    let bad = MkfsOptions {
        log_len: 12 << 20,
        force: true,
        ..forced.clone()
    };
    assert!(Famfs::mkfs(&d, &bad).is_err());
    let big_log = MkfsOptions {
        log_len: 64 << 20,
        ..forced
    };
    assert!(Famfs::mkfs(&d, &big_log).is_err());
}

#[test]
fn replay_gives_same_tree_and_inodes() {
    let fx = fixture(1 << 30);
    let fs = open(&fx.path);
    fs.mkdir(&rp("d"), 0o750, 3, 4).unwrap();
    let f = fs.create(&rp("d/f"), &spec(5 << 20)).unwrap();
    let g = fs.create(&rp("g"), &spec(1)).unwrap();
    let again = open(&fx.path);
    assert_eq!(again.stat("d/f").unwrap(), f);
    assert_eq!(again.stat("g").unwrap(), g);
    assert_eq!(again.stat("d").unwrap().mode & 0o7777, 0o750);
    assert_eq!(f.allocated(), 6 << 20);
    // Extents never touch the metadata area or offset 0.
    for e in f.extents().iter().chain(g.extents().iter()) {
        assert!(e.offset >= fs.superblock().meta_size());
        assert_eq!(e.offset % MIB2, 0);
    }
}

#[test]
fn other_handles_pick_up_new_entries_incrementally() {
    let fx = fixture(1 << 30);
    let a = open(&fx.path);
    let b = open(&fx.path);
    a.create(&rp("x"), &spec(1)).unwrap();
    assert!(b.stat("x").is_err());
    assert_eq!(b.refresh().unwrap(), 1);
    assert!(b.stat("x").is_ok());
    assert_eq!(b.refresh().unwrap(), 0);
    // b appends after a: b must replay a's entry first, not overwrite it.
    a.create(&rp("y"), &spec(1)).unwrap();
    b.create(&rp("z"), &spec(1)).unwrap();
    assert!(matches!(
        b.create(&rp("y"), &spec(1)),
        Err(MetaError::Exists(_))
    ));
    a.refresh().unwrap();
    assert_eq!(a.usage().unwrap().files, 3);
    assert!(fsck(a.device()).is_clean());
}

#[test]
fn creating_existing_names_and_bad_parents_fails_cleanly() {
    let fx = fixture(1 << 30);
    let fs = open(&fx.path);
    fs.create(&rp("f"), &spec(1)).unwrap();
    let used = fs.usage().unwrap();
    assert!(matches!(
        fs.create(&rp("f"), &spec(1)),
        Err(MetaError::Exists(_))
    ));
    assert!(matches!(
        fs.mkdir(&rp("f"), 0o755, 0, 0),
        Err(MetaError::Exists(_))
    ));
    assert!(matches!(
        fs.create(&rp("f/x"), &spec(1)),
        Err(MetaError::NotDir(_))
    ));
    assert!(matches!(
        fs.create(&rp("nope/x"), &spec(1)),
        Err(MetaError::NotFound(_))
    ));
    assert!(matches!(
        fs.create(&rp("huge"), &spec(2 << 30)),
        Err(MetaError::NoSpace { .. })
    ));
    // Nothing was written or leaked by the failures.
    assert_eq!(fs.usage().unwrap(), used);
    fs.mkdir_p(&rp("p/q/r"), 0o755, 0, 0).unwrap();
    fs.mkdir_p(&rp("p/q/r"), 0o755, 0, 0).unwrap();
    assert!(fs.stat("p/q/r").unwrap().is_dir());
}

#[test]
fn clients_and_read_only_handles_refuse_to_write() {
    let fx = fixture(1 << 30);
    let client = Famfs::open(&fx.path, &opts(Uuid::from_u128(2))).unwrap();
    assert_eq!(client.role(), Role::Client);
    let e = client.create(&rp("f"), &spec(1)).unwrap_err();
    assert!(matches!(e, MetaError::NotMaster { .. }), "{e}");
    assert_eq!(e.errno(), libc::EROFS);
    assert!(client.mkdir(&rp("d"), 0o755, 0, 0).is_err());
    let ro = Famfs::open(
        &fx.path,
        &OpenOptions {
            writable: false,
            ..opts(MASTER)
        },
    )
    .unwrap();
    assert_eq!(ro.role(), Role::Master);
    assert!(matches!(
        ro.create(&rp("f"), &spec(1)),
        Err(MetaError::ReadOnly)
    ));
    assert_eq!(open(&fx.path).usage().unwrap().log_used, 0);
}

#[test]
fn full_log_is_a_clear_error_and_writes_nothing() {
    // 15,420 directories fill the default log.
    let fx = fixture(64 << 20);
    let fs = open(&fx.path);
    for i in 0..15_420 {
        fs.mkdir(&rp(&format!("d{i}")), 0o755, 0, 0).unwrap();
    }
    let before = fs.usage().unwrap();
    assert_eq!(before.log_used, before.log_slots);
    let e = fs.create(&rp("one-more"), &spec(1)).unwrap_err();
    assert!(matches!(e, MetaError::LogFull { slots: 15_420 }), "{e}");
    assert_eq!(e.errno(), libc::ENOSPC);
    assert_eq!(fs.usage().unwrap(), before);
    let report = fsck(fs.device());
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.dirs, 15_421);
}

#[test]
fn corrupt_superblocks_are_refused() {
    let cases: [(u64, &[u8], &str); 3] = [
        (0, &[0u8; 8], "no famfs superblock"),
        (48, &[0xff; 4], "crc"),
        (136, b"renamed", ""),
    ];
    for (off, bytes, want) in cases {
        let fx = fixture(64 << 20);
        poke(&fx.path, off, bytes);
        let r = Famfs::open(&fx.path, &opts(MASTER));
        if want.is_empty() {
            // The device name is outside the CRC, as in famfs.
            assert!(r.is_ok());
            continue;
        }
        let e = r.err().unwrap();
        assert!(e.to_string().contains(want), "{e}");
        let report = fsck(&Device::open(&fx.path, false).unwrap());
        assert_eq!(report.exit_code(), 4);
    }
    // A version we do not know, with a valid CRC.
    let fx = fixture(64 << 20);
    let dev = Device::open(&fx.path, true).unwrap();
    let mut raw: RawSuperblock = dev.read_obj(0).unwrap();
    raw.version = 47u64.into();
    raw.crc = crc32(&raw.as_slice()[..SB_CRC_OFFSET]).into();
    dev.write_obj(0, &raw).unwrap();
    assert!(matches!(
        Famfs::open(&fx.path, &opts(MASTER)),
        Err(MetaError::UnsupportedVersion { version: 47, .. })
    ));
}

#[test]
fn corrupt_log_header_is_refused() {
    let fx = fixture(64 << 20);
    poke(&fx.path, LOG_OFFSET + 16, &[9]);
    assert!(matches!(
        Famfs::open(&fx.path, &opts(MASTER)),
        Err(MetaError::BadLogCrc { .. })
    ));
    let fx = fixture(64 << 20);
    // next_index is outside the CRC; past the last slot it must be refused.
    poke(&fx.path, LOG_OFFSET + 40, &u64::MAX.to_le_bytes());
    assert!(Famfs::open(&fx.path, &opts(MASTER)).is_err());
}

/// Each damaged entry is found by fsck, skipped by replay without losing
/// the others, and blocks appends until repaired.
#[test]
fn damaged_entries_are_detected_and_isolated() {
    type Damage = Box<dyn Fn(&Path)>;
    let path_of = |p: &'static [u8]| -> Damage {
        Box::new(move |d: &Path| {
            rewrite_entry(d, 1, |r| {
                r.body[24..104].fill(0);
                r.body[24..24 + p.len()].copy_from_slice(p);
            })
        })
    };
    let extent_at = |off: u64| -> Damage {
        Box::new(move |d: &Path| {
            rewrite_entry(d, 1, |r| {
                // fmap at body 104; extent 0 offset at fmap + 24.
                r.body[128..136].copy_from_slice(&off.to_le_bytes());
            })
        })
    };
    let cases: Vec<(&str, Damage)> = vec![
        (
            "crc",
            Box::new(|d: &Path| poke(d, entry_offset(1) + 40, &[0x5a])),
        ),
        (
            "seqnum",
            Box::new(|d: &Path| rewrite_entry(d, 1, |r| r.seqnum = 7u64.into())),
        ),
        ("'..'", path_of(b"a/../b")),
        ("absolute", path_of(b"/etc/passwd")),
        ("NUL", path_of(&[b'x'; 80])),
        ("outside", extent_at(1 << 40)),
        ("metadata", extent_at(4 << 20)),
        ("metadata", extent_at(0)),
    ];
    for (what, damage) in cases {
        let fx = fixture(1 << 30);
        {
            let fs = open(&fx.path);
            fs.create(&rp("a"), &spec(1)).unwrap();
            fs.create(&rp("b"), &spec(1)).unwrap();
            fs.create(&rp("c"), &spec(1)).unwrap();
        }
        damage(&fx.path);
        let report = fsck(&Device::open(&fx.path, false).unwrap());
        assert_eq!(report.exit_code(), 4, "{what}: {report}");
        assert!(
            report.errors.iter().any(|e| e.contains("entry 1")),
            "{what}: {report}"
        );
        let fs = open(&fx.path);
        assert!(fs.stat("a").is_ok() && fs.stat("c").is_ok(), "{what}");
        assert!(fs.stat("b").is_err(), "{what}");
        let e = fs.create(&rp("new"), &spec(1)).unwrap_err();
        assert!(e.to_string().contains("fsck"), "{what}: {e}");
    }
}

#[test]
fn fsck_finds_cross_linked_files() {
    let fx = fixture(1 << 30);
    let (a, _b) = {
        let fs = open(&fx.path);
        (
            fs.create(&rp("a"), &spec(4 << 20)).unwrap(),
            fs.create(&rp("b"), &spec(4 << 20)).unwrap(),
        )
    };
    // Point b's only extent into a's.
    let a_off = a.extents()[0].offset + MIB2;
    rewrite_entry(&fx.path, 1, |r| {
        r.body[128..136].copy_from_slice(&a_off.to_le_bytes());
    });
    let report = fsck(&Device::open(&fx.path, false).unwrap());
    assert_eq!(report.exit_code(), 4);
    assert!(
        report.errors.iter().any(|e| e.contains("cross-linked")),
        "{report}"
    );
}

#[test]
fn fsck_reports_usage() {
    let fx = fixture(1 << 30);
    let fs = open(&fx.path);
    fs.create(&rp("a"), &spec(3 << 20)).unwrap();
    fs.mkdir(&rp("d"), 0o755, 0, 0).unwrap();
    let r = fsck(fs.device());
    assert!(r.is_clean());
    assert_eq!((r.files, r.dirs, r.log_used), (1, 2, 2));
    assert_eq!(r.meta_bytes, 10 << 20);
    assert_eq!(r.used_bytes, 4 << 20);
    assert_eq!(r.free_bytes, (1 << 30) - (10 << 20) - (4 << 20));
}

#[test]
fn striped_files_replay_and_validate() {
    let fx = fixture(1 << 30);
    let fs = open(&fx.path);
    let s = FileSpec {
        striping: Some(vhost_famfs::meta::alloc::Striping {
            strips: 4,
            chunk_size: MIB2,
        }),
        ..spec(20 << 20)
    };
    let n = fs.create(&rp("s"), &s).unwrap();
    let total: u64 = n.extents().iter().map(|e| e.len).sum();
    assert_eq!(total, 20 << 20);
    assert_eq!(open(&fx.path).stat("s").unwrap(), n);
    assert!(fsck(fs.device()).is_clean());
}

#[derive(Clone, Debug)]
enum Op {
    Mkdir(usize),
    Create(usize, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..6).prop_map(Op::Mkdir),
        ((0usize..6), (1u64..(8 << 20))).prop_map(|(d, s)| Op::Create(d, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// After any sequence of appends, a fresh replay builds exactly the
    /// tree the writer holds, and fsck is clean.
    #[test]
    fn replay_after_random_appends(ops in proptest::collection::vec(op(), 1..40)) {
        let fx = fixture(1 << 30);
        let fs = open(&fx.path);
        for (i, op) in ops.iter().enumerate() {
            let _ = match op {
                Op::Mkdir(d) => fs.mkdir(&rp(&format!("d{d}")), 0o755, 0, 0).map(|_| ()),
                Op::Create(d, size) => {
                    let path = if *d == 0 { format!("f{i}") } else { format!("d{d}/f{i}") };
                    fs.create(&rp(&path), &spec(*size)).map(|_| ())
                }
            };
        }
        let replayed = open(&fx.path);
        let dump = |f: &Famfs| {
            let mut v: Vec<_> = f.with_ns(|ns| {
                ns.iter_files().map(|n| (ns.path_of(n.ino), n.clone())).collect()
            });
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        prop_assert_eq!(dump(&fs), dump(&replayed));
        prop_assert_eq!(fs.usage().unwrap(), replayed.usage().unwrap());
        prop_assert!(fsck(fs.device()).is_clean());
    }
}

/// Two handles on one device (two processes' views), each with threads
/// appending and threads refreshing at the same time: every entry is
/// replayed exactly once (no self-cross-link, no damage), nothing panics,
/// and both end with the same tree.
#[test]
fn concurrent_refresh_and_appends_from_two_handles() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const APPENDS: usize = 200;
    let fx = fixture(1 << 30);
    let handles = [Arc::new(open(&fx.path)), Arc::new(open(&fx.path))];
    let stop = Arc::new(AtomicBool::new(false));
    let (mut appenders, mut refreshers) = (Vec::new(), Vec::new());
    for (h, fs) in handles.iter().enumerate() {
        for w in 0..2 {
            let writer = fs.clone();
            appenders.push(std::thread::spawn(move || {
                let fs = writer;
                for i in 0..APPENDS {
                    let name = format!("h{h}w{w}n{i}");
                    if i % 3 == 0 {
                        fs.create(&rp(&name), &spec(4096)).unwrap();
                    } else {
                        fs.mkdir(&rp(&name), 0o755, 0, 0).unwrap();
                    }
                }
            }));
            let (fs, stop) = (fs.clone(), stop.clone());
            refreshers.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    fs.refresh().unwrap();
                }
            }));
        }
    }
    appenders.into_iter().for_each(|t| t.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    refreshers.into_iter().for_each(|t| t.join().unwrap());
    let files = 4 * APPENDS.div_ceil(3) as u64;
    let dirs = 4 * APPENDS as u64 - files;
    for fs in &handles {
        fs.refresh().unwrap();
        assert_eq!(fs.applied(), 4 * APPENDS as u64);
        assert!(fs.problems().is_empty(), "{:?}", fs.problems());
        let u = fs.usage().unwrap();
        // The directories made and the root.
        assert_eq!((u.files, u.dirs), (files, dirs + 1));
    }
    // Still appendable (no phantom damage) and fsck agrees.
    handles[0].create(&rp("last"), &spec(1)).unwrap();
    let r = fsck(&Device::open(&fx.path, false).unwrap());
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.files, files + 1);
}

/// A crash between the header's two counter stores: next_seqnum is one
/// ahead of next_index (the commit point). The entry in the slot is not
/// committed; the file system opens, fsck warns, the next append (or
/// fsck --repair) makes the counters agree again.
#[test]
fn torn_log_header_opens_and_is_repaired() {
    let fx = fixture(64 << 20);
    let fs = open(&fx.path);
    fs.create(&rp("kept"), &spec(1)).unwrap();
    drop(fs);
    // An uncommitted entry in `slot` (the first free one) and next_seqnum
    // already past it.
    let tear = |p: &Path, slot: u64| {
        let dev = Device::open(p, true).unwrap();
        let mut raw: RawLogEntry = dev.read_obj(entry_offset(0)).unwrap();
        raw.seqnum = slot.into();
        raw.crc = crc32(&raw.as_slice()[..ENTRY_CRC_OFFSET]).into();
        dev.write_obj(entry_offset(slot), &raw).unwrap();
        dev.write_obj(LOG_OFFSET + LOG_HEADER_NEXT_SEQNUM_OFFSET, &(slot + 1))
            .unwrap();
    };
    tear(&fx.path, 1);
    let r = fsck(&Device::open(&fx.path, false).unwrap());
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.torn_header, Some((2, 1)));
    assert!(r.to_string().contains("an append was interrupted"), "{r}");
    let fs = open(&fx.path);
    assert_eq!(fs.applied(), 1);
    assert!(fs.problems().is_empty());
    // The next append takes slot 1 (the uncommitted copy is overwritten)
    // and rewrites both counters.
    fs.create(&rp("next"), &spec(1)).unwrap();
    drop(fs);
    let r = fsck(&Device::open(&fx.path, false).unwrap());
    assert!(r.is_clean() && r.torn_header.is_none(), "{r}");
    assert_eq!((r.files, r.log_used), (2, 2));
    // fsck --repair does the same without an append.
    tear(&fx.path, 2);
    let dev = Device::open(&fx.path, true).unwrap();
    let done = vhost_famfs::meta::fs::repair(&dev, vhost_famfs::device::LockWait::Forever).unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    let r = fsck(&dev);
    assert!(r.is_clean() && r.torn_header.is_none(), "{r}");
    assert_eq!(r.files, 2);
    assert!(
        vhost_famfs::meta::fs::repair(&dev, vhost_famfs::device::LockWait::Forever)
            .unwrap()
            .is_empty()
    );
}

/// A handle whose device was reformatted refuses to go on.
#[test]
fn reformatted_device_makes_a_handle_stale() {
    let fx = fixture(64 << 20);
    let fs = open(&fx.path);
    fs.create(&rp("old"), &spec(1)).unwrap();
    let o = MkfsOptions {
        system_uuid: Some(MASTER),
        force: true,
        ..Default::default()
    };
    Famfs::mkfs(&Device::open(&fx.path, true).unwrap(), &o).unwrap();
    let e = fs.refresh().unwrap_err();
    assert!(matches!(e, MetaError::Stale(_)), "{e}");
    assert_eq!(e.errno(), libc::EIO);
    assert!(matches!(
        fs.create(&rp("new"), &spec(1)),
        Err(MetaError::Stale(_))
    ));
    // The new file system got nothing from the stale handle.
    assert_eq!(open(&fx.path).applied(), 0);
    // Zeroed superblock: also stale.
    let fx = fixture(64 << 20);
    let fs = open(&fx.path);
    poke(&fx.path, 0, &[0u8; 8]);
    assert!(matches!(fs.refresh(), Err(MetaError::Stale(_))));
}
