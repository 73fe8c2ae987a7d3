// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Daemon benchmarks; `cargo bench --bench daemon`.
//!
//! The daemon under test is the release binary, `vhost-famfs serve`, run
//! as a child process (cargo builds it for the bench and names it in
//! CARGO_BIN_EXE_vhost-famfs). This process plays the VMM with the test
//! frontend (tests/common/): vhost-user over the socket, guest memory in a
//! memfd, split virtqueues, a kick eventfd per request and an epoll wait
//! on the call eventfd for its reply; nothing sleeps or spins while timed.
//!
//! Round trips are timed around the frontend's request helpers, so a
//! figure includes writing the chain into guest memory, the kick, the
//! daemon's wake-up and work, the call, and reading and checking the
//! reply. Memory is the daemon's /proc/<pid>/status after serving a
//! device with 15,000 files. Devices live on tmpfs (/dev/shm).

#[path = "../tests/common/mod.rs"]
pub mod common;
mod util;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use util::{report, scratch_dir, spec};
use vhost_famfs::device::Device;
use vhost_famfs::meta::{Famfs, MkfsOptions, ROOT_INO};
use vhost_famfs::protocol::*;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Sparse: only the metadata is ever written.
const DEV_SIZE: u64 = 32 << 30;
/// Files on the device; the default 8 MiB log holds 15,420 entries.
const FILES: usize = 15_000;
/// Files in the small directory "small/" (the rest are in the root).
const SMALL: usize = 8;
const BIG: u64 = 64 << 20;
const WARMUP: usize = 2_000;
const ROUNDS: usize = 20_000;
/// Room for a GET_FMAP reply of up to 14 extents.
const FMAP_CAP: u32 = 256;

fn root_name(i: usize) -> String {
    format!("f{i:05}")
}

