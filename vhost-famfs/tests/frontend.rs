// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vhost-user protocol end to end: this test plays the VMM.
//!
//! A real `Daemon` serves a file-backed device; the test connects with the
//! `vhost` crate's frontend, negotiates features, hands over guest memory
//! (a memfd) and answers the backend's SHMEM_MAP on the backend channel.
//! The guest is simulated by split virtqueues laid out in that memory,
//! through which virtio-famfs requests travel as a driver would send them
//! (spec/virtio-famfs.md). That VMM lives in tests/common/, which
//! benches/daemon.rs shares.
//!
//! The `spec_*` tests pin one rule of the specification each.

// `pub`: the items this test does not use are not dead code (common/mod.rs).
pub mod common;

use std::time::{Duration, Instant};

use common::*;
use vhost::vhost_user::message::{
    VhostUserConfigFlags, VhostUserMMapFlags, VhostUserProtocolFeatures,
};
use vhost::vhost_user::VhostUserFrontend;
use vhost::VhostBackend;
use vhost_famfs::daemon::SocketSpec;
use vhost_famfs::device::Device;
use vhost_famfs::hostio;
use vhost_famfs::meta::alloc::Striping;
use vhost_famfs::meta::fmap::Fmap;
use vhost_famfs::meta::namespace::{NodeKind, S_IFDIR, S_IFREG};
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::{Famfs, FileSpec, Node, ROOT_INO};
use vhost_famfs::protocol::*;
use vhost_famfs::server::Access;
use vhost_famfs::vhu_famfs::WindowMode;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use vm_memory::{ByteValued, Bytes, FileOffset, GuestAddress, MmapRegion, VolatileMemory};

/// Not a power of two: the shared memory region must be rounded up.
const DEV_SIZE: u64 = 72 << 20;
/// The daemon's watcher polls every 100 ms; a loaded CI machine once took
/// more than 2 s to deliver one, so the bound is generous.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Lengths of the names in "many/" (the path "many/<name>" fits 79 bytes).
const MANY: [usize; 12] = [1, 7, 8, 9, 15, 16, 17, 40, 63, 64, 74, 5];

// ---------------------------------------------------------------------
// The device
// ---------------------------------------------------------------------

/// Byte `i` of every file the fixture fills.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 12).wrapping_mul(7) ^ (i >> 21)) as u8
}

fn many_name(i: usize) -> String {
    let mut n = format!("{i:02}");
    n.truncate(MANY[i]);
    while n.len() < MANY[i] {
        n.push((b'a' + (n.len() % 26) as u8) as char);
    }
    n
}

/// Root: data.bin (one extent), striped.bin (four extents), a, b, c,
/// dir/inner, many/ (a mix of 12 files and directories with names of
/// 1 to 74 bytes). Both data files hold `pattern`.
fn fixture() -> Fixture {
    Fixture::build(DEV_SIZE, |fs| {
        let data = fs
            .create(&rp("data.bin"), &file_spec((3 << 20) + 4321))
            .unwrap();
        let striped = fs
            .create(
                &rp("striped.bin"),
                &FileSpec {
                    striping: Some(Striping {
                        strips: 2,
                        chunk_size: 2 << 20,
                    }),
                    ..file_spec(8 << 20)
                },
            )
            .unwrap();
        for n in ["a", "b", "c"] {
            fs.create(&rp(n), &file_spec(100)).unwrap();
        }
        fs.mkdir(&rp("dir"), 0o750, 1000, 100).unwrap();
        fs.create(&rp("dir/inner"), &file_spec(1)).unwrap();
        fs.mkdir(&rp("many"), 0o755, 0, 0).unwrap();
        for i in 0..MANY.len() {
            let p = rp(&format!("many/{}", many_name(i)));
            if i % 4 == 1 {
                fs.create(&p, &file_spec(i as u64)).unwrap();
            } else {
                fs.mkdir(&p, 0o755, 0, 0).unwrap();
            }
        }
        for node in [&data, &striped] {
            fill_pattern(fs, node, pattern);
        }
        assert_eq!(striped.extents().len(), 4, "{:?}", striped.extents());
    })
}

impl Fixture {
    fn sock(&self, name: &str, access: Access) -> SocketSpec {
        SocketSpec {
            access: Some(access),
            tag: format!("tag-{name}"),
            ..SocketSpec::at(self.dir.join(name))
        }
    }

    fn meta_size(&self) -> u64 {
        self.fs.superblock().meta_size()
    }

    /// Another process's view of the device (the host CLI).
    fn other_handle(&self) -> Famfs {
        Famfs::open(&self.dev, &open_opts(true)).unwrap()
    }
}

/// The attributes the spec (7.4) gives a node the host knows.
fn attr_of(fs: &Famfs, n: &Node) -> Attr {
    let subdirs = fs.with_ns(|ns| ns.children_after(n.ino, 0).filter(|c| c.is_dir()).count());
    Attr {
        nodeid: n.ino.into(),
        size: n.size().into(),
        blocks: (n.allocated() / 512).into(),
        generation: n.log_index.map_or(0, |i| i + 1).into(),
        mode: n.mode.into(),
        uid: n.uid.into(),
        gid: n.gid.into(),
        nlink: if n.is_dir() { 2 + subdirs as u32 } else { 1 }.into(),
        flags: 0.into(),
        padding: 0.into(),
    }
}

/// The expected READDIR listing of a host directory.
fn host_listing(fs: &Famfs, dir: u64) -> Vec<Entry> {
    fs.with_ns(|ns| {
        ns.children_after(dir, 0)
            .map(|n| Entry {
                nodeid: n.ino,
                cookie: n.ino,
                dtype: if n.is_dir() { DT_DIR } else { DT_REG },
                name: n.name.to_vec(),
            })
            .collect()
    })
}

/// The SHMEM_MAP a connection sends on its first INIT, checked, and the
/// window it describes, mapped as a VMM would map it.
fn expect_map(vm: &Vm, fx: &Fixture, writable: bool) -> Window {
    let (m, file) = match vm.backend_msg() {
        BackendMsg::Map(m, f) => (m, f),
        BackendMsg::Unmap(m) => panic!("SHMEM_UNMAP {m:?} instead of a map"),
        BackendMsg::Failed(e) => panic!("backend channel failed: {e}"),
    };
    let (shmid, fd_offset, shm_offset, len, flags) =
        (m.shmid, m.fd_offset, m.shm_offset, m.len, m.flags);
    let meta = fx.meta_size();
    assert_eq!(shmid, 0);
    assert_eq!(shm_offset, meta, "shm_offset");
    assert_eq!(fd_offset, meta, "fd_offset");
    assert_eq!(len, fx.dev_size - meta, "len");
    let region = vm.shmem.as_ref().unwrap().memory_sizes[0];
    assert!(shm_offset + len <= region, "mapping exceeds the region");
    assert_eq!(
        flags & VhostUserMMapFlags::WRITABLE.bits() != 0,
        writable,
        "WRITABLE flag"
    );
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    let map = MmapRegion::<()>::build(
        Some(FileOffset::new(file, fd_offset)),
        len as usize,
        prot,
        libc::MAP_SHARED,
    )
    .unwrap();
    Window {
        map,
        shm_offset,
        len,
    }
}

/// Shared memory region 0 as the guest sees it, where it is mapped.
struct Window {
    map: MmapRegion<()>,
    shm_offset: u64,
    len: u64,
}

impl Window {
    fn read(&self, offset: u64, len: usize) -> Vec<u8> {
        assert!(offset >= self.shm_offset && offset + len as u64 <= self.shm_offset + self.len);
        let mut b = vec![0u8; len];
        self.map
            .get_slice((offset - self.shm_offset) as usize, len)
            .unwrap()
            .copy_to(&mut b[..]);
        b
    }

    fn write(&self, offset: u64, data: &[u8]) {
        assert!(offset >= self.shm_offset);
        self.map
            .get_slice((offset - self.shm_offset) as usize, data.len())
            .unwrap()
            .copy_from(data);
    }

    /// The file's bytes appear at window offset == device offset.
    fn check_file(&self, node: &Node) {
        for (file_off, dev_off, len) in hostio::data_ranges(node) {
            let n = len.min(4096) as usize;
            for at in [0, len - n as u64] {
                let got = self.read(dev_off + at, n);
                let want: Vec<u8> = (0..n as u64).map(|i| pattern(file_off + at + i)).collect();
                assert!(
                    got == want,
                    "{}: bytes at file offset {}",
                    escape(&node.name),
                    file_off + at
                );
            }
        }
    }
}

/// Checks the configuration space and the shared memory configuration.
fn check_config(vm: &mut Vm, fx: &Fixture, tag: &str, flags: u32) {
    let c = vm.config();
    let t = tag.as_bytes();
    assert_eq!(&c.tag[..t.len()], t);
    assert!(c.tag[t.len()..].iter().all(|&b| b == 0));
    assert_eq!(c.num_request_queues.to_native(), 1);
    assert_eq!(c.flags.to_native(), flags, "config flags");
    assert_eq!(c.fs_uuid, *fx.fs.superblock().fs_uuid.as_bytes());
    assert_eq!(c.magic.to_native(), MAGIC);
    assert_eq!(c.device_size.to_native(), DEV_SIZE);
    assert_eq!(c.alloc_unit.to_native(), 2 << 20);
    assert_eq!(c.meta_size.to_native(), fx.meta_size());
    assert!(c.max_extents.to_native() >= 16);
    assert_eq!(c.version.to_native(), (VERSION_MAJOR << 16) | VERSION_MINOR);
    if let Some(s) = vm.shmem {
        assert_eq!(s.nregions, 1);
        assert_eq!(s.memory_sizes[0], DEV_SIZE.next_power_of_two());
        assert!(s.memory_sizes[1..].iter().all(|&x| x == 0));
    }
}

/// The chunk size and strips the host recorded for an interleaved file.
fn host_strips(n: &Node) -> (u64, Vec<(u64, u64)>) {
    match &n.kind {
        NodeKind::File {
            fmap: Fmap::Interleaved { chunk_size, strips },
            ..
        } => (
            *chunk_size,
            strips.iter().map(|e| (e.offset, e.len)).collect(),
        ),
        k => panic!("{}: not interleaved: {k:?}", escape(&n.name)),
    }
}

/// Where file byte `pos` lives in an interleaved map (spec 7.10).
fn strip_offset(chunk: u64, strips: &[(u64, u64)], pos: u64) -> u64 {
    let k = pos / chunk;
    let n = strips.len() as u64;
    strips[(k % n) as usize].0 + (k / n) * chunk + pos % chunk
}

