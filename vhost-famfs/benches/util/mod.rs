// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What both benchmarks need: a memory-backed scratch directory, a plain
//! file spec, and percentile reporting.

use std::path::Path;
use std::time::Duration;

use vhost_famfs::meta::FileSpec;

/// A scratch directory on tmpfs (/dev/shm) when there is one, so that
/// memory, not a disk, is timed.
pub fn scratch_dir() -> tempfile::TempDir {
    let base = Path::new("/dev/shm");
    if base.is_dir() {
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// A root-owned 0644 file of `size` bytes, not striped.
pub fn spec(size: u64) -> FileSpec {
    FileSpec {
        size,
        mode: 0o644,
        uid: 0,
        gid: 0,
        striping: None,
    }
}

/// The `p` quantile (0..=1) of `samples`, which it sorts.
pub fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

/// Prints one result line: count and p50/p90/p99.
pub fn report(name: &str, samples: &mut [Duration]) {
    println!(
        "{name:<48} n={:<6} p50={:>10.1?} p90={:>10.1?} p99={:>10.1?}",
        samples.len(),
        pct(samples, 0.5),
        pct(samples, 0.9),
        pct(samples, 0.99)
    );
}