/// The device: big.bin (64 MiB), small/ with 8 files, and the rest of
/// the 15,000 files (1 MiB each) in the root.
fn make_device(path: &Path) {
    Device::create_file(path, DEV_SIZE).unwrap();
    Famfs::mkfs(
        &Device::open(path, true).unwrap(),
        &MkfsOptions {
            system_uuid: Some(MASTER),
            system_uuid_file: "/nonexistent/system_uuid".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let fs = Famfs::open(path, &open_opts(true)).unwrap();
    fs.create(&rp("big.bin"), &spec(BIG)).unwrap();
    fs.mkdir(&rp("small"), 0o755, 0, 0).unwrap();
    for i in 0..SMALL {
        fs.create(&rp(&format!("small/s{i}")), &spec(1 << 20))
            .unwrap();
    }
    for i in 0..FILES - 1 - SMALL {
        fs.create(&rp(&root_name(i)), &spec(1 << 20)).unwrap();
    }
    let u = fs.usage().unwrap();
    assert_eq!(u.files, FILES as u64);
    println!(
        "device: {} GiB sparse on {}, {} files, {} dirs, log {}/{} entries",
        DEV_SIZE >> 30,
        path.parent().unwrap().display(),
        u.files,
        u.dirs,
        u.log_used,
        u.log_slots
    );
}

/// `vhost-famfs serve` in a child process, stopped with SIGTERM on drop.
struct Served {
    child: Child,
    sock: PathBuf,
}

impl Served {
    fn start(dev: &Path, sock: &Path) -> Self {
        let bin = env!("CARGO_BIN_EXE_vhost-famfs");
        let child = Command::new(bin)
            .arg("--system-uuid")
            .arg(MASTER.to_string())
            .arg("serve")
            .arg("-D")
            .arg(dev)
            .arg("-s")
            .arg(format!("{},role=master,tag=bench", sock.display()))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        // Nothing announces a bound socket: look for it (setup only).
        let deadline = Instant::now() + TIMEOUT;
        while !sock.exists() {
            assert!(Instant::now() < deadline, "{} never bound", sock.display());
            std::thread::sleep(Duration::from_millis(1));
        }
        Served {
            child,
            sock: sock.to_path_buf(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The memory lines of /proc/<pid>/status.
    fn status(&self) -> Status {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| -> u64 {
            s.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
        };
        Status {
            rss: field("VmRSS"),
            hwm: field("VmHWM"),
            anon: field("RssAnon"),
            file: field("RssFile"),
            shmem: field("RssShmem"),
            threads: field("Threads"),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// kB, as /proc shows them.
struct Status {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    shmem: u64,
    threads: u64,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |kb: u64| kb as f64 / 1024.0;
        write!(
            f,
            "VmRSS {:.1} MiB (RssAnon {:.1}, RssFile {:.1}, RssShmem {:.1}), VmHWM {:.1} MiB, {} threads",
            mib(self.rss),
            mib(self.anon),
            mib(self.file),
            mib(self.shmem),
            mib(self.hwm),
            self.threads
        )
    }
}

/// A VMM connected to `srv` whose driver has sent INIT; the window's
/// SHMEM_MAP has arrived.
fn connect(srv: &Served) -> Vm {
    let mut vm = Vm::connect(&srv.sock, Opts::full());
    vm.init().unwrap();
    match vm.backend_msg() {
        BackendMsg::Map(..) => {}
        BackendMsg::Unmap(m) => panic!("SHMEM_UNMAP {m:?} instead of a map"),
        BackendMsg::Failed(e) => panic!("backend channel failed: {e}"),
    }
    vm
}

/// One timed operation; its argument counts the rounds.
type Op<'a> = (&'a str, Box<dyn FnMut(&mut Vm, usize) + 'a>);

/// Runs the operations in turn, `warmup` rounds then `rounds` timed
/// ones, so that all of them meet the same conditions on the machine.
fn interleaved(vm: &mut Vm, warmup: usize, rounds: usize, mut ops: Vec<Op<'_>>) {
    let mut t = vec![Vec::with_capacity(rounds); ops.len()];
    for i in 0..warmup + rounds {
        for (k, (_, op)) in ops.iter_mut().enumerate() {
            let s = Instant::now();
            op(vm, i);
            let d = s.elapsed();
            if i >= warmup {
                t[k].push(d);
            }
        }
    }
    for ((name, _), t) in ops.iter().zip(&mut t) {
        report(name, t);
    }
}

/// Two threads of this process passing a token through a pair of
/// eventfds, each waiting with epoll: the two wake-ups every vhost-user
/// round trip pays (kick, call), for comparison.
struct PingPong {
    ping: Arc<EventFd>,
    pong: EventFd,
    epoll: Epoll,
    peer: Option<std::thread::JoinHandle<()>>,
}

impl PingPong {
    /// Written instead of 1 to end the peer.
    const STOP: u64 = 2;

    /// The peer thread runs on `peer_cpu` when given.
    fn new(peer_cpu: Option<usize>) -> Self {
        let ping = Arc::new(EventFd::new(EFD_NONBLOCK).unwrap());
        let pong = EventFd::new(EFD_NONBLOCK).unwrap();
        let (p, q) = (ping.clone(), pong.try_clone().unwrap());
        let peer = std::thread::spawn(move || {
            if let Some(cpu) = peer_cpu {
                pin(Pid::from_raw(0), cpu);
            }
            let epoll = Epoll::new().unwrap();
            epoll
                .ctl(
                    ControlOperation::Add,
                    p.as_raw_fd(),
                    EpollEvent::new(EventSet::IN, 0),
                )
                .unwrap();
            let mut ev = [EpollEvent::default()];
            loop {
                epoll.wait(-1, &mut ev).unwrap();
                match p.read() {
                    Ok(PingPong::STOP) => break,
                    Ok(_) => q.write(1).unwrap(),
                    Err(_) => {}
                }
            }
        });
        let epoll = Epoll::new().unwrap();
        epoll
            .ctl(
                ControlOperation::Add,
                pong.as_raw_fd(),
                EpollEvent::new(EventSet::IN, 0),
            )
            .unwrap();
        PingPong {
            ping,
            pong,
            epoll,
            peer: Some(peer),
        }
    }

    fn round_trip(&self) {
        self.ping.write(1).unwrap();
        let mut ev = [EpollEvent::default()];
        while self.pong.read().is_err() {
            self.epoll.wait(-1, &mut ev).unwrap();
        }
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        self.ping.write(Self::STOP).unwrap();
        let _ = self.peer.take().unwrap().join();
    }
}

/// Restricts thread `tid` (0: the calling thread) to `cpu`.
fn pin(tid: Pid, cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu).unwrap();
    sched_setaffinity(tid, &set).unwrap();
}

/// Restricts every thread of process `pid` to `cpus` (None: any CPU).
fn place_process(pid: u32, cpus: Option<usize>) {
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: i32 = t.unwrap().file_name().to_str().unwrap().parse().unwrap();
        match cpus {
            Some(cpu) => pin(Pid::from_raw(tid), cpu),
            None => sched_setaffinity(Pid::from_raw(tid), &all_cpus()).unwrap(),
        }
    }
}

fn all_cpus() -> CpuSet {
    let mut set = CpuSet::new();
    for cpu in 0..online_cpus() {
        set.set(cpu).unwrap();
    }
    set
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where the two ends of a round trip run. Waking an idle CPU can cost
/// far more than the work itself (on a virtual machine it is a trip
/// through the hypervisor), so each placement is measured with its own
/// ping-pong baseline.
#[derive(Clone, Copy)]
enum Placement {
    /// The scheduler decides (as in production).
    Free,
    /// Client, daemon and ping-pong peer all on CPU 0: no idle CPU is
    /// woken, what remains is the software path.
    OneCpu,
    /// Client on CPU 0, daemon and ping-pong peer on CPU 1: every round
    /// trip wakes the other CPU twice.
    TwoCpus,
}

impl Placement {
    fn name(self) -> &'static str {
        match self {
            Placement::Free => "unpinned",
            Placement::OneCpu => "one CPU",
            Placement::TwoCpus => "two CPUs",
        }
    }

    /// (client CPU, server CPU); None: unpinned.
    fn cpus(self) -> (Option<usize>, Option<usize>) {
        match self {
            Placement::Free => (None, None),
            Placement::OneCpu => (Some(0), Some(0)),
            Placement::TwoCpus => (Some(0), Some(1)),
        }
    }

    /// Places this thread and the daemon.
    fn apply(self, daemon: u32) {
        let (client, server) = self.cpus();
        match client {
            Some(cpu) => pin(Pid::from_raw(0), cpu),
            None => sched_setaffinity(Pid::from_raw(0), &all_cpus()).unwrap(),
        }
        place_process(daemon, server);
    }
}

/// Round trips against one daemon.
fn bench_round_trips(dev: &Path, dir: &Path) {
    let srv = Served::start(dev, &dir.join("rt.sock"));
    let mut vm = connect(&srv);
    let big = vm.lookup(ROOT_INO, "big.bin").unwrap().nodeid.to_native();
    let (err, out, exts) = vm.get_fmap(big, FMAP_CAP);
    assert_eq!((err, out.file_size.to_native()), (0, BIG));
    let nexts = exts.len();
    println!(
        "daemon: {} serve (pid {}); big.bin: {} MiB in {nexts} extent(s)",
        env!("CARGO_BIN_EXE_vhost-famfs"),
        srv.pid(),
        BIG >> 20,
    );
    let small = vm.lookup(ROOT_INO, "small").unwrap().nodeid.to_native();
    let small_names: Vec<String> = (0..SMALL).map(|i| format!("s{i}")).collect();
    let root_names: Vec<String> = (0..FILES - 1 - SMALL).map(root_name).collect();
    let mut placements = vec![Placement::Free, Placement::OneCpu];
    if online_cpus() >= 2 {
        placements.push(Placement::TwoCpus);
    }
    for placement in placements {
        placement.apply(srv.pid());
        println!("-- placement: {}", placement.name());
        let pp = PingPong::new(placement.cpus().1);
        interleaved(
            &mut vm,
            WARMUP,
            ROUNDS,
            vec![
                (
                    "eventfd + epoll ping-pong, no vhost-user",
                    Box::new(|_, _| pp.round_trip()),
                ),
                (
                    // An opcode the device does not know is answered at once.
                    "round trip, unknown opcode (ENOSYS)",
                    Box::new(|vm, _| {
                        let (h, _) = vm.request(0x100, ROOT_INO, &[], 64);
                        assert_eq!(h.error.to_native(), libc::ENOSYS as u32);
                    }),
                ),
                (
                    "GET_FMAP of a 64 MiB file",
                    Box::new(|vm, _| {
                        let (err, _, e) = vm.get_fmap(big, FMAP_CAP);
                        assert_eq!((err, e.len()), (0, nexts));
                    }),
                ),
                (
                    "LOOKUP, directory of 8 files",
                    Box::new(|vm, i| {
                        vm.lookup(small, &small_names[i % SMALL]).unwrap();
                    }),
                ),
                (
                    "GETATTR of a file",
                    Box::new(|vm, _| {
                        vm.getattr(big).unwrap();
                    }),
                ),
                (
                    // 16,384 allocation units, 15,000 files.
                    "STATFS",
                    Box::new(|vm, _| {
                        vm.statfs().unwrap();
                    }),
                ),
            ],
        );
        drop(pp);
    }
    Placement::Free.apply(srv.pid());
    // Slow (see docs/benchmarks.md): fewer rounds.
    interleaved(
        &mut vm,
        WARMUP / 10,
        ROUNDS / 10,
        vec![
            (
                "LOOKUP, root directory of 14,993 entries",
                Box::new(|vm, i| {
                    let name = &root_names[(i * 7919) % root_names.len()];
                    vm.lookup(ROOT_INO, name).unwrap();
                }),
            ),
            (
                "GETATTR of the root directory",
                Box::new(|vm, _| {
                    vm.getattr(ROOT_INO).unwrap();
                }),
            ),
        ],
    );
    println!("daemon after the round trips: {}", srv.status());
    stop_vm(vm);
}

fn stop_vm(vm: Vm) {
    vm.no_backend_msg();
    drop(vm);
}

/// Resident memory of a fresh daemon serving the 15,000-file device.
fn bench_memory(dev: &Path, dir: &Path) {
    let srv = Served::start(dev, &dir.join("mem.sock"));
    // Started: the log is replayed and the socket bound.
    println!("daemon started, no VMM:                  {}", srv.status());
    let mut vm = connect(&srv);
    let s = Instant::now();
    let (entries, pages) = read_all(&mut vm, ROOT_INO, 64 << 10);
    let took = s.elapsed();
    // All files but those in small/, and small/ itself.
    assert_eq!(entries.len(), FILES - SMALL + 1);
    println!(
        "READDIR of the root: {} entries in {pages} replies of <= 64 KiB, {took:.1?}",
        entries.len()
    );
    // One pass of each: a GET_FMAP right after a slow LOOKUP (below)
    // waits longer for the daemon's worker thread to be scheduled.
    let (mut lookups, mut fmaps) = (Vec::new(), Vec::new());
    for e in &entries {
        let s = Instant::now();
        let a = vm.lookup(ROOT_INO, &e.name).unwrap();
        lookups.push(s.elapsed());
        assert_eq!(a.nodeid.to_native(), e.nodeid);
    }
    for e in entries.iter().filter(|e| e.dtype == DT_REG) {
        let s = Instant::now();
        let (err, _, _) = vm.get_fmap(e.nodeid, FMAP_CAP);
        fmaps.push(s.elapsed());
        assert_eq!(err, 0, "{}", vhost_famfs::meta::path::escape(&e.name));
    }
    report("  LOOKUP of every root entry", &mut lookups);
    report("  GET_FMAP of every root file", &mut fmaps);
    println!(
        "daemon after INIT, READDIR, LOOKUP, GET_FMAP: {}",
        srv.status()
    );
    stop_vm(vm);
}

/// What a driver sends to list the root, stat every entry and map every
/// file: READDIR + LOOKUP per entry + GET_FMAP per file (a driver without
/// F_READDIRPLUS and F_ENTRY_FMAP), or READDIRPLUS alone with maps inline.
/// Returns the requests sent and the entries seen.
fn walk(vm: &mut Vm, plus: bool) -> (usize, usize) {
    let mut requests = 0;
    let mut cookie = 0;
    let mut entries = 0;
    loop {
        requests += 1;
        let eof = if plus {
            let (flags, list) = vm.readdirplus(ROOT_INO, cookie, 64 << 10).unwrap();
            for e in &list {
                // Every file's one-extent map came with its entry.
                assert!(e.dtype == DT_DIR || !e.fmap.is_empty());
            }
            cookie = list.last().map_or(cookie, |e| e.cookie);
            entries += list.len();
            flags & READDIR_F_EOF != 0
        } else {
            let (flags, list) = vm.readdir(ROOT_INO, cookie, 64 << 10).unwrap();
            for e in &list {
                requests += 1;
                let a = vm.lookup(ROOT_INO, &e.name).unwrap();
                assert_eq!(a.nodeid.to_native(), e.nodeid);
                if e.dtype == DT_REG {
                    requests += 1;
                    assert_eq!(vm.get_fmap(e.nodeid, FMAP_CAP).0, 0);
                }
            }
            cookie = list.last().map_or(cookie, |e| e.cookie);
            entries += list.len();
            flags & READDIR_F_EOF != 0
        };
        if eof {
            return (requests, entries);
        }
    }
}

/// The metadata walk of issue 14 at the wire: the 14,993-entry root
/// listed, every entry's attributes and every file's map, by a driver
/// without and with READDIRPLUS and inline maps, alternating, 3 rounds.
fn bench_walk(dev: &Path, dir: &Path) {
    let srv = Served::start(dev, &dir.join("walk.sock"));
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut counts = [(0, 0); 2];
    for _ in 0..3 {
        for plus in [false, true] {
            let opts = Opts {
                readdirplus: plus,
                entry_fmap: plus,
                ..Opts::full()
            };
            let mut vm = Vm::connect(&srv.sock, opts);
            vm.init().unwrap();
            let _ = vm.backend_msg();
            let s = Instant::now();
            counts[usize::from(plus)] = walk(&mut vm, plus);
            times[usize::from(plus)].push(s.elapsed());
            stop_vm(vm);
        }
    }
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let (old, new) = (median(&mut times[0]), median(&mut times[1]));
    for (label, (requests, entries), t) in [
        ("READDIR + LOOKUP + GET_FMAP", counts[0], old),
        ("READDIRPLUS, maps inline", counts[1], new),
    ] {
        println!(
            "walk of the root, {label:<28} {entries} entries, {requests} requests ({:.4} per entry), median {t:.1?}",
            requests as f64 / entries as f64
        );
    }
    println!(
        "  READDIRPLUS walk / READDIR walk: time {:.3}, requests {:.4}",
        new.as_secs_f64() / old.as_secs_f64(),
        counts[1].0 as f64 / counts[0].0 as f64
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not.
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        println!("daemon benchmarks: run with `cargo bench --bench daemon`");
        return;
    }
    let dir = scratch_dir();
    let dev = dir.path().join("famfs.dev");
    let s = Instant::now();
    make_device(&dev);
    println!("made in {:.1?}", s.elapsed());
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load().trim());
    bench_round_trips(&dev, dir.path());
    bench_memory(&dev, dir.path());
    bench_walk(&dev, dir.path());
    println!("load average after: {}", load().trim());
}