/// A fixture, a daemon with one socket, and a VMM whose driver has sent
/// INIT; the window mapping has been checked and consumed.
fn session(access: Access, opts: Opts) -> (Fixture, Running, Vm) {
    let fx = fixture();
    let sock = fx.sock("famfs.sock", access);
    let (srv, mut vm) = serve(&fx.fs, &sock, opts);
    vm.init().unwrap();
    expect_map(&vm, &fx, access != Access::ReadOnly);
    (fx, srv, vm)
}

// ---------------------------------------------------------------------
// Functional tests
// ---------------------------------------------------------------------

/// With F_INTERLEAVE a striped file's map is its chunk size and strips;
/// without it, the same file comes as one extent per chunk.
#[test]
fn striped_map_is_compact_with_f_interleave() {
    let fx = fixture();
    let n = fx.stat("striped.bin");
    let (chunk, strips) = host_strips(&n);
    let sock = fx.sock("striped.sock", Access::Client);
    let (srv, mut vm) = serve(&fx.fs, &sock, Opts::full());
    vm.init().unwrap();
    let win = expect_map(&vm, &fx, true);
    let (err, out, got_chunk, got) = vm.get_fmap_any(n.ino, 4096);
    assert_eq!(err, 0);
    assert_eq!(out.kind.to_native(), FMAP_INTERLEAVED);
    assert_eq!(out.nextents.to_native(), 2);
    assert_eq!(out.file_size.to_native(), n.size());
    assert_eq!((got_chunk, &got), (Some(chunk), &strips));
    // The arithmetic of 7.10 finds every byte the host wrote.
    for pos in [0, 4095, chunk - 1, chunk, 3 * chunk + 17, n.size() - 1] {
        let want = pattern(pos);
        assert_eq!(
            win.read(strip_offset(chunk, &got, pos), 1)[0],
            want,
            "{pos}"
        );
    }
    // Room for the header, the chunk size and both strips, and one short.
    let exact = (HDR + 16 + 8 + 16 * 2) as u32;
    assert_eq!(vm.get_fmap_any(n.ino, exact).3, strips);
    let (err, short, _, exts) = vm.get_fmap_any(n.ino, exact - 16);
    assert_eq!((err, short.nextents.to_native()), (libc::E2BIG, 2));
    assert_eq!(short.kind.to_native(), FMAP_INTERLEAVED);
    assert!(exts.is_empty());
    stop(srv, vm);

    // A driver without the feature gets the chunks as simple extents.
    let srv = Running::start(&fx.fs, std::slice::from_ref(&sock));
    let opts = Opts {
        interleave: false,
        ..Opts::full()
    };
    let mut vm = Vm::connect(&sock.path, opts);
    assert_eq!(vm.features & (1 << F_INTERLEAVE), 0);
    vm.init().unwrap();
    expect_map(&vm, &fx, true);
    let (err, out, exts) = vm.get_fmap(n.ino, 4096);
    let want: Vec<(u64, u64)> = n.extents().iter().map(|e| (e.offset, e.len)).collect();
    assert_eq!((err, out.kind.to_native()), (0, FMAP_SIMPLE));
    assert_eq!((exts.len(), exts), (4, want));
    stop(srv, vm);
}

/// A 64 GiB file striped over 16 strips in 2 MiB chunks (32768 chunks) on
/// a sparse device: 16 strips with F_INTERLEAVE; without it, E2BIG naming
/// the 32768 extents, more than `max_extents`, so such a driver knows at
/// once that it cannot map the file.
#[test]
fn a_64_gib_striped_file_maps_through_16_strips() {
    const BIG: u64 = 64 << 30;
    let fx = Fixture::build(BIG + (64 << 20), |fs| {
        let spec = FileSpec {
            striping: Some(Striping {
                strips: 16,
                chunk_size: 2 << 20,
            }),
            ..file_spec(BIG)
        };
        fs.create(&rp("big.bin"), &spec).unwrap();
    });
    let n = fx.stat("big.bin");
    // Marks at file offsets across strips and rows, written where the
    // host's own expansion of the map puts them.
    let host = fx.other_handle();
    let marks = [0, (2 << 20) + 5, 15 * (2 << 20), BIG / 2 + 12345, BIG - 8];
    let ranges = hostio::data_ranges(&n);
    for (i, &pos) in marks.iter().enumerate() {
        let (f, dv, _) = *ranges
            .iter()
            .find(|(f, _, l)| (*f..f + l).contains(&pos))
            .unwrap();
        host.device()
            .write_bytes(dv + pos - f, &(i as u64 + 0xfa).to_le_bytes())
            .unwrap();
    }
    let sock = fx.sock("big.sock", Access::Client);
    let (srv, mut vm) = serve(&fx.fs, &sock, Opts::full());
    vm.init().unwrap();
    let win = expect_map(&vm, &fx, true);
    let (err, out, chunk, strips) = vm.get_fmap_any(n.ino, 4096);
    assert_eq!((err, out.kind.to_native()), (0, FMAP_INTERLEAVED));
    assert_eq!((chunk, strips.len()), (Some(2 << 20), 16));
    assert_eq!(out.file_size.to_native(), BIG);
    let chunk = chunk.unwrap();
    for (i, &pos) in marks.iter().enumerate() {
        let got = win.read(strip_offset(chunk, &strips, pos), 8);
        assert_eq!(got, (i as u64 + 0xfa).to_le_bytes(), "file offset {pos:#x}");
    }
    stop(srv, vm);

    let srv = Running::start(&fx.fs, std::slice::from_ref(&sock));
    let opts = Opts {
        interleave: false,
        ..Opts::full()
    };
    let mut vm = Vm::connect(&sock.path, opts);
    let max = vm.config().max_extents.to_native();
    vm.init().unwrap();
    expect_map(&vm, &fx, true);
    let (err, out, exts) = vm.get_fmap(n.ino, 64 << 10);
    assert_eq!((err, out.nextents.to_native()), (libc::E2BIG, 32768));
    assert!(out.nextents.to_native() > max && exts.is_empty());
    stop(srv, vm);
}

