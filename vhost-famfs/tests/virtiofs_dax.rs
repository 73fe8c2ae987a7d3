// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! virtio-fs DAX mode (`proto=virtio-fs,dax-window=SIZE`) driven through
//! real vhost-user and virtqueues by the test VMM in tests/common: the
//! window offered as shared memory region 0, FUSE_INIT's map alignment,
//! SETUPMAPPING/REMOVEMAPPING turned into SHMEM_MAP/UNMAP of the device's
//! bytes, every bad mapping request refused without a VMM call, and a
//! subtree export that maps only the files inside it.

pub mod common;

use std::os::unix::fs::FileExt;

use common::*;
use vhost::vhost_user::message::{VhostUserMMapFlags, VhostUserProtocolFeatures};
use vhost::vhost_user::VhostUserFrontend;
use vhost_famfs::daemon::SocketSpec;
use vhost_famfs::fuse::abi::*;
use vhost_famfs::meta::{Famfs, FileSpec};
use vhost_famfs::server::Access;
use vm_memory::ByteValued;

const MB2: u64 = 2 << 20;
const DEV_SIZE: u64 = 64 << 20;
const WINDOW: u64 = 16 << 20;
const IN: usize = std::mem::size_of::<InHeader>();
const OUT: usize = std::mem::size_of::<OutHeader>();
const REQQ: usize = 1;

/// Root: big (6 MiB + 5 bytes: four 2 MiB ranges of extents), dir/.
fn fixture() -> Fixture {
    Fixture::build(DEV_SIZE, |fs| {
        let spec = FileSpec {
            uid: 0,
            gid: 0,
            ..file_spec(3 * MB2 + 5)
        };
        fs.create(&rp("big"), &spec).unwrap();
        fs.mkdir(&rp("dir"), 0o755, 0, 0).unwrap();
    })
}

struct Fuse {
    vm: Vm,
    unique: u64,
}

impl Fuse {
    fn call(&mut self, opcode: u32, nodeid: u64, body: &[u8]) -> Result<Vec<u8>, i32> {
        self.unique += 1;
        let h = InHeader {
            len: (IN + body.len()) as u32,
            opcode,
            unique: self.unique,
            nodeid,
            ..Default::default()
        };
        let mut segs = vec![Seg::R(h.as_slice().to_vec())];
        if !body.is_empty() {
            segs.push(Seg::R(body.to_vec()));
        }
        segs.push(Seg::W(4096));
        let (used, out) = self.vm.submit_on(REQQ, &segs, false);
        assert!(used as usize >= OUT, "op {opcode}: used {used}");
        let o: OutHeader = parse(&out);
        assert_eq!(o.unique, h.unique);
        match o.error {
            0 => Ok(out[OUT..used as usize].to_vec()),
            e => Err(-e),
        }
    }

    fn init(&mut self) -> InitOut {
        let inp = InitIn {
            major: 7,
            minor: 41,
            max_readahead: 128 << 10,
            flags: 0xffff_ffff,
            ..Default::default()
        };
        parse_exact(&self.call(INIT, 0, inp.as_slice()).unwrap())
    }

    fn lookup(&mut self, name: &str) -> u64 {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        let e: EntryOut = parse(&self.call(LOOKUP, 1, &n).unwrap());
        e.nodeid
    }

    fn setup(
        &mut self,
        node: u64,
        foffset: u64,
        len: u64,
        moffset: u64,
        flags: u64,
    ) -> Result<(), i32> {
        let inp = SetupmappingIn {
            fh: u64::MAX,
            foffset,
            len,
            flags,
            moffset,
        };
        self.call(SETUPMAPPING, node, inp.as_slice())
            .map(|p| assert!(p.is_empty()))
    }

    fn remove_raw(&mut self, count: u32, ranges: &[(u64, u64)]) -> Result<(), i32> {
        let mut body = RemovemappingIn { count }.as_slice().to_vec();
        for &(moffset, len) in ranges {
            body.extend_from_slice(RemovemappingOne { moffset, len }.as_slice());
        }
        self.call(REMOVEMAPPING, 1, &body)
            .map(|p| assert!(p.is_empty()))
    }

    fn remove(&mut self, ranges: &[(u64, u64)]) -> Result<(), i32> {
        self.remove_raw(ranges.len() as u32, ranges)
    }
}

fn session(opts: &str, access: Access) -> (Fixture, Running, Fuse) {
    let mut o = Opts::full();
    o.notify = false;
    o.interleave = false;
    session_with(opts, access, o)
}

fn session_with(opts: &str, access: Access, o: Opts) -> (Fixture, Running, Fuse) {
    serve_dax(fixture(), opts, access, o)
}

