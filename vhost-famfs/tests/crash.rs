// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Crash injection: a writer process is killed with SIGKILL at random
//! points of its appends, round after round (thousands of appends in all).
//! After every kill the file system must open, fsck must pass, and every
//! entry the writer reported committed (printed after its append returned)
//! must be there. A kill between the header's two counter stores leaves a
//! torn header, which must cost nothing.
//!
//! The writer is this test binary run again with `WRITER_ENV` set: the
//! `crash_writer` test then appends until it is killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;
use vhost_famfs::device::{Device, LockWait};
use vhost_famfs::meta::fsck::fsck;
use vhost_famfs::meta::{Famfs, FileSpec, MkfsOptions, OpenOptions, RelPath};

const MASTER: Uuid = Uuid::from_u128(0x2222);
/// "<device>,<round>": run as the writer.
const WRITER_ENV: &str = "VHOST_FAMFS_CRASH_WRITER";
const ROUNDS: u64 = 24;
/// Most appends a round lets through before its kill.
const MAX_PER_ROUND: u64 = 300;

fn opts(writable: bool) -> OpenOptions {
    OpenOptions {
        writable,
        system_uuid: Some(MASTER),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        lock_wait: LockWait::Forever,
    }
}

/// The writer: every fourth entry a file, the rest directories, each
/// reported on stdout once its append has returned.
#[test]
fn crash_writer() {
    let Ok(arg) = std::env::var(WRITER_ENV) else {
        return;
    };
    let (dev, round) = arg.rsplit_once(',').unwrap();
    let fs = Famfs::open(Path::new(dev), &opts(true)).unwrap();
    let spec = FileSpec {
        size: 4096,
        mode: 0o644,
        uid: 0,
        gid: 0,
        striping: None,
    };
    for i in 0.. {
        let name = format!("r{round}n{i}");
        let p = RelPath::new(&name).unwrap();
        if i % 4 == 0 {
            fs.create(&p, &spec).unwrap();
        } else {
            fs.mkdir(&p, 0o755, 0, 0).unwrap();
        }
        println!("committed {name}");
    }
}

/// xorshift64*: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn killed_writers_lose_nothing_committed() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed:#x}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    Device::create_file(&dev, 8 << 30).unwrap();
    let mkfs = MkfsOptions {
        system_uuid: Some(MASTER),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        ..Default::default()
    };
    Famfs::mkfs(&Device::open(&dev, true).unwrap(), &mkfs).unwrap();

    let mut committed: Vec<String> = Vec::new();
    let (mut appends, mut torn) = (0u64, 0u64);
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, format!("{},{round}", dev.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let stop_after = 1 + rng.below(MAX_PER_ROUND);
        let mut seen = 0;
        let mut line = String::new();
        while seen < stop_after {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(name) = line.trim_end().strip_prefix("committed ") {
                committed.push(name.to_string());
                seen += 1;
            }
        }
        assert_eq!(seen, stop_after, "round {round}: the writer died by itself");
        // Somewhere inside one of the next appends.
        std::thread::sleep(Duration::from_micros(rng.below(400)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines it printed before dying were committed too.
        for l in out.lines() {
            if let Some(name) = l.unwrap().strip_prefix("committed ") {
                committed.push(name.to_string());
            }
        }

        let report = fsck(&Device::open(&dev, false).unwrap());
        assert!(
            report.is_clean(),
            "round {round} (seed {seed:#x}): {report}"
        );
        torn += u64::from(report.torn_header.is_some());
        let fs = Famfs::open(&dev, &opts(false)).unwrap();
        assert!(fs.problems().is_empty(), "{:?}", fs.problems());
        for name in &committed {
            assert!(
                fs.stat(name).is_ok(),
                "round {round} (seed {seed:#x}): {name} was reported committed and is gone"
            );
        }
        appends = fs.applied();
    }
    println!(
        "{appends} appends in {ROUNDS} rounds, {} reported committed, {torn} torn headers seen",
        committed.len()
    );
    assert!(appends >= committed.len() as u64);
    assert!(appends >= 1000, "only {appends} appends");
    // Still writable, and repair leaves nothing to repair afterwards.
    let fs = Famfs::open(&dev, &opts(true)).unwrap();
    fs.mkdir(&RelPath::new("after").unwrap(), 0o755, 0, 0)
        .unwrap();
    drop(fs);
    let d = Device::open(&dev, true).unwrap();
    assert!(vhost_famfs::meta::fs::repair(&d, LockWait::Forever)
        .unwrap()
        .is_empty());
    assert!(fsck(&d).is_clean());
}

/// The CLI's view of a torn header: fsck passes with a warning, and
/// `fsck --repair` makes the counters agree.
#[test]
fn cli_fsck_reports_and_repairs_a_torn_header() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vhost-famfs"))
            .env("VHOST_FAMFS_DEVICE", &dev)
            .env("VHOST_FAMFS_SYSTEM_UUID", MASTER.to_string())
            .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(cli(&["mkfs", "--size", "64M"]).status.success());
    assert!(cli(&["mkdir", "a", "b"]).status.success());
    // next_seqnum (log header + 32) one past next_index (2).
    let d = Device::open(&dev, true).unwrap();
    d.write_obj((2 << 20) + 32, &3u64).unwrap();
    drop(d);
    let out = cli(&["fsck"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("next seqnum 3 differs from next index 2"),
        "{text}"
    );
    assert!(text.contains("fsck --repair"), "{text}");
    let out = cli(&["fsck", "--repair"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("repaired: log header"), "{text}");
    assert!(!text.contains("warning"), "{text}");
    let out = cli(&["fsck", "--repair"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to repair"));
    assert!(cli(&["ls", "b"]).status.success());
}