#[test]
fn master_serves_every_request() {
    let fx = fixture();
    let sock = fx.sock("master.sock", Access::Master);
    let (srv, mut vm) = serve(&fx.fs, &sock, Opts::full());
    assert_ne!(vm.features & (1 << VIRTIO_RING_F_EVENT_IDX), 0);
    check_config(&mut vm, &fx, &sock.tag, CFG_F_MAY_CREATE);
    // Partial reads; reads past the structure are zeros.
    let (_, tail) = vm
        .frontend
        .get_config(64, 16, VhostUserConfigFlags::empty(), &[0; 16])
        .unwrap();
    assert_eq!(tail[..8], DEV_SIZE.to_le_bytes());
    let (_, tail) = vm
        .frontend
        .get_config(96, 32, VhostUserConfigFlags::empty(), &[0; 32])
        .unwrap();
    assert_eq!(tail, vec![0; 32]);

    // Nothing but INIT before INIT; INIT maps the window, once.
    assert_eq!(vm.statfs().map(|_| ()), Err(libc::EPROTO));
    assert_eq!(vm.lookup(ROOT_INO, "a").map(|_| ()), Err(libc::EPROTO));
    vm.no_backend_msg();
    let init = vm.init().unwrap();
    assert_eq!(init.major.to_native(), VERSION_MAJOR);
    assert_eq!(init.minor.to_native(), VERSION_MINOR);
    assert_eq!(init.flags.to_native(), 0);
    assert!(init.max_readdir_bytes.to_native() >= 4096);
    assert_eq!(init.root_nodeid.to_native(), ROOT_INO);
    assert_eq!(init.log_generation.to_native(), fx.fs.applied());
    let win = expect_map(&vm, &fx, true);
    win.check_file(&fx.stat("data.bin"));
    win.check_file(&fx.stat("striped.bin"));
    let again = vm.init().unwrap();
    assert_eq!(again.as_slice(), init.as_slice());
    vm.no_backend_msg();

    // STATFS.
    let st = vm.statfs().unwrap();
    let u = fx.fs.usage().unwrap();
    assert_eq!(st.free_bytes.to_native(), u.free_bytes);
    assert_eq!(st.largest_free.to_native(), u.largest_free);
    assert_eq!(st.files.to_native(), 9);
    assert_eq!(st.dirs.to_native(), 12);
    assert_eq!(st.log_used.to_native(), fx.fs.applied());
    assert_eq!(st.log_slots.to_native(), u.log_slots);
    assert_eq!(st.bsize.to_native(), 2 << 20);
    assert_eq!(st.namelen.to_native(), NAME_MAX);

    // LOOKUP and GETATTR agree with the host.
    let data = fx.stat("data.bin");
    let a = vm.lookup(ROOT_INO, "data.bin").unwrap();
    assert_eq!(a, attr_of(&fx.fs, &data));
    assert_eq!(a.nodeid.to_native(), data.ino);
    assert_eq!(a.mode.to_native(), S_IFREG | 0o644);
    assert_eq!(a.size.to_native(), (3 << 20) + 4321);
    assert_eq!(a.blocks.to_native(), (4 << 20) / 512);
    assert_eq!(a.generation.to_native(), 1, "created by log entry 0");
    assert_eq!(a.uid.to_native(), 1000);
    assert_eq!(a.gid.to_native(), 100);
    assert_eq!(a.nlink.to_native(), 1);
    assert_eq!(a.flags.to_native(), 0);
    assert_eq!(vm.getattr(data.ino).unwrap(), a);
    let root = vm.getattr(ROOT_INO).unwrap();
    assert_eq!(root.mode.to_native() & 0o170000, S_IFDIR);
    assert_eq!(root.generation.to_native(), 0);
    let dir = vm.lookup(ROOT_INO, "dir").unwrap();
    assert_eq!(dir.nodeid.to_native(), fx.stat("dir").ino);
    assert_eq!(dir.mode.to_native(), S_IFDIR | 0o750);
    assert_eq!(dir.size.to_native(), 0);
    assert_eq!(dir.blocks.to_native(), 0);
    let inner = vm.lookup(dir.nodeid.to_native(), "inner").unwrap();
    assert_eq!(inner, attr_of(&fx.fs, &fx.stat("dir/inner")));
    assert_eq!(vm.lookup(ROOT_INO, "inner"), Err(libc::ENOENT));
    assert_eq!(vm.lookup(ROOT_INO, "missing"), Err(libc::ENOENT));
    let many = vm.lookup(ROOT_INO, "many").unwrap().nodeid.to_native();
    for i in 0..MANY.len() {
        let n = many_name(i);
        let want = fx.stat(&format!("many/{n}"));
        assert_eq!(vm.lookup(many, &n).unwrap().nodeid.to_native(), want.ino);
    }

    // READDIR, whole and paginated with resumption from cookies.
    for (d, count) in [
        (ROOT_INO, 7),
        (many, MANY.len()),
        (dir.nodeid.to_native(), 1),
    ] {
        let want = host_listing(&fx.fs, d);
        assert_eq!(want.len(), count);
        assert!(want.windows(2).all(|w| w[0].nodeid < w[1].nodeid));
        assert_eq!(read_all(&mut vm, d, 64 << 10), (want.clone(), 1));
        for cap in [READDIR_MIN, READDIR_MIN + 7, READDIR_MIN + 40, 300] {
            let (all, pages) = read_all(&mut vm, d, cap);
            assert_eq!(all, want, "buffer of {cap}");
            if cap == READDIR_MIN && d != dir.nodeid.to_native() {
                assert!(pages > 2, "buffer of {cap}: {pages} pages");
            }
        }
        // Resuming after any entry.
        for (k, e) in want.iter().enumerate() {
            let (flags, rest) = vm.readdir(d, e.cookie, 64 << 10).unwrap();
            assert_eq!(flags, READDIR_F_EOF);
            assert_eq!(rest, want[k + 1..]);
        }
    }
    // The largest entry alone fills the smallest buffer.
    let (flags, one) = vm
        .readdir(many, host_listing(&fx.fs, many)[9].cookie, READDIR_MIN)
        .unwrap();
    assert_eq!((flags, one.len(), one[0].name.len()), (0, 1, 74));

    // GET_FMAP, exact and too small.
    let small = format!("many/{}", many_name(1));
    for name in ["data.bin", "a", &small] {
        let n = fx.stat(name);
        let want: Vec<(u64, u64)> = n.extents().iter().map(|e| (e.offset, e.len)).collect();
        let (err, out, exts) = vm.get_fmap(n.ino, 4096);
        assert_eq!(err, 0, "{name}");
        assert_eq!(out.file_size.to_native(), n.size());
        assert_eq!(out.nextents.to_native() as usize, want.len());
        assert_eq!(out.kind.to_native(), FMAP_SIMPLE);
        assert_eq!(exts, want, "{name}");
        let meta = fx.meta_size();
        let mut total = 0;
        for &(off, len) in &exts {
            assert!(off >= meta && off + len <= DEV_SIZE && len > 0);
            assert_eq!((off % (2 << 20), len % (2 << 20)), (0, 0));
            total += len;
        }
        assert!(total >= n.size());
        // Exactly enough room.
        let cap = (HDR + 16 + 16 * want.len()) as u32;
        let (err, exact, exts) = vm.get_fmap(n.ino, cap);
        assert_eq!(
            (err, exact.nextents.to_native() as usize, exts),
            (0, want.len(), want.clone())
        );
        // One extent short: E2BIG with fmap_out, nextents = the count needed.
        let (err, short, exts) = vm.get_fmap(n.ino, cap - 16);
        assert_eq!(err, libc::E2BIG, "{name}");
        assert_eq!(short.nextents.to_native() as usize, want.len());
        assert_eq!(short.file_size.to_native(), n.size());
        assert!(exts.is_empty());
    }

    // CREATE: the host sees the file; its data is reachable through the
    // window at the offsets GET_FMAP gives.
    let generation = fx.fs.applied() + 1;
    let g = vm.create(ROOT_INO, "guest.bin", (5 << 20) + 1).unwrap();
    assert_eq!(g.mode.to_native(), S_IFREG | 0o640);
    assert_eq!((g.uid.to_native(), g.gid.to_native()), (7, 8));
    assert_eq!(g.size.to_native(), (5 << 20) + 1);
    assert_eq!(g.blocks.to_native(), (6 << 20) / 512);
    assert_eq!(g.generation.to_native(), generation);
    assert_eq!(fx.fs.applied(), generation);
    let host = Famfs::open(&fx.dev, &open_opts(false)).unwrap();
    let hg = host.stat("guest.bin").unwrap();
    assert_eq!(attr_of(&host, &hg), g);
    assert_eq!(vm.lookup(ROOT_INO, "guest.bin").unwrap(), g);
    let (_, _, exts) = vm.get_fmap(g.nodeid.to_native(), 4096);
    let want: Vec<(u64, u64)> = hg.extents().iter().map(|e| (e.offset, e.len)).collect();
    assert_eq!(exts, want);
    let msg = b"written by the guest through the window";
    win.write(exts[0].0 + 12345, msg);
    let mut back = vec![0u8; msg.len()];
    host.device()
        .read_bytes(exts[0].0 + 12345, &mut back)
        .unwrap();
    assert_eq!(&back, msg);
    // Plain permission bits work as well as S_IFREG | bits.
    let inp = CreateIn {
        mode: 0o600.into(),
        size: 1.into(),
        ..Default::default()
    };
    let p = vm
        .call(OP_CREATE, ROOT_INO, &name_body(inp, b"plain"), 256)
        .unwrap();
    assert_eq!(parse_exact::<Attr>(&p).mode.to_native(), S_IFREG | 0o600);
    assert_eq!(vm.create(data.ino, "x", 1), Err(libc::ENOTDIR));
    assert_eq!(vm.create(ROOT_INO, "huge", 1 << 40), Err(libc::ENOSPC));

    // MKDIR, and a file inside the new directory.
    let d = vm.mkdir(ROOT_INO, "gdir").unwrap();
    assert_eq!(d.mode.to_native(), S_IFDIR | 0o711);
    assert_eq!((d.uid.to_native(), d.gid.to_native()), (7, 8));
    let f = vm.create(d.nodeid.to_native(), "f", 10).unwrap();
    let host = Famfs::open(&fx.dev, &open_opts(false)).unwrap();
    assert_eq!(attr_of(&host, &host.stat("gdir").unwrap()), d);
    assert_eq!(attr_of(&host, &host.stat("gdir/f").unwrap()), f);
    assert_eq!(vm.lookup(d.nodeid.to_native(), "f").unwrap(), f);
    assert_eq!(vm.mkdir(ROOT_INO, "gdir"), Err(libc::EEXIST));
    let st = vm.statfs().unwrap();
    assert_eq!((st.files.to_native(), st.dirs.to_native()), (12, 13));
    assert_eq!(st.log_used.to_native(), host.applied());

    // Indirect descriptors (negotiated) work too.
    let hdr = vm.req_hdr(OP_GETATTR, data.ino, 0);
    let (len, out) = vm.submit_on(
        FIRST_REQUEST_QUEUE as usize,
        &[Seg::R(hdr.as_slice().to_vec()), Seg::W(8), Seg::W(200)],
        true,
    );
    let (h, p) = check_reply(&hdr, len, &out);
    assert_eq!(h.error.to_native(), 0);
    assert_eq!(parse_exact::<Attr>(&p), a);

    stop(srv, vm);
}

/// Host-side changes reach the guest on the notification queue.
#[test]
fn notification_queue_announces_log_growth() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let cli = fx.other_handle();
    for round in 0..3 {
        let posted = vm.post_notify_buffer();
        // A stale announcement would show as a generation mismatch below.
        match round {
            0 => drop(cli.create(&rp("from-host"), &file_spec(1)).unwrap()),
            1 => drop(cli.mkdir(&rp("host-dir"), 0o755, 0, 0).unwrap()),
            // The guest's own change is announced as well.
            _ => drop(vm.create(ROOT_INO, "from-guest", 1).unwrap()),
        }
        let n = vm
            .wait_notify(&posted, NOTIFY_TIMEOUT)
            .unwrap_or_else(|| panic!("round {round}: no notification within {NOTIFY_TIMEOUT:?}"));
        assert_eq!(n.type_.to_native(), NOTIFY_NAMESPACE_CHANGED);
        cli.refresh().unwrap();
        assert_eq!(n.log_generation.to_native(), cli.applied(), "round {round}");
        // The guest now finds the new name.
        let name = ["from-host", "host-dir", "from-guest"][round];
        assert!(vm.lookup(ROOT_INO, name).is_ok(), "{name}");
    }
    // Several changes while no buffer is posted: one notification with the
    // latest generation once a buffer arrives.
    cli.create(&rp("x1"), &file_spec(1)).unwrap();
    cli.create(&rp("x2"), &file_spec(1)).unwrap();
    let last = cli.applied();
    let deadline = Instant::now() + NOTIFY_TIMEOUT;
    let n = loop {
        let posted = vm.post_notify_buffer();
        let n = vm
            .wait_notify(&posted, deadline.saturating_duration_since(Instant::now()))
            .expect("no notification for x1, x2");
        if n.log_generation.to_native() == last {
            break n;
        }
        assert!(n.log_generation.to_native() < last);
    };
    assert_eq!(n.type_.to_native(), NOTIFY_NAMESPACE_CHANGED);
    stop(srv, vm);
}

/// role=client and role=ro on one daemon: no creation; a read-only window
/// for ro.
#[test]
fn client_and_read_only_roles() {
    let fx = fixture();
    let client = fx.sock("client.sock", Access::Client);
    let ro = fx.sock("ro.sock", Access::ReadOnly);
    let srv = Running::start(&fx.fs, &[client.clone(), ro.clone()]);
    let mut vms = Vec::new();
    let applied = fx.fs.applied();
    for (s, flags, writable) in [(&client, 0, true), (&ro, CFG_F_READ_ONLY, false)] {
        // The client negotiates no EVENT_IDX: the plain notification path.
        let opts = Opts {
            event_idx: s.access == Some(Access::ReadOnly),
            ..Opts::full()
        };
        let mut vm = Vm::connect(&s.path, opts);
        check_config(&mut vm, &fx, &s.tag, flags);
        vm.init().unwrap();
        let win = expect_map(&vm, &fx, writable);
        win.check_file(&fx.stat("striped.bin"));
        let data = fx.stat("data.bin");
        assert_eq!(
            vm.lookup(ROOT_INO, "data.bin").unwrap(),
            attr_of(&fx.fs, &data)
        );
        assert_eq!(vm.getattr(data.ino).unwrap(), attr_of(&fx.fs, &data));
        let root = host_listing(&fx.fs, ROOT_INO);
        assert_eq!(read_all(&mut vm, ROOT_INO, READDIR_MIN).0, root);
        let want: Vec<(u64, u64)> = data.extents().iter().map(|e| (e.offset, e.len)).collect();
        assert_eq!(vm.get_fmap(data.ino, 4096).2, want);
        assert_eq!(vm.statfs().unwrap().files.to_native(), 9);
        assert_eq!(vm.create(ROOT_INO, "nope", 1), Err(libc::EROFS));
        assert_eq!(vm.mkdir(ROOT_INO, "nope"), Err(libc::EROFS));
        assert_eq!(vm.create(ROOT_INO, "a", 1), Err(libc::EROFS));
        vms.push(vm);
    }
    assert_eq!(fx.fs.applied(), applied);
    assert!(fx.other_handle().stat("nope").is_err());
    // Both connections hear about the master's changes.
    let posted: Vec<_> = vms.iter_mut().map(|vm| vm.post_notify_buffer()).collect();
    fx.other_handle()
        .create(&rp("news"), &file_spec(1))
        .unwrap();
    for (vm, p) in vms.iter_mut().zip(&posted) {
        let n = vm.wait_notify(p, NOTIFY_TIMEOUT).expect("no notification");
        assert_eq!(n.log_generation.to_native(), applied + 1);
        assert!(vm.lookup(ROOT_INO, "news").is_ok());
    }
    drop(vms);
    srv.stop();
}