/// A virtio-fs socket with `opts` on the file system of `fx`.
fn serve_dax(fx: Fixture, opts: &str, access: Access, o: Opts) -> (Fixture, Running, Fuse) {
    let mut s = fx.socket("vm", &format!("proto=virtio-fs,tag=dax,{opts}"));
    s.access = Some(access);
    let (srv, vm) = serve(&fx.fs, &s, o);
    (fx, srv, Fuse { vm, unique: 0 })
}

/// The device offsets of `big`'s bytes, 2 MiB at a time.
fn device_ranges(fs: &Famfs) -> Vec<u64> {
    let node = fs.stat("big").unwrap();
    let mut out = Vec::new();
    for e in node.extents() {
        let mut o = e.offset;
        while o < e.end() {
            out.push(o);
            o += MB2;
        }
    }
    out
}

#[test]
fn window_size_is_a_power_of_two() {
    for bad in [
        "dax-window=3M",
        "dax-window=1M",
        "dax-window=0",
        "dax-window=x",
    ] {
        assert!(
            format!("/s,proto=virtio-fs,{bad}")
                .parse::<SocketSpec>()
                .is_err(),
            "{bad}"
        );
    }
    assert!(
        "/s,dax-window=64M".parse::<SocketSpec>().is_err(),
        "virtio-famfs"
    );
    let s: SocketSpec = "/s,proto=virtio-fs,dax-window=1G".parse().unwrap();
    assert_eq!(s.dax_window, Some(1 << 30));
}

#[test]
fn setupmapping_maps_the_file_device_bytes() {
    let (fx, srv, mut f) = session("dax-window=16M", Access::Master);
    // Region 0 is the window.
    let shm = f.vm.shmem.expect("GET_SHMEM_CONFIG answered");
    assert_eq!(shm.nregions, 1);
    assert_eq!(shm.memory_sizes[0], WINDOW);
    let init = f.init();
    assert_ne!(init.flags & MAP_ALIGNMENT, 0);
    assert_eq!(init.map_alignment, 21);
    let big = f.lookup("big");
    let dev = device_ranges(&fx.fs);
    fx.fs.device().write_bytes(dev[1], b"second range").unwrap();

    // The driver's first fault at file offset 2 MiB, read-only.
    f.setup(big, MB2, MB2, 3 * MB2, SETUPMAPPING_FLAG_READ)
        .unwrap();
    let BackendMsg::Map(m, file) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!(
        (m.shmid, m.shm_offset, m.fd_offset, m.len),
        (0, 3 * MB2, dev[1], MB2)
    );
    assert_eq!({ m.flags }, 0, "read-only mapping");
    // The fd handed over is the device: the file's bytes are at fd_offset.
    let mut b = [0u8; 12];
    file.read_exact_at(&mut b, m.fd_offset).unwrap();
    assert_eq!(&b, b"second range");

    // The upgrade to writable: the same range again, replaced.
    f.setup(
        big,
        MB2,
        MB2,
        3 * MB2,
        SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE,
    )
    .unwrap();
    let BackendMsg::Unmap(u) = f.vm.backend_msg() else {
        panic!("no SHMEM_UNMAP")
    };
    assert_eq!((u.shm_offset, u.len), (3 * MB2, MB2));
    let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!((m.shm_offset, m.fd_offset), (3 * MB2, dev[1]));
    assert_eq!({ m.flags }, VhostUserMMapFlags::WRITABLE.bits());

    // The range of the file's last 5 bytes: mostly past its size, but its
    // own allocation.
    f.setup(big, 3 * MB2, MB2, 0, SETUPMAPPING_FLAG_READ)
        .unwrap();
    let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!((m.shm_offset, m.fd_offset), (0, dev[3]));
    f.remove(&[(3 * MB2, MB2), (0, MB2)]).unwrap();
    for want in [3 * MB2, 0] {
        let BackendMsg::Unmap(u) = f.vm.backend_msg() else {
            panic!("no SHMEM_UNMAP")
        };
        assert_eq!((u.shm_offset, u.len), (want, MB2));
    }
    f.vm.no_backend_msg();
    srv.stop();
}

