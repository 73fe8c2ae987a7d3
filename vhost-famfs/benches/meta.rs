// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Metadata and copy benchmarks; `cargo bench --bench meta`.
//!
//! Prints per-operation percentiles rather than means: the targets are
//! latencies (create p50) and ratios (cp against memcpy in the same run).
//! Devices live on tmpfs (/dev/shm) so that memory, not a disk, is timed.

mod util;

use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use util::{pct, report, scratch_dir, spec};
use uuid::Uuid;
use vhost_famfs::device::Device;
use vhost_famfs::hostio;
use vhost_famfs::meta::{Famfs, MkfsOptions, OpenOptions, RelPath};

const MASTER: Uuid = Uuid::from_u128(0xbe4c);

fn mkfs(path: &Path, size: u64) -> Famfs {
    Device::create_file(path, size).unwrap();
    let dev = Device::open(path, true).unwrap();
    let opts = MkfsOptions {
        force: true,
        system_uuid: Some(MASTER),
        system_uuid_file: PathBuf::from("/nonexistent"),
        ..Default::default()
    };
    Famfs::mkfs(&dev, &opts).unwrap();
    open(path)
}

fn open(path: &Path) -> Famfs {
    let opts = OpenOptions {
        system_uuid: Some(MASTER),
        system_uuid_file: PathBuf::from("/nonexistent"),
        ..Default::default()
    };
    Famfs::open(path, &opts).unwrap()
}

/// One file create (allocate + log append + flush), on a log that fills up.
fn bench_create(dir: &Path) {
    let path = dir.join("create.dev");
    let fs = mkfs(&path, 64 << 30);
    let mut t = Vec::new();
    for i in 0..10_000 {
        let name = RelPath::new(&format!("f{i}")).unwrap();
        let s = Instant::now();
        black_box(fs.create(&name, &spec(1 << 20)).unwrap());
        t.push(s.elapsed());
    }
    report("create one file (2 MiB)", &mut t);
}

/// Replay of a full default log (15,420 entries) by a fresh open.
fn bench_replay(dir: &Path) {
    let path = dir.join("replay.dev");
    let fs = mkfs(&path, 64 << 30);
    for i in 0..15_420 {
        let name = RelPath::new(&format!("d{}/f{i}", i / 1000)).unwrap();
        if i % 1000 == 0 {
            fs.mkdir(
                &RelPath::new(&format!("d{}", i / 1000)).unwrap(),
                0o755,
                0,
                0,
            )
            .unwrap();
            continue;
        }
        fs.create(&name, &spec(1 << 20)).unwrap();
    }
    assert_eq!(fs.usage().unwrap().log_used, 15_420);
    drop(fs);
    let mut t = Vec::new();
    for _ in 0..20 {
        let s = Instant::now();
        let fs = open(&path);
        t.push(s.elapsed());
        black_box(fs.usage().unwrap());
    }
    report("replay full log (15,420 entries)", &mut t);
}

/// cp of a 1 GiB file into the device, against memcpy between the same
/// two buffers (the source file's mapping and the file's extent).
fn bench_cp(dir: &Path) {
    use vm_memory::{FileOffset, MmapRegion, VolatileMemory};
    const SIZE: u64 = 1 << 30;
    let path = dir.join("cp.dev");
    let fs = mkfs(&path, 2 << 30);
    let src = dir.join("src.bin");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&src)
        .unwrap();
    f.set_len(SIZE).unwrap();
    let src_map = MmapRegion::<()>::from_file(FileOffset::new(f, 0), SIZE as usize).unwrap();
    let src_slice = src_map.as_volatile_slice();
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 251) as u8).collect();
    for off in (0..SIZE as usize).step_by(chunk.len()) {
        src_slice
            .subslice(off, chunk.len())
            .unwrap()
            .copy_from(&chunk);
    }
    let node = fs
        .create(&RelPath::new("big").unwrap(), &spec(SIZE))
        .unwrap();
    let dst_off = hostio::data_ranges(&node)[0].1;
    let (mut cp, mut mc, mut mf) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let s = Instant::now();
        let f = File::open(&src).unwrap();
        hostio::copy_file_in(fs.device(), &node, &f, |_| {}).unwrap();
        cp.push(s.elapsed());

        let dst = fs.device().slice(dst_off, SIZE as usize).unwrap();
        let s = Instant::now();
        src_slice.copy_to_volatile_slice(dst);
        mc.push(s.elapsed());

        // The same copy followed by the cache write-back cp does for
        // memory that is not coherent between hosts (single-threaded).
        let dst = fs.device().slice(dst_off, SIZE as usize).unwrap();
        let s = Instant::now();
        src_slice.copy_to_volatile_slice(dst);
        vhost_famfs::meta::cache::flush(fs.device(), dst_off, SIZE).unwrap();
        mf.push(s.elapsed());
    }
    let (c, m, w) = (pct(&mut cp, 0.5), pct(&mut mc, 0.5), pct(&mut mf, 0.5));
    let gbs = |d: Duration| SIZE as f64 / d.as_secs_f64() / 1e9;
    let ratio = |base: Duration| 100.0 * base.as_secs_f64() / c.as_secs_f64();
    println!(
        "cp 1 GiB: p50 {c:.1?} ({:.2} GB/s); memcpy same buffers: p50 {m:.1?} ({:.2} GB/s); cp/memcpy = {:.0}%",
        gbs(c),
        gbs(m),
        ratio(m)
    );
    println!(
        "cp 1 GiB vs memcpy + cache write-back: p50 {w:.1?} ({:.2} GB/s); cp/(memcpy+write-back) = {:.0}%",
        gbs(w),
        ratio(w)
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then
    // only check that everything runs, with small sizes skipped.
    let bench = std::env::args().any(|a| a == "--bench");
    let dir = scratch_dir();
    if !bench {
        println!("meta benchmarks: run with `cargo bench --bench meta`");
        return;
    }
    bench_create(dir.path());
    bench_replay(dir.path());
    bench_cp(dir.path());
}