/// Malformed and hostile requests get errors; the device keeps serving.
#[test]
fn adversarial_requests_get_errors() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let data = fx.stat("data.bin");
    let alive = |vm: &mut Vm, what: &str| {
        let st = vm
            .statfs()
            .unwrap_or_else(|e| panic!("STATFS after {what}: {e}"));
        assert_eq!(
            st.files.to_native(),
            fx.fs.usage().unwrap().files,
            "after {what}"
        );
    };
    let einval = libc::EINVAL as u32;

    // Fewer than 24 readable bytes: EINVAL, unique unknown (0).
    for n in [0usize, 1, 16, 23] {
        let (len, out) = vm.submit(&[Seg::R(vec![0xab; n]), Seg::W(64)]);
        assert_eq!(len as usize, HDR, "short header of {n}");
        let h: RespHdr = parse(&out);
        assert_eq!((h.error.to_native(), h.unique.to_native()), (einval, 0));
    }
    alive(&mut vm, "short header");

    // hdr.len larger than the readable part, or smaller than a header.
    for claim in [24 + 17, 1 << 20, u32::MAX, 23, 0] {
        let mut hdr = vm.req_hdr(OP_LOOKUP, ROOT_INO, 9);
        hdr.len = claim.into();
        let mut bytes = hdr.as_slice().to_vec();
        bytes.extend(name_body(LookupIn::default(), b"a"));
        let (len, out) = vm.submit(&[Seg::R(bytes), Seg::W(128)]);
        let (h, _) = check_reply(&hdr, len, &out);
        assert_eq!(h.error.to_native(), einval, "hdr.len {claim}");
    }
    alive(&mut vm, "bad hdr.len");

    // Unknown opcodes.
    for op in [0, 11, 0x100, u32::MAX] {
        let (h, p) = vm.request(op, ROOT_INO, &[], 64);
        assert_eq!(h.error.to_native(), libc::ENOSYS as u32, "opcode {op}");
        assert!(p.is_empty());
    }
    alive(&mut vm, "unknown opcodes");

    // Invalid names, for LOOKUP, CREATE and MKDIR.
    let long = "n".repeat(80);
    let cases: [(&[u8], i32); 9] = [
        (b"a/b", libc::EINVAL),
        (b"/", libc::EINVAL),
        (b"..", libc::EINVAL),
        (b".", libc::EINVAL),
        (b"a\0b", libc::EINVAL),
        (b"\0", libc::EINVAL),
        (b"", libc::EINVAL),
        (long.as_bytes(), libc::ENAMETOOLONG),
        (&[b'n'; 4000], libc::ENAMETOOLONG),
    ];
    for (name, errno) in cases {
        let shown = String::from_utf8_lossy(name);
        let body = name_body(LookupIn::default(), name);
        assert_eq!(
            vm.call(OP_LOOKUP, ROOT_INO, &body, 256),
            Err(errno),
            "LOOKUP {shown:?}"
        );
        let body = name_body(
            CreateIn {
                mode: 0o644.into(),
                size: 1.into(),
                ..Default::default()
            },
            name,
        );
        assert_eq!(
            vm.call(OP_CREATE, ROOT_INO, &body, 256),
            Err(errno),
            "CREATE {shown:?}"
        );
        let body = name_body(
            MkdirIn {
                mode: 0o755.into(),
                ..Default::default()
            },
            name,
        );
        assert_eq!(
            vm.call(OP_MKDIR, ROOT_INO, &body, 256),
            Err(errno),
            "MKDIR {shown:?}"
        );
    }
    // The longest name works; a path from the root over 79 bytes does not.
    let n79 = "n".repeat(79);
    assert_eq!(vm.create(ROOT_INO, &n79, 1).unwrap().size.to_native(), 1);
    assert!(vm.lookup(ROOT_INO, &n79).is_ok());
    let many = fx.stat("many").ino;
    assert_eq!(vm.create(many, &"m".repeat(75), 1), Err(libc::ENAMETOOLONG));
    assert_eq!(vm.mkdir(many, &"m".repeat(75)), Err(libc::ENAMETOOLONG));
    assert!(vm.mkdir(many, &"m".repeat(74)).is_ok());
    alive(&mut vm, "bad names");

    // namelen larger than the name sent: cut by hdr.len, or by the end of
    // the chain.
    let mut body = name_body(LookupIn::default(), b"data.bin");
    body[0] = 20;
    assert_eq!(vm.call(OP_LOOKUP, ROOT_INO, &body, 256), Err(libc::EINVAL));
    let hdr = vm.req_hdr(OP_LOOKUP, ROOT_INO, 8 + 20);
    let mut bytes = hdr.as_slice().to_vec();
    bytes.extend(&body);
    let (len, out) = vm.submit(&[Seg::R(bytes), Seg::W(128)]);
    assert_eq!(check_reply(&hdr, len, &out).0.error.to_native(), einval);
    // Bodies shorter than their fixed part.
    for (op, n) in [
        (OP_INIT, 15),
        (OP_LOOKUP, 7),
        (OP_READDIR, 7),
        (OP_CREATE, 31),
        (OP_MKDIR, 15),
    ] {
        let r = vm.call(op, ROOT_INO, &vec![0; n], 256);
        assert_eq!(r, Err(libc::EINVAL), "opcode {op} with a {n}-byte body");
    }
    // A request split over many descriptors is still one request.
    let hdr = vm.req_hdr(OP_LOOKUP, ROOT_INO, 8 + 8);
    let h = hdr.as_slice().to_vec();
    let b = name_body(LookupIn::default(), b"data.bin");
    let (len, out) = vm.submit(&[
        Seg::R(h[..10].to_vec()),
        Seg::R(h[10..].to_vec()),
        Seg::R(b[..5].to_vec()),
        Seg::R(b[5..11].to_vec()),
        Seg::R(b[11..].to_vec()),
        Seg::W(20),
        Seg::W(200),
    ]);
    let (h, p) = check_reply(&hdr, len, &out);
    assert_eq!(h.error.to_native(), 0);
    // The attributes lead the reply (attr, or entry_out with F_ENTRY_FMAP).
    assert_eq!(parse::<Attr>(&p), attr_of(&fx.fs, &data));
    alive(&mut vm, "truncated bodies");

    // Node ids that do not exist, for every node-taking opcode.
    for node in [0, 2, 3, 63, 65, ROOT_INO + (1 << 30), u64::MAX] {
        assert_eq!(vm.getattr(node), Err(libc::ESTALE), "GETATTR {node}");
        assert_eq!(vm.lookup(node, "a"), Err(libc::ESTALE), "LOOKUP in {node}");
        assert_eq!(
            vm.readdir(node, 0, 256),
            Err(libc::ESTALE),
            "READDIR {node}"
        );
        assert_eq!(vm.get_fmap(node, 256).0, libc::ESTALE, "GET_FMAP {node}");
        assert_eq!(
            vm.create(node, "z", 1),
            Err(libc::ESTALE),
            "CREATE in {node}"
        );
        assert_eq!(vm.mkdir(node, "z"), Err(libc::ESTALE), "MKDIR in {node}");
    }
    alive(&mut vm, "stale nodes");

    // Wrong node types, existing names, READDIR past the end.
    assert_eq!(vm.readdir(data.ino, 0, 256), Err(libc::ENOTDIR));
    assert_eq!(vm.lookup(data.ino, "a"), Err(libc::ENOTDIR));
    assert_eq!(vm.mkdir(data.ino, "a"), Err(libc::ENOTDIR));
    assert_eq!(vm.get_fmap(ROOT_INO, 4096).0, libc::EISDIR);
    assert_eq!(vm.get_fmap(fx.stat("dir").ino, 4096).0, libc::EISDIR);
    for cookie in [u64::MAX, u64::MAX - 1, 1 << 40] {
        // A cookie never returned: EOF and nothing, or EINVAL (spec 7.15).
        let r = vm.readdir(ROOT_INO, cookie, 256);
        assert!(matches!(&r, Ok((READDIR_F_EOF, e)) if e.is_empty()) || r == Err(libc::EINVAL));
    }
    let applied = fx.fs.applied();
    assert_eq!(vm.create(ROOT_INO, "a", 1), Err(libc::EEXIST));
    assert_eq!(vm.create(ROOT_INO, "dir", 1), Err(libc::EEXIST));
    assert_eq!(vm.mkdir(ROOT_INO, "data.bin"), Err(libc::EEXIST));
    assert_eq!(vm.mkdir(ROOT_INO, "dir"), Err(libc::EEXIST));
    assert_eq!(fx.fs.applied(), applied, "a failed request changed the log");
    alive(&mut vm, "wrong types");

    // Only a readable descriptor: no room for a reply, used length 0.
    let hdr = vm.req_hdr(OP_STATFS, 0, 0);
    let (len, _) = vm.submit(&[Seg::R(hdr.as_slice().to_vec())]);
    assert_eq!(len, 0);
    // Only a writable descriptor: EINVAL (no header to read).
    let (len, out) = vm.submit(&[Seg::W(64)]);
    assert_eq!(len as usize, HDR);
    assert_eq!(parse::<RespHdr>(&out).error.to_native(), einval);
    // Directions swapped: the request sits in a device-writable buffer and
    // the reply buffer is device-readable.
    let hdr = vm.req_hdr(OP_STATFS, 0, 0);
    let mut w = hdr.as_slice().to_vec();
    w.resize(64, 0);
    let (len, out) = vm.submit(&[Seg::Wd(w), Seg::R(vec![0; 64])]);
    assert_eq!(len as usize, HDR, "swapped directions");
    assert_eq!(parse::<RespHdr>(&out).error.to_native(), einval);
    // A writable part shorter than the response header: nothing written.
    for cap in [1, 8, 15] {
        let hdr = vm.req_hdr(OP_STATFS, 0, 0);
        let (len, _) = vm.submit(&[Seg::R(hdr.as_slice().to_vec()), Seg::W(cap)]);
        assert_eq!(len, 0, "reply buffer of {cap}");
        let (len, _) = vm.submit(&[Seg::R(vec![1, 2, 3]), Seg::W(cap)]);
        assert_eq!(len, 0, "reply buffer of {cap} for a bad header");
    }
    alive(&mut vm, "no room for a reply");

    // Descriptors outside guest memory: used with length 0.
    let hdr = vm.req_hdr(OP_STATFS, 0, 0);
    let (len, _) = vm.submit(&[
        Seg::R(hdr.as_slice().to_vec()),
        Seg::Raw(MEM_SIZE as u64, 64, true),
    ]);
    assert_eq!(len, 0);
    let (len, _) = vm.submit(&[Seg::Raw(u64::MAX - 8, 24, false), Seg::W(64)]);
    assert_eq!(len, 0);
    alive(&mut vm, "descriptors outside memory");

    // A request on the notification queue is not answered as a request.
    // The log grew above and nothing was announced yet: the device uses the
    // buffer for that notification, or drops it (used length 0).
    let hdr = vm.req_hdr(OP_STATFS, 0, 0);
    let q = &mut vm.queues[NOTIFY_QUEUE as usize];
    let (head, w) = q.add(
        &vm.mem,
        &[Seg::R(hdr.as_slice().to_vec()), Seg::W(256)],
        false,
    );
    let (id, len) = q
        .wait_used(&vm.mem, TIMEOUT)
        .expect("queue 0 buffer unused");
    assert_eq!(id, u32::from(head));
    if len != 0 {
        assert_eq!(len as usize, std::mem::size_of::<Notify>());
        let mut b = [0u8; 16];
        vm.mem.read_slice(&mut b, GuestAddress(w[0].0)).unwrap();
        let n: Notify = parse(&b);
        assert_eq!(n.type_.to_native(), NOTIFY_NAMESPACE_CHANGED);
        assert_eq!(n.log_generation.to_native(), fx.fs.applied());
    }
    alive(&mut vm, "a request on queue 0");

    stop(srv, vm);
}