#[test]
fn bad_mapping_requests_are_refused() {
    let (_fx, srv, mut f) = session("dax-window=16M", Access::Master);
    f.init();
    let big = f.lookup("big");
    let dir = f.lookup("dir");
    let r = SETUPMAPPING_FLAG_READ;
    f.setup(big, 0, MB2, 2 * MB2, r).unwrap();
    f.vm.backend_msg();
    let top = u64::MAX - MB2 + 1;
    let cases: [(u64, u64, u64, u64, u64, i32); 12] = [
        // node, foffset, len, moffset, flags, errno
        (big, 4 * MB2, MB2, 0, r, libc::EINVAL), // past the extents
        (big, 3 * MB2, 2 * MB2, 0, r, libc::EINVAL), // reaches past them
        (big, top, MB2, 0, r, libc::EINVAL),     // wraps
        (big, 0, MB2, WINDOW, r, libc::EINVAL),  // past the window
        (big, 0, 2 * MB2, WINDOW - MB2, r, libc::EINVAL),
        (big, 0, MB2, top, r, libc::EINVAL),
        (big, 4096, MB2, 0, r, libc::EINVAL), // misaligned
        (big, 0, MB2, 4096, r, libc::EINVAL),
        (big, 0, 0, 0, r, libc::EINVAL),        // empty
        (big, 0, 2 * MB2, MB2, r, libc::EBUSY), // overlaps the live one
        (big, 0, MB2, 0, 1 << 7, libc::EINVAL), // unknown flag
        (dir, 0, MB2, 0, r, libc::EISDIR),
    ];
    for (node, fo, len, mo, flags, errno) in cases {
        assert_eq!(
            f.setup(node, fo, len, mo, flags),
            Err(errno),
            "node {node} foffset {fo:#x} len {len:#x} moffset {mo:#x} flags {flags:#x}"
        );
    }
    assert_eq!(f.setup(0xdead_0000, 0, MB2, 0, r), Err(libc::ESTALE));
    // REMOVEMAPPING: unmapped, cut in two, duplicated, misaligned; counts
    // past the driver's maximum or past the bytes sent.
    assert_eq!(f.remove(&[(0, MB2)]), Err(libc::EINVAL));
    assert_eq!(f.remove(&[(2 * MB2, MB2 / 2)]), Err(libc::EINVAL));
    assert_eq!(
        f.remove(&[(2 * MB2, MB2), (2 * MB2, MB2)]),
        Err(libc::EINVAL)
    );
    assert_eq!(f.remove(&[(2 * MB2 + 4096, MB2)]), Err(libc::EINVAL));
    assert_eq!(
        f.remove(&[(2 * MB2, MB2), (WINDOW, MB2)]),
        Err(libc::EINVAL)
    );
    assert_eq!(f.remove_raw(0, &[]), Err(libc::EINVAL));
    assert_eq!(f.remove_raw(u32::MAX, &[(2 * MB2, MB2)]), Err(libc::EINVAL));
    assert_eq!(
        f.remove_raw(257, &vec![(2 * MB2, MB2); 257]),
        Err(libc::EINVAL)
    );
    assert_eq!(f.remove_raw(3, &[(2 * MB2, MB2)]), Err(libc::EINVAL));
    // A truncated SETUPMAPPING.
    assert!(f.call(SETUPMAPPING, big, &[0u8; 20]).is_err());
    // Nothing reached the VMM, and the live mapping is intact.
    f.vm.no_backend_msg();
    f.remove(&[(2 * MB2, MB2)]).unwrap();
    let BackendMsg::Unmap(u) = f.vm.backend_msg() else {
        panic!("no SHMEM_UNMAP")
    };
    assert_eq!({ u.shm_offset }, 2 * MB2);
    srv.stop();
}

#[test]
fn read_only_socket_maps_read_only() {
    let (_fx, srv, mut f) = session("dax-window=16M", Access::ReadOnly);
    f.init();
    let big = f.lookup("big");
    let w = SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE;
    assert_eq!(f.setup(big, 0, MB2, 0, w), Err(libc::EROFS));
    f.vm.no_backend_msg();
    f.setup(big, 0, MB2, 0, SETUPMAPPING_FLAG_READ).unwrap();
    let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!({ m.flags }, 0);
    srv.stop();
}

#[test]
fn unmount_gives_the_window_back() {
    let (_fx, srv, mut f) = session("dax-window=16M", Access::Master);
    f.init();
    let big = f.lookup("big");
    f.setup(big, 0, MB2, 0, SETUPMAPPING_FLAG_READ).unwrap();
    f.vm.backend_msg();
    // DESTROY (umount): the VMM still holds the mapping; it is unmapped.
    f.call(DESTROY, 0, &[]).unwrap();
    let BackendMsg::Unmap(u) = f.vm.backend_msg() else {
        panic!("no SHMEM_UNMAP")
    };
    assert_eq!((u.shm_offset, u.len), (0, MB2));
    // Mounting again: the window is free.
    f.init();
    let big = f.lookup("big");
    f.setup(big, MB2, MB2, 0, SETUPMAPPING_FLAG_READ).unwrap();
    let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!({ m.shm_offset }, 0);
    srv.stop();
}

#[test]
fn copy_mode_has_no_window() {
    let o = Opts {
        protocol: VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::REPLY_ACK,
        shmem_config: false,
        event_idx: true,
        notify: false,
        queues: 2,
        interleave: false,
        readdirplus: false,
        entry_fmap: false,
    };
    let (_fx, srv, mut f) = session_with("cache=never", Access::Master, o);
    let offered = f.vm.frontend.get_protocol_features().unwrap();
    assert!(!offered.contains(VhostUserProtocolFeatures::SHMEM));
    let init = f.init();
    assert_eq!(init.flags & MAP_ALIGNMENT, 0);
    let big = f.lookup("big");
    assert_eq!(
        f.setup(big, 0, MB2, 0, SETUPMAPPING_FLAG_READ),
        Err(libc::ENOSYS)
    );
    srv.stop();
}

