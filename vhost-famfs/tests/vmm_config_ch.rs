//! The cloud-hypervisor launchers in vmm-config/cloud-hypervisor/ against
//! what the daemon accepts. cloud-hypervisor itself cannot run here (it
//! needs hardware KVM), so this checks the command lines the scripts
//! build (`DRY_RUN=1`): queue counts and sizes the daemon takes, the
//! device ID, the pmem size rules, and the scripts' refusals.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vhost_famfs::vhu_famfs::QUEUE_SIZE;

const MIB: u64 = 1 << 20;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vmm-config/cloud-hypervisor")
        .join(name)
}

/// Runs a launcher with DRY_RUN=1 and the given environment; on success
/// returns the arguments of the printed command, split as bash splits them.
fn dry_run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("bash");
    // The script prints a shell-quoted line; let bash undo the quoting.
    cmd.arg("-c")
        .arg(r#"out=$("$@") || exit; eval "set -- $out"; printf '%s\n' "$@""#)
        .arg("launcher")
        .arg(script(name))
        .args(args)
        .env("DRY_RUN", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run bash");
    if status.success() {
        Ok(String::from_utf8(stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect())
    } else {
        Err(String::from_utf8_lossy(&stderr).into_owned())
    }
}

/// The value that follows `flag` in a command line.
fn value<'a>(argv: &'a [String], flag: &str) -> &'a str {
    let i = argv
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} missing in {argv:?}"));
    &argv[i + 1]
}

/// The list in `key=[a,b,...]` within a cloud-hypervisor option string.
fn list(opts: &str, key: &str) -> Vec<u64> {
    let start = opts.find(&format!("{key}=[")).expect(key) + key.len() + 2;
    let end = start + opts[start..].find(']').unwrap();
    opts[start..end]
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The number in `key=N` within a cloud-hypervisor option string.
fn number(opts: &str, key: &str) -> u64 {
    opts.split(',')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {opts}"))
        .parse()
        .unwrap()
}

struct Scratch(PathBuf);

impl Scratch {
    fn file(name: &str, len: u64) -> Self {
        let p = std::env::temp_dir().join(format!("vmm-config-ch.{}.{name}", std::process::id()));
        File::create(&p).unwrap().set_len(len).unwrap();
        Scratch(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn famfs_pmem_queues_fit_the_daemon() {
    let dev = Scratch::file("dev", 64 * MIB);
    for rq in [1usize, 2, 16] {
        let argv = dry_run(
            "famfs-pmem.sh",
            &["/run/vm1.sock", dev.path(), "--kernel", "vmlinux"],
            &[("REQUEST_QUEUES", &rq.to_string())],
        )
        .unwrap();
        assert!(value(&argv, "--memory").contains("shared=on"));
        let gvu = value(&argv, "--generic-vhost-user");
        assert_eq!(number(gvu, "device_type"), 56, "{gvu}");
        assert!(gvu.contains(r#"socket="/run/vm1.sock""#), "{gvu}");
        let sizes = list(gvu, "queue_sizes");
        // The notification queue, then the request queues.
        assert_eq!(sizes.len(), 1 + rq, "{gvu}");
        for s in sizes {
            assert!(s.is_power_of_two() && s <= QUEUE_SIZE as u64, "{gvu}");
        }
        // Arguments after DEVICE are passed on as they are.
        assert_eq!(value(&argv, "--kernel"), "vmlinux");
    }
}

#[test]
fn famfs_pmem_maps_the_whole_device() {
    let dev = Scratch::file("whole", 64 * MIB);
    let argv = dry_run("famfs-pmem.sh", &["/run/vm1.sock", dev.path()], &[]).unwrap();
    let pmem = value(&argv, "--pmem");
    assert!(
        pmem.starts_with(&format!(r#"file="{}""#, dev.path())),
        "{pmem}"
    );
    assert_eq!(number(pmem, "size"), 64 * MIB);
    assert!(!pmem.contains("discard_writes"), "{pmem}");

    let argv = dry_run(
        "famfs-pmem.sh",
        &["/run/vm1.sock", dev.path()],
        &[("READ_ONLY", "1"), ("DEVICE_ID", "6")],
    )
    .unwrap();
    assert!(value(&argv, "--pmem").ends_with(",discard_writes=on"));
    assert_eq!(
        number(value(&argv, "--generic-vhost-user"), "device_type"),
        6
    );
}

#[test]
fn famfs_pmem_refusals() {
    let odd = Scratch::file("odd", 3 * MIB);
    let err = dry_run("famfs-pmem.sh", &["/run/vm1.sock", odd.path()], &[]).unwrap_err();
    assert!(err.contains("multiple of 2 MiB"), "{err}");

    // device-dax cannot be mapped private: discard_writes=on needs a file.
    let err = dry_run(
        "famfs-pmem.sh",
        &["/run/vm1.sock", "/dev/zero"],
        &[("READ_ONLY", "1"), ("PMEM_SIZE", "2097152")],
    )
    .unwrap_err();
    assert!(err.contains("regular file"), "{err}");

    let dev = Scratch::file("refuse", 64 * MIB);
    for (k, v, says) in [
        ("DEVICE_ID", "056", "DEVICE_ID"),
        ("DEVICE_ID", "64", "DEVICE_ID"),
        ("REQUEST_QUEUES", "17", "REQUEST_QUEUES"),
        ("PMEM_SIZE", "1G", "PMEM_SIZE"),
    ] {
        let err = dry_run("famfs-pmem.sh", &["/run/vm1.sock", dev.path()], &[(k, v)]).unwrap_err();
        assert!(err.contains(says), "{k}={v}: {err}");
    }
    let err = dry_run(
        "famfs-pmem.sh",
        &["/run/vm1.sock", "/nonexistent/dax9.9"],
        &[],
    )
    .unwrap_err();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn virtio_fs_queues_fit_the_daemon() {
    let argv = dry_run(
        "virtio-fs.sh",
        &["/run/a,b.sock", "--kernel", "vmlinux"],
        &[("TAG", "shared"), ("REQUEST_QUEUES", "2")],
    )
    .unwrap();
    assert!(value(&argv, "--memory").contains("shared=on"));
    let fs = value(&argv, "--fs");
    assert!(
        fs.starts_with(r#"tag="shared",socket="/run/a,b.sock","#),
        "{fs}"
    );
    assert_eq!(number(fs, "num_queues"), 2);
    let qs = number(fs, "queue_size");
    assert!(qs.is_power_of_two() && qs <= QUEUE_SIZE as u64, "{fs}");

    let err = dry_run(
        "virtio-fs.sh",
        &["/run/vm1.sock"],
        &[("TAG", &"t".repeat(36))],
    )
    .unwrap_err();
    assert!(err.contains("35 bytes"), "{err}");
}