/// A VMM without usable shared memory gets a metadata-only device: the
/// configuration says NO_WINDOW, INIT maps nothing, metadata is served
/// (spec 4, 5.2, 7.5).
#[test]
fn spec_no_window_device_serves_metadata() {
    let fx = fixture();
    let sock = fx.sock("noshm.sock", Access::Master);
    let srv = Running::start(&fx.fs, std::slice::from_ref(&sock));
    let full = Opts::full();
    let variants = [
        // SHMEM not negotiated at all.
        Opts {
            protocol: full.protocol - VhostUserProtocolFeatures::SHMEM,
            ..full
        },
        // SHMEM negotiated, but no backend channel to map with.
        Opts {
            protocol: full.protocol - VhostUserProtocolFeatures::BACKEND_REQ,
            ..full
        },
        // SHMEM negotiated, but the region never asked for.
        Opts {
            shmem_config: false,
            ..full
        },
    ];
    let mut failures = Vec::new();
    // One socket, one connection after the other: reconnecting works.
    for opts in variants {
        let mut vm = Vm::connect(&sock.path, opts);
        check_config(&mut vm, &fx, &sock.tag, CFG_F_MAY_CREATE | CFG_F_NO_WINDOW);
        match vm.init() {
            Ok(init) => assert_eq!(init.root_nodeid.to_native(), ROOT_INO),
            Err(e) => failures.push(format!("{:?}: INIT answered {e}", opts.protocol)),
        }
        vm.no_backend_msg();
        match vm.statfs() {
            Ok(st) => assert_eq!(st.files.to_native(), 9),
            Err(e) => failures.push(format!("{:?}: STATFS answered {e}", opts.protocol)),
        }
        let data = fx.stat("data.bin");
        match vm.lookup(ROOT_INO, "data.bin") {
            Ok(a) => assert_eq!(a, attr_of(&fx.fs, &data)),
            Err(e) => failures.push(format!("{:?}: LOOKUP answered {e}", opts.protocol)),
        }
        drop(vm);
    }
    // A full VMM on the same socket afterwards gets its window.
    let mut vm = Vm::connect(&sock.path, Opts::full());
    check_config(&mut vm, &fx, &sock.tag, CFG_F_MAY_CREATE);
    vm.init().unwrap();
    expect_map(&vm, &fx, true).check_file(&fx.stat("data.bin"));
    stop(srv, vm);
    assert!(
        failures.is_empty(),
        "metadata-only device:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------
// One rule of the specification each
// ---------------------------------------------------------------------

/// Spec 7.2/7.15: a writable part below the opcode's minimum (16 + fixed
/// reply struct; READDIR 16 + 8 + 104; GET_FMAP 32) gets ERANGE.
#[test]
fn spec_reply_room_below_minimum_is_erange() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let data = fx.stat("data.bin").ino;
    let lookup = name_body(LookupIn::default(), b"a");
    let readdir = ReaddirIn::default().as_slice().to_vec();
    // With F_ENTRY_FMAP, LOOKUP replies an entry_out (spec 7.10.1).
    let lookup_min = if vm.features & (1 << F_ENTRY_FMAP) != 0 {
        std::mem::size_of::<EntryOut>()
    } else {
        ATTR
    };
    let cases: [(&str, u32, u64, &[u8], usize); 6] = [
        ("STATFS", OP_STATFS, 0, &[], HDR + 64),
        ("GETATTR", OP_GETATTR, data, &[], HDR + ATTR),
        ("LOOKUP", OP_LOOKUP, ROOT_INO, &lookup, HDR + lookup_min),
        (
            "READDIR",
            OP_READDIR,
            ROOT_INO,
            &readdir,
            READDIR_MIN as usize,
        ),
        ("GET_FMAP", OP_GET_FMAP, data, &[], HDR + 16),
        (
            "INIT",
            OP_INIT,
            0,
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            HDR + 32,
        ),
    ];
    let mut failures = Vec::new();
    for (what, op, node, body, min) in cases {
        for cap in [HDR, min - 1] {
            let (h, p) = vm.request(op, node, body, cap as u32);
            if h.error.to_native() != libc::ERANGE as u32 || !p.is_empty() {
                failures.push(format!(
                    "{what} with {cap} writable bytes (minimum {min}): error {}, {} payload bytes",
                    h.error.to_native(),
                    p.len()
                ));
            }
        }
        // At the minimum: served (GET_FMAP: E2BIG, the extents do not fit).
        let (h, _) = vm.request(op, node, body, min as u32);
        let want = if op == OP_GET_FMAP { libc::E2BIG } else { 0 };
        assert_eq!(
            h.error.to_native(),
            want as u32,
            "{what} with exactly {min} bytes"
        );
    }
    stop(srv, vm);
    assert!(
        failures.is_empty(),
        "expected ERANGE:\n{}",
        failures.join("\n")
    );
}

/// Spec 7.15: hdr.len must equal the readable part, and the readable part
/// must have the length the opcode requires.
#[test]
fn spec_request_length_must_match() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let data = fx.stat("data.bin").ino;
    let mut cases = Vec::new();
    // hdr.len smaller than the readable part (trailing bytes).
    let hdr = vm.req_hdr(OP_GETATTR, data, 0);
    let mut b = hdr.as_slice().to_vec();
    b.extend([0u8; 8]);
    cases.push(("GETATTR, 8 bytes beyond hdr.len".to_string(), hdr, b));
    let body = name_body(LookupIn::default(), b"data.bin");
    let hdr = vm.req_hdr(OP_LOOKUP, ROOT_INO, body.len());
    let mut b = hdr.as_slice().to_vec();
    b.extend(&body);
    b.extend(b"junk");
    cases.push(("LOOKUP, 4 bytes beyond hdr.len".to_string(), hdr, b));
    // Bodies the opcode does not take, counted in hdr.len.
    for (what, op, node) in [
        ("STATFS", OP_STATFS, 0),
        ("GETATTR", OP_GETATTR, data),
        ("GET_FMAP", OP_GET_FMAP, data),
    ] {
        let hdr = vm.req_hdr(op, node, 8);
        let mut b = hdr.as_slice().to_vec();
        b.extend([0u8; 8]);
        cases.push((format!("{what} with an 8-byte body"), hdr, b));
    }
    // LOOKUP: hdr.len = 32 + namelen exactly, not more.
    let body = name_body(LookupIn::default(), b"data.bin");
    let mut longer = body.clone();
    longer.extend(b"xx");
    let hdr = vm.req_hdr(OP_LOOKUP, ROOT_INO, longer.len());
    let mut b = hdr.as_slice().to_vec();
    b.extend(&longer);
    cases.push(("LOOKUP with hdr.len = 32 + namelen + 2".to_string(), hdr, b));
    let mut failures = Vec::new();
    for (what, hdr, readable) in cases {
        let (len, out) = vm.submit(&[Seg::R(readable), Seg::W(256)]);
        let (h, _) = check_reply(&hdr, len, &out);
        if h.error.to_native() != libc::EINVAL as u32 {
            failures.push(format!("{what}: error {}", h.error.to_native()));
        }
    }
    stop(srv, vm);
    assert!(
        failures.is_empty(),
        "expected EINVAL:\n{}",
        failures.join("\n")
    );
}