#[test]
fn a_striped_range_is_one_map_per_chunk() {
    let (fx, srv, mut f) = session("dax-window=16M", Access::Master);
    let spec = FileSpec {
        size: 8 * MB2,
        mode: 0o644,
        uid: 0,
        gid: 0,
        striping: Some(vhost_famfs::meta::alloc::Striping {
            strips: 2,
            chunk_size: MB2,
        }),
    };
    fx.fs.create(&rp("striped"), &spec).unwrap();
    let node = fx.fs.stat("striped").unwrap();
    let chunks = node.extents();
    f.init();
    let id = f.lookup("striped");
    // 4 MiB from file offset 2 MiB: chunks 1 and 2, on different strips.
    f.setup(id, MB2, 2 * MB2, 4 * MB2, SETUPMAPPING_FLAG_READ)
        .unwrap();
    let mut dev = Vec::new();
    for _ in 0..2 {
        let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
            panic!("no SHMEM_MAP")
        };
        assert_eq!({ m.len }, MB2);
        dev.push((m.shm_offset, m.fd_offset));
    }
    // Chunk k of the file is the k-th 2 MiB of its expanded extents.
    let chunk = |k: u64| {
        let mut at = k * MB2;
        for e in &chunks {
            if at < e.len {
                return e.offset + at;
            }
            at -= e.len;
        }
        panic!("chunk {k} past the file")
    };
    assert_eq!(dev, [(4 * MB2, chunk(1)), (5 * MB2, chunk(2))]);
    assert_ne!(chunk(1) + MB2, chunk(2), "the strips are not contiguous");
    f.vm.no_backend_msg();
    srv.stop();
}

/// Two tenants' trees a/ and b/ on one device; the socket exports /a. A
/// SETUPMAPPING of a node outside /a (b's file, or the root's, by forged
/// node id) is ESTALE before any VMM call; a's own file maps as usual.
#[test]
fn subtree_export_maps_only_its_own_files() {
    let fx = fixture();
    let spec = FileSpec {
        size: MB2,
        mode: 0o644,
        uid: 0,
        gid: 0,
        striping: None,
    };
    for t in ["a", "b"] {
        fx.fs.mkdir(&rp(t), 0o755, 0, 0).unwrap();
        fx.fs.create(&rp(&format!("{t}/f")), &spec).unwrap();
    }
    let mut o = Opts::full();
    o.notify = false;
    o.interleave = false;
    let (fx, srv, mut f) = serve_dax(fx, "dax-window=16M,subtree=/a", Access::Master, o);
    f.init();
    let r = SETUPMAPPING_FLAG_READ;
    let rw = r | SETUPMAPPING_FLAG_WRITE;
    for other in ["b/f", "big", "b"] {
        let forged = fx.fs.stat(other).unwrap().ino;
        for flags in [r, rw] {
            assert_eq!(
                f.setup(forged, 0, MB2, 0, flags),
                Err(libc::ESTALE),
                "{other} (node {forged}) flags {flags:#x}"
            );
        }
    }
    // Nor do the other tree's names resolve from the export's root.
    for name in ["b", "big", "dir"] {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        assert_eq!(
            f.call(LOOKUP, 1, &n).map(|_| ()),
            Err(libc::ENOENT),
            "{name}"
        );
    }
    f.vm.no_backend_msg();

    // The export's own file: the node id it is known by, its device bytes.
    let mine = f.lookup("f");
    let own = fx.fs.stat("a/f").unwrap();
    assert_eq!(mine, own.ino);
    f.setup(mine, 0, MB2, 2 * MB2, r).unwrap();
    let BackendMsg::Map(m, _) = f.vm.backend_msg() else {
        panic!("no SHMEM_MAP")
    };
    assert_eq!(
        (m.shmid, m.shm_offset, m.fd_offset, m.len),
        (0, 2 * MB2, own.extents()[0].offset, MB2)
    );
    // A refused forgery after it leaves the live mapping alone.
    let theirs = fx.fs.stat("b/f").unwrap().ino;
    assert_eq!(f.setup(theirs, 0, MB2, 0, r), Err(libc::ESTALE));
    f.vm.no_backend_msg();
    f.remove(&[(2 * MB2, MB2)]).unwrap();
    let BackendMsg::Unmap(u) = f.vm.backend_msg() else {
        panic!("no SHMEM_UNMAP")
    };
    assert_eq!((u.shm_offset, u.len), (2 * MB2, MB2));
    srv.stop();
}