/// Spec 7.14/7.15: reserved fields and flags must be zero, and a mode may
/// hold only permission bits and the opcode's type bit.
#[test]
fn spec_reserved_fields_and_mode_bits_are_checked() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let applied = fx.fs.applied();
    let mut failures = Vec::new();
    let init = |flags: u32, padding: u32| InitIn {
        major: VERSION_MAJOR.into(),
        minor: VERSION_MINOR.into(),
        flags: flags.into(),
        padding: padding.into(),
    };
    let create = |mode: u32, flags: u32, padding: u32| CreateIn {
        mode: mode.into(),
        flags: flags.into(),
        padding: padding.into(),
        size: 1.into(),
        ..Default::default()
    };
    let mkdir = |mode: u32| MkdirIn {
        mode: mode.into(),
        ..Default::default()
    };
    let lookup = LookupIn {
        padding: 1.into(),
        ..Default::default()
    };
    let cases = [
        ("INIT flags 1", OP_INIT, init(1, 0).as_slice().to_vec()),
        ("INIT padding 1", OP_INIT, init(0, 1).as_slice().to_vec()),
        ("LOOKUP padding 1", OP_LOOKUP, name_body(lookup, b"a")),
        (
            "CREATE flags 1",
            OP_CREATE,
            name_body(create(0o644, 1, 0), b"r1"),
        ),
        (
            "CREATE padding 1",
            OP_CREATE,
            name_body(create(0o644, 0, 1), b"r2"),
        ),
        (
            "CREATE mode S_IFDIR",
            OP_CREATE,
            name_body(create(S_IFDIR | 0o644, 0, 0), b"r3"),
        ),
        (
            "CREATE mode S_IFLNK",
            OP_CREATE,
            name_body(create(0o120_644, 0, 0), b"r4"),
        ),
        (
            "CREATE mode 0o1000644",
            OP_CREATE,
            name_body(create(0o100_0644, 0, 0), b"r5"),
        ),
        (
            "MKDIR mode S_IFREG",
            OP_MKDIR,
            name_body(mkdir(S_IFREG | 0o755), b"r6"),
        ),
        (
            "MKDIR mode 0o1000755",
            OP_MKDIR,
            name_body(mkdir(0o100_0755), b"r7"),
        ),
    ];
    for (what, op, body) in cases {
        let r = vm.call(op, ROOT_INO, &body, 256);
        if r != Err(libc::EINVAL) {
            failures.push(format!("{what}: {:?}", r.map(|_| "error 0")));
        }
    }
    // Allowed: the opcode's own type bit.
    let p = vm
        .call(
            OP_MKDIR,
            ROOT_INO,
            &name_body(mkdir(S_IFDIR | 0o700), b"ok"),
            256,
        )
        .unwrap();
    assert_eq!(parse_exact::<Attr>(&p).mode.to_native(), S_IFDIR | 0o700);
    let created = fx.fs.applied() - applied - 1;
    stop(srv, vm);
    assert!(
        failures.is_empty(),
        "expected EINVAL:\n{}",
        failures.join("\n")
    );
    assert_eq!(created, 0, "refused requests created {created} entries");
}

/// Spec 7.4: nlink of a directory is 2 plus its subdirectories.
#[test]
fn spec_directory_nlink_counts_subdirectories() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let mut got = Vec::new();
    // root: dir, many; many: 9 subdirectories; dir: none.
    for (what, node, want) in [
        ("root", ROOT_INO, 4),
        ("many", fx.stat("many").ino, 11),
        ("dir", fx.stat("dir").ino, 2),
    ] {
        let n = vm.getattr(node).unwrap().nlink.to_native();
        if n != want {
            got.push(format!("{what}: nlink {n}, expected {want}"));
        }
    }
    let d = vm.mkdir(ROOT_INO, "new").unwrap();
    if d.nlink.to_native() != 2 {
        got.push(format!("new: nlink {}", d.nlink.to_native()));
    }
    let n = vm.getattr(ROOT_INO).unwrap().nlink.to_native();
    if n != 5 {
        got.push(format!("root after MKDIR: nlink {n}, expected 5"));
    }
    stop(srv, vm);
    assert!(got.is_empty(), "{}", got.join("\n"));
}

/// Spec 7.5: the device answers INIT with error 0 and its own version,
/// whatever version the driver sent.
#[test]
fn spec_init_answers_any_version() {
    let (_fx, srv, mut vm) = session(Access::Master, Opts::full());
    let mut got = Vec::new();
    for (major, minor) in [(VERSION_MAJOR + 1, 0), (0, 7), (VERSION_MAJOR, 99)] {
        let inp = InitIn {
            major: major.into(),
            minor: minor.into(),
            ..Default::default()
        };
        let (h, p) = vm.request(OP_INIT, 0, inp.as_slice(), 256);
        let ok = h.error.to_native() == 0
            && p.len() == std::mem::size_of::<InitOut>()
            && parse::<InitOut>(&p).major.to_native() == VERSION_MAJOR;
        if !ok {
            got.push(format!(
                "driver {major}.{minor}: error {}",
                h.error.to_native()
            ));
        }
    }
    stop(srv, vm);
    assert!(got.is_empty(), "{}", got.join("\n"));
}

/// Spec 7.2/7.14/9.1: a chain whose writable descriptor precedes a
/// readable one has a bad layout: EINVAL, not a served request.
#[test]
fn spec_writable_before_readable_is_einval() {
    let (_fx, srv, mut vm) = session(Access::Master, Opts::full());
    let mut got = Vec::new();
    for split in [0, 8] {
        let hdr = vm.req_hdr(OP_STATFS, 0, 0);
        let h = hdr.as_slice().to_vec();
        // [W, R(hdr)] or [R(hdr[..8]), W, R(hdr[8..])].
        let mut segs = vec![
            Seg::R(h[..split].to_vec()),
            Seg::W(256),
            Seg::R(h[split..].to_vec()),
        ];
        if split == 0 {
            segs.remove(0);
        }
        let (len, out) = vm.submit(&segs);
        assert!(len as usize >= HDR);
        let r: RespHdr = parse(&out);
        assert_eq!(r.len.to_native(), len);
        // The header may or may not be considered read: unique 0 or copied.
        assert!([0, hdr.unique.to_native()].contains(&r.unique.to_native()));
        if (r.error.to_native(), len as usize) != (libc::EINVAL as u32, HDR) {
            got.push(format!(
                "{segs:?}: error {}, {len} bytes",
                r.error.to_native()
            ));
        }
    }
    assert!(vm.statfs().is_ok());
    stop(srv, vm);
    assert!(
        got.is_empty(),
        "chains with a readable descriptor after a writable one were served:\n{}",
        got.join("\n")
    );
}

/// Spec 7.15: before setting EOF the device brings its view up to date,
/// for a continued listing too.
#[test]
fn spec_readdir_eof_sees_other_writers() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let (_, all) = vm.readdir(ROOT_INO, 0, 64 << 10).unwrap();
    let last = all.last().unwrap().cookie;
    let cli = fx.other_handle();
    let mut missed = Vec::new();
    for i in 0..5 {
        let name = format!("late{i}");
        let n = cli.create(&rp(&name), &file_spec(1)).unwrap();
        // Right away: the daemon's watcher (every 100 ms) has most likely
        // not seen it yet.
        let (flags, rest) = vm.readdir(ROOT_INO, last, 64 << 10).unwrap();
        assert_eq!(flags, READDIR_F_EOF);
        if !rest.iter().any(|e| e.nodeid == n.ino) {
            missed.push(name);
        }
    }
    stop(srv, vm);
    assert!(
        missed.is_empty(),
        "READDIR with a cookie set EOF without {missed:?}"
    );
}

/// Spec 7.6: statfs_out.total_bytes is device_size.
#[test]
fn spec_statfs_total_is_device_size() {
    let (_fx, srv, mut vm) = session(Access::Master, Opts::full());
    let total = vm.statfs().unwrap().total_bytes.to_native();
    stop(srv, vm);
    assert_eq!(total, DEV_SIZE);
}

/// Spec 2, 7.15: without VIRTIO_FAMFS_F_NOTIFY the device never uses
/// queue 0.
#[test]
fn spec_no_notifications_without_f_notify() {
    let opts = Opts {
        notify: false,
        ..Opts::full()
    };
    let (fx, srv, mut vm) = session(Access::Master, opts);
    assert_eq!(vm.features & (1 << F_NOTIFY), 0);
    let posted = vm.post_notify_buffer();
    fx.other_handle()
        .create(&rp("quiet"), &file_spec(1))
        .unwrap();
    vm.create(ROOT_INO, "quiet2", 1).unwrap();
    // A kick on queue 0 makes the device look at it at once, whatever its
    // watcher (every 100 ms) has seen so far.
    vm.queues[NOTIFY_QUEUE as usize].kick.write(1).unwrap();
    let n = vm.wait_notify(&posted, Duration::from_millis(500));
    stop(srv, vm);
    assert!(n.is_none(), "notification without F_NOTIFY: {n:?}");
}

/// shutdown() ends `run` even while a VMM is connected.
#[test]
fn shutdown_with_a_connected_vmm() {
    let (_fx, srv, mut vm) = session(Access::Master, Opts::full());
    assert!(vm.statfs().is_ok());
    // `vm` stays connected while the daemon stops.
    srv.stop();
    drop(vm);
}

/// Every request queue has a worker thread of its own: a request on
/// queue 2 is answered while queue 1's worker is blocked, here in INIT
/// waiting for the VMM to answer its SHMEM_MAP (the test holds it back).
#[test]
fn request_queues_are_served_in_parallel() {
    let fx = fixture();
    let sock = fx.sock("mq.sock", Access::Master);
    let srv = Running::start_with(&fx.fs, std::slice::from_ref(&sock), 2);
    let mut vm = Vm::connect(
        &sock.path,
        Opts {
            queues: 3,
            ..Opts::full()
        },
    );
    assert_eq!(vm.config().num_request_queues.to_native(), 2);
    vm.map_gate.set_closed(true);
    let inp = InitIn {
        major: VERSION_MAJOR.into(),
        minor: VERSION_MINOR.into(),
        ..Default::default()
    };
    let hdr = vm.req_hdr(OP_INIT, 0, std::mem::size_of::<InitIn>());
    let segs = [
        Seg::R(hdr.as_slice().to_vec()),
        Seg::R(inp.as_slice().to_vec()),
        Seg::W(256),
    ];
    let (head, reply) = vm.queues[1].add(&vm.mem, &segs, false);
    // Queue 1's worker has sent SHMEM_MAP and waits for the reply.
    assert!(matches!(vm.backend_msg(), BackendMsg::Map(..)));
    // Queue 2 answers meanwhile (EPROTO: INIT has not completed yet).
    let (h, _) = vm.request_on(2, OP_GETATTR, ROOT_INO, &[], 256);
    assert_eq!(h.error.to_native(), libc::EPROTO as u32);
    assert!(
        vm.queues[1].wait_used(&vm.mem, Duration::ZERO).is_none(),
        "INIT completed before the VMM answered SHMEM_MAP"
    );
    vm.map_gate.set_closed(false);
    let (id, len) = vm.queues[1]
        .wait_used(&vm.mem, TIMEOUT)
        .expect("INIT never answered");
    assert_eq!(id, u32::from(head));
    let mut out = vec![0u8; len as usize];
    vm.mem
        .read_slice(&mut out, GuestAddress(reply[0].0))
        .unwrap();
    let (h, _) = check_reply(&hdr, len, &out);
    assert_eq!(h.error.to_native(), 0, "INIT");
    // Both queues serve requests now.
    let data = fx.stat("data.bin").ino;
    for q in [1, 2, 1, 2] {
        let (h, p) = vm.request_on(q, OP_GETATTR, data, &[], 256);
        assert_eq!(h.error.to_native(), 0, "queue {q}");
        assert_eq!(parse_exact::<Attr>(&p).nodeid.to_native(), data);
    }
    stop(srv, vm);
}

/// `window=none`: a VMM that offers shared memory still gets no region,
/// no SHMEM_MAP ever, and NO_WINDOW on purpose; metadata and GET_FMAP are
/// served, for a guest that maps the device through a pmem device. The
/// configuration still names the file system and device size the guest
/// must find there.
#[test]
fn window_none_offers_no_region_and_serves_maps() {
    let fx = fixture();
    let sock = SocketSpec {
        window: WindowMode::None,
        ..fx.sock("pmem.sock", Access::Master)
    };
    let srv = Running::start(&fx.fs, std::slice::from_ref(&sock));
    // Twice: a second driver run after a device stop is the same.
    for _ in 0..2 {
        let mut vm = Vm::connect(&sock.path, Opts::full());
        let shm = vm.shmem.expect("GET_SHMEM_CONFIG answered");
        assert_eq!(shm.nregions, 0);
        assert!(shm.memory_sizes.iter().all(|&x| x == 0));
        // check_config skips the region check: nregions is 0 here.
        vm.shmem = None;
        check_config(&mut vm, &fx, &sock.tag, CFG_F_MAY_CREATE | CFG_F_NO_WINDOW);
        let init = vm.init().unwrap();
        assert_eq!(init.root_nodeid.to_native(), ROOT_INO);
        let n = fx.stat("data.bin");
        let want: Vec<(u64, u64)> = n.extents().iter().map(|e| (e.offset, e.len)).collect();
        let (err, out, exts) = vm.get_fmap(n.ino, 4096);
        assert_eq!(err, 0);
        assert_eq!(out.file_size.to_native(), n.size());
        assert_eq!(exts, want);
        assert_eq!(
            vm.lookup(ROOT_INO, "data.bin").unwrap(),
            attr_of(&fx.fs, &n)
        );
        vm.frontend
            .get_vring_base(FIRST_REQUEST_QUEUE as usize)
            .unwrap();
        let flags = vm.config().flags.to_native();
        assert_ne!(flags & CFG_F_NO_WINDOW, 0, "NO_WINDOW after a stop");
        vm.no_backend_msg();
        drop(vm);
    }
    srv.stop();
}

/// Spec 4.2: NO_WINDOW does not change while the driver runs. Here the
/// VMM asks for the shared memory region only after the driver's INIT;
/// the flag stays until the device is stopped.
#[test]
fn spec_no_window_is_fixed_while_the_driver_runs() {
    let fx = fixture();
    let sock = fx.sock("late.sock", Access::Master);
    let srv = Running::start(&fx.fs, std::slice::from_ref(&sock));
    let mut vm = Vm::connect(
        &sock.path,
        Opts {
            shmem_config: false,
            ..Opts::full()
        },
    );
    let flags = |vm: &mut Vm| vm.config().flags.to_native();
    assert_ne!(flags(&mut vm) & CFG_F_NO_WINDOW, 0);
    vm.init().unwrap();
    vm.frontend.get_shmem_config().unwrap();
    assert_ne!(flags(&mut vm) & CFG_F_NO_WINDOW, 0, "changed after INIT");
    // Metadata is still served; nothing is mapped.
    assert!(vm.getattr(ROOT_INO).is_ok());
    vm.no_backend_msg();
    // Stopping the device ends the driver's run: the next one sees the
    // window the VMM now offers.
    vm.frontend
        .get_vring_base(FIRST_REQUEST_QUEUE as usize)
        .unwrap();
    assert_eq!(flags(&mut vm) & CFG_F_NO_WINDOW, 0);
    drop(vm);
    srv.stop();
}

/// Spec 7.4: a file famfs marks read-only for all hosts carries
/// ATTR_F_RDONLY; others do not.
#[test]
fn spec_rdonly_attr_flag_follows_famfs_file_flags() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    // Written as famfs's own tools would: an ALL_HOSTS_RO FILE entry.
    let dev = Device::open(&fx.dev, true).unwrap();
    log_all_hosts_ro(&dev, &fx.fs, "ro.bin", 0o444);
    let ro = vm.lookup(ROOT_INO, "ro.bin").unwrap();
    assert_eq!(ro.flags.to_native(), ATTR_F_RDONLY);
    let again = vm.getattr(ro.nodeid.to_native()).unwrap();
    assert_eq!(again.flags.to_native(), ATTR_F_RDONLY);
    let rw = vm.lookup(ROOT_INO, "data.bin").unwrap();
    assert_eq!(rw.flags.to_native(), 0);
    stop(srv, vm);
}

/// CREATE with explicit mode and owner; the attributes or the errno.
fn create_as(
    vm: &mut Vm,
    parent: u64,
    name: &[u8],
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<Attr, i32> {
    let inp = CreateIn {
        mode: mode.into(),
        uid: uid.into(),
        gid: gid.into(),
        size: 4096.into(),
        ..Default::default()
    };
    vm.call(OP_CREATE, parent, &name_body(inp, name), 256)
        .map(|p| parse_exact(&p))
}

fn mkdir_as(
    vm: &mut Vm,
    parent: u64,
    name: &[u8],
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<Attr, i32> {
    let inp = MkdirIn {
        mode: mode.into(),
        uid: uid.into(),
        gid: gid.into(),
        ..Default::default()
    };
    vm.call(OP_MKDIR, parent, &name_body(inp, name), 256)
        .map(|p| parse_exact(&p))
}

fn lookup_bytes(vm: &mut Vm, parent: u64, name: &[u8]) -> Result<Attr, i32> {
    vm.lookup(parent, name)
}

/// A guest's root is not the host's: CREATE and MKDIR strip setuid and
/// setgid unless the socket says `suid=on`; `uid-map=`/`gid-map=`
/// translate owners both ways and `squash=` replaces them.
#[test]
fn guest_set_id_bits_and_owners_follow_the_socket() {
    let fx = fixture();
    let spec = |s: &str| -> SocketSpec { format!("{}/{s}", fx.dir.display()).parse().unwrap() };
    let socks = [
        spec("plain.sock,role=master"),
        spec("suid.sock,role=master,suid=on"),
        spec("map.sock,role=master,uid-map=0:100000:1000,gid-map=0:200000:1000"),
        spec("squash.sock,role=master,squash=1000:100"),
    ];
    let srv = Running::start(&fx.fs, &socks);
    let mut vms: Vec<Vm> = socks
        .iter()
        .map(|s| {
            let mut vm = Vm::connect(&s.path, Opts::full());
            vm.init().unwrap();
            expect_map(&vm, &fx, true);
            vm
        })
        .collect();
    let setid = S_IFREG | 0o6755;
    // (socket, name, mode the guest sees and the log holds, host owner,
    // owner the guest sees)
    let cases = [
        (0, "plain", 0o755, (0, 0), (0, 0)),
        (1, "suid", 0o6755, (0, 0), (0, 0)),
        (2, "mapped", 0o755, (100_000, 200_000), (0, 0)),
        (3, "squashed", 0o755, (1000, 100), (1000, 100)),
    ];
    for (i, name, mode, host, seen) in cases {
        let a = create_as(&mut vms[i], ROOT_INO, name.as_bytes(), setid, 0, 0).unwrap();
        assert_eq!(a.mode.to_native(), S_IFREG | mode, "{name}");
        assert_eq!((a.uid.to_native(), a.gid.to_native()), seen, "{name}");
        let n = fx.stat(name);
        assert_eq!(n.mode & 0o7777, mode, "{name} in the log");
        assert_eq!((n.uid, n.gid), host, "{name} in the log");
        let d = format!("{name}.d");
        let a = mkdir_as(&mut vms[i], ROOT_INO, d.as_bytes(), S_IFDIR | 0o2775, 0, 0).unwrap();
        let dmode = if i == 1 { 0o2775 } else { 0o775 };
        assert_eq!(a.mode.to_native(), S_IFDIR | dmode, "{d}");
        assert_eq!(fx.stat(&d).mode & 0o7777, dmode, "{d} in the log");
    }
    // Host owners outside the map show as the overflow id.
    let data = vms[2].lookup(ROOT_INO, "data.bin").unwrap();
    assert_eq!((data.uid.to_native(), data.gid.to_native()), (65534, 65534));
    // Sticky and permission bits are the guest's to choose everywhere.
    let a = create_as(&mut vms[0], ROOT_INO, b"sticky", S_IFREG | 0o1640, 5, 6).unwrap();
    assert_eq!(a.mode.to_native(), S_IFREG | 0o1640);
    srv.stop();
    for vm in vms {
        vm.no_backend_msg();
    }
}

/// Names (spec 7.3): the root's `.meta` is famfs's and is never visible
/// or creatable; a newline, or a byte that is not UTF-8, is an ordinary
/// byte and READDIR returns the name as created; `/` and NUL are refused;
/// 79 bytes fit famfs's 80-byte path field, 80 do not.
#[test]
fn guest_names_reserved_odd_and_long() {
    let (fx, srv, mut vm) = session(Access::Master, Opts::full());
    let dir = vm.lookup(ROOT_INO, "dir").unwrap().nodeid.to_native();
    // .meta at the root.
    assert_eq!(lookup_bytes(&mut vm, ROOT_INO, b".meta"), Err(libc::ENOENT));
    assert_eq!(
        create_as(&mut vm, ROOT_INO, b".meta", S_IFREG | 0o644, 0, 0),
        Err(libc::EINVAL)
    );
    assert_eq!(
        mkdir_as(&mut vm, ROOT_INO, b".meta", 0o755, 0, 0),
        Err(libc::EINVAL)
    );
    assert!(create_as(&mut vm, dir, b".meta", S_IFREG | 0o644, 0, 0).is_ok());
    assert!(fx.fs.stat(".meta").is_err());
    // A newline in a name.
    let nl = b"line1\nINFO forged line";
    let a = create_as(&mut vm, ROOT_INO, nl, S_IFREG | 0o644, 0, 0).unwrap();
    assert_eq!(lookup_bytes(&mut vm, ROOT_INO, nl).unwrap(), a);
    let (_, entries) = vm.readdir(ROOT_INO, 0, 64 << 10).unwrap();
    assert!(entries.iter().any(|e| e.name == nl));
    // Not UTF-8: Latin-1 "café", a lone continuation byte, 0xff, a
    // truncated sequence; a file at the root, a directory and a file in it.
    let latin1 = b"caf\xe9";
    assert_eq!(lookup_bytes(&mut vm, ROOT_INO, latin1), Err(libc::ENOENT));
    let f = create_as(&mut vm, ROOT_INO, latin1, S_IFREG | 0o644, 0, 0).unwrap();
    assert_eq!(lookup_bytes(&mut vm, ROOT_INO, latin1).unwrap(), f);
    let d = mkdir_as(&mut vm, ROOT_INO, b"\x80\xff", 0o755, 0, 0).unwrap();
    let d = d.nodeid.to_native();
    let g = create_as(&mut vm, d, b"\xe2\x82", S_IFREG | 0o644, 0, 0).unwrap();
    assert_eq!(lookup_bytes(&mut vm, d, b"\xe2\x82").unwrap(), g);
    // A different byte string is a different name.
    assert_eq!(
        lookup_bytes(&mut vm, ROOT_INO, "café".as_bytes()),
        Err(libc::ENOENT)
    );
    let (_, entries) = vm.readdir(ROOT_INO, 0, 64 << 10).unwrap();
    let named = |n: &[u8]| {
        entries
            .iter()
            .find(|e| e.name == n)
            .map(|e| (e.nodeid, e.dtype))
    };
    assert_eq!(named(latin1), Some((f.nodeid.to_native(), DT_REG)));
    assert_eq!(named(b"\x80\xff"), Some((d, DT_DIR)));
    let (_, inside) = vm.readdir(d, 0, 64 << 10).unwrap();
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].name, b"\xe2\x82");
    // The host holds the same bytes.
    assert_eq!(
        fx.fs.stat(b"\x80\xff/\xe2\x82").unwrap().ino,
        g.nodeid.to_native()
    );
    // Still refused: '/', NUL, "." and "..", whatever else the name holds.
    for bad in [&b"a/\xff"[..], b"\xff\0", b".", b".."] {
        assert_eq!(
            lookup_bytes(&mut vm, ROOT_INO, bad),
            Err(libc::EINVAL),
            "{bad:?}"
        );
        assert_eq!(
            create_as(&mut vm, ROOT_INO, bad, S_IFREG | 0o644, 0, 0),
            Err(libc::EINVAL),
            "{bad:?}"
        );
        assert_eq!(
            mkdir_as(&mut vm, ROOT_INO, bad, 0o755, 0, 0),
            Err(libc::EINVAL)
        );
    }
    // 79 and 80 bytes, at the root and as a path through "dir/".
    let long = |n: usize| vec![b'n'; n];
    assert!(create_as(&mut vm, ROOT_INO, &long(79), S_IFREG | 0o644, 0, 0).is_ok());
    assert!(lookup_bytes(&mut vm, ROOT_INO, &long(79)).is_ok());
    for (parent, n) in [(ROOT_INO, 80), (dir, 76)] {
        assert_eq!(
            create_as(&mut vm, parent, &long(n), S_IFREG | 0o644, 0, 0),
            Err(libc::ENAMETOOLONG),
            "{n}-byte name"
        );
    }
    assert_eq!(
        lookup_bytes(&mut vm, ROOT_INO, &long(80)),
        Err(libc::ENAMETOOLONG)
    );
    assert!(create_as(&mut vm, dir, &long(75), S_IFREG | 0o644, 0, 0).is_ok());
    assert!(fx.fs.stat(&format!("dir/{}", "n".repeat(75))).is_ok());
    stop(srv, vm);
}

/// The device pieces an isolated window maps for `n`: its ranges sorted,
/// neighbours merged.
fn merged_ranges(n: &Node) -> Vec<(u64, u64)> {
    let mut r: Vec<(u64, u64)> = n.extents().iter().map(|e| (e.offset, e.len)).collect();
    r.sort();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (o, l) in r {
        match out.last_mut() {
            Some(last) if last.0 + last.1 == o => last.1 += l,
            _ => out.push((o, l)),
        }
    }
    out
}

fn forget_body(count: u32, ids: &[u64]) -> Vec<u8> {
    let mut b = ForgetIn {
        count: count.into(),
        padding: 0u32.into(),
    }
    .as_slice()
    .to_vec();
    for id in ids {
        b.extend_from_slice(&id.to_le_bytes());
    }
    b
}

fn status_field(srv: &Running, key: &str) -> String {
    let text = srv.status();
    let prefix = format!("  {key} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_string()
}

/// isolate=on: INIT maps nothing; GET_FMAP maps the file's device ranges
/// (neighbours merged, window offset = device offset, read-only for a ro
/// socket) before it replies, once per file; FORGET unmaps exactly that;
/// the status counts the live mappings.
#[test]
fn isolated_window_maps_fetched_files_only() {
    let fx = fixture();
    let sock = SocketSpec {
        isolate: true,
        ..fx.sock("iso.sock", Access::ReadOnly)
    };
    let (srv, mut vm) = serve(&fx.fs, &sock, Opts::full());
    assert_ne!(vm.features & (1 << F_FORGET), 0, "F_FORGET offered");
    assert_eq!(vm.features & (1 << F_ENTRY_FMAP), 0, "no inline maps");
    vm.init().unwrap();
    vm.no_backend_msg();
    assert_eq!(status_field(&srv, "mappings"), "0");
    let mut live = Vec::new();
    for name in ["data.bin", "striped.bin"] {
        let n = fx.stat(name);
        let (e, _, _, _) = vm.get_fmap_any(n.ino, 4096);
        assert_eq!(e, 0);
        let mut mapped = Vec::new();
        for _ in merged_ranges(&n) {
            match vm.backend_msg() {
                BackendMsg::Map(m, file) => {
                    let (fd_off, shm_off, len, flags) = (m.fd_offset, m.shm_offset, m.len, m.flags);
                    assert_eq!(fd_off, shm_off, "window offset = device offset");
                    assert_eq!(flags & VhostUserMMapFlags::WRITABLE.bits(), 0, "ro");
                    let map = MmapRegion::<()>::build(
                        Some(FileOffset::new(file, fd_off)),
                        len as usize,
                        libc::PROT_READ,
                        libc::MAP_SHARED,
                    )
                    .unwrap();
                    mapped.push((shm_off, len));
                    live.push((shm_off, len, map));
                }
                _ => panic!("{name}: expected a map"),
            }
        }
        mapped.sort();
        assert_eq!(mapped, merged_ranges(&n), "{name}");
        // Fetched again: already mapped.
        assert_eq!(vm.get_fmap_any(n.ino, 4096).0, 0);
        vm.no_backend_msg();
    }
    // The mapped bytes are the files' bytes.
    let win = |off: u64| {
        let (o, _, m) = live
            .iter()
            .find(|(o, l, _)| (*o..o + l).contains(&off))
            .unwrap();
        let mut b = [0u8; 1];
        m.get_slice((off - o) as usize, 1)
            .unwrap()
            .copy_to(&mut b[..]);
        b[0]
    };
    for (f, d, len) in hostio::data_ranges(&fx.stat("data.bin")) {
        assert_eq!(win(d), pattern(f));
        assert_eq!(win(d + len - 1), pattern(f + len - 1));
    }
    let pieces = live.len();
    assert_eq!(status_field(&srv, "mappings"), pieces.to_string());
    // Directories and missing nodes map nothing.
    assert_eq!(vm.get_fmap(ROOT_INO, 4096).0, libc::EISDIR);
    assert_eq!(vm.get_fmap(1 << 40, 4096).0, libc::ESTALE);
    vm.no_backend_msg();

    // Malformed FORGETs change nothing.
    let data = fx.stat("data.bin");
    for (node, body) in [
        (0, forget_body(0, &[])),
        (0, forget_body(FORGET_MAX + 1, &[data.ino; 257])),
        (0, forget_body(2, &[data.ino])),
        (0, forget_body(1, &[data.ino, 5])),
        (data.ino, forget_body(1, &[data.ino])),
    ] {
        assert_eq!(vm.call(OP_FORGET, node, &body, 64), Err(libc::EINVAL));
    }
    vm.no_backend_msg();
    // FORGET (unknown ids ignored) unmaps exactly what was mapped.
    let striped = fx.stat("striped.bin");
    let ids = [data.ino, striped.ino, 1 << 40, data.ino];
    assert_eq!(
        vm.call(OP_FORGET, 0, &forget_body(4, &ids), 64),
        Ok(Vec::new())
    );
    let mut unmapped = Vec::new();
    for _ in 0..pieces {
        match vm.backend_msg() {
            BackendMsg::Unmap(m) => unmapped.push((m.shm_offset, m.len)),
            _ => panic!("expected an unmap"),
        }
    }
    unmapped.sort();
    let mut want: Vec<(u64, u64)> = live.iter().map(|(o, l, _)| (*o, *l)).collect();
    want.sort();
    assert_eq!(unmapped, want);
    vm.no_backend_msg();
    assert_eq!(status_field(&srv, "mappings"), "0");
    // Fetched after FORGET: mapped again.
    assert_eq!(vm.get_fmap(data.ino, 4096).0, 0);
    assert!(matches!(vm.backend_msg(), BackendMsg::Map(..)));
    drop(vm);
    srv.stop();
}

/// Without isolate=on nothing changes: no F_FORGET, FORGET is unknown.
#[test]
fn whole_window_offers_no_forget() {
    let (fx, srv, mut vm) = session(Access::Client, Opts::full());
    assert_eq!(vm.features & (1 << F_FORGET), 0);
    let data = fx.stat("data.bin");
    assert_eq!(vm.get_fmap(data.ino, 4096).0, 0);
    assert_eq!(
        vm.call(OP_FORGET, 0, &forget_body(1, &[data.ino]), 64),
        Err(libc::ENOSYS)
    );
    vm.no_backend_msg();
    assert_eq!(status_field(&srv, "mappings"), "0");
    drop(vm);
    srv.stop();
}
