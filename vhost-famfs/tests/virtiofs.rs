// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-fs front door (`proto=virtio-fs`, copy mode) driven through
//! real vhost-user and real virtqueues by the test VMM in tests/common:
//! every request the Linux virtio-fs driver sends, famfs's rules, the
//! roles, and malformed FUSE messages.

pub mod common;

use std::path::PathBuf;

use common::*;
use vhost::vhost_user::message::{VhostUserConfigFlags, VhostUserProtocolFeatures};
use vhost::vhost_user::VhostUserFrontend;
use vhost_famfs::daemon::{Proto, SocketSpec};
use vhost_famfs::fuse::abi::*;
use vhost_famfs::fuse::CachePolicy;
use vhost_famfs::meta::FileSpec;
use vhost_famfs::server::Access;
use vm_memory::ByteValued;

const DEV_SIZE: u64 = 64 << 20;
const DATA_SIZE: u64 = (3 << 20) + 4321;
const IN: usize = std::mem::size_of::<InHeader>();
const OUT: usize = std::mem::size_of::<OutHeader>();
const HIPRIO: usize = 0;
const REQQ: usize = 1;

fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(131) >> 3) as u8 ^ (i >> 12) as u8
}

/// Root: data.bin (pattern), a (100 bytes), dir/.
fn fixture() -> Fixture {
    Fixture::build(DEV_SIZE, |fs| {
        let data = fs.create(&rp("data.bin"), &file_spec(DATA_SIZE)).unwrap();
        fs.create(&rp("a"), &file_spec(100)).unwrap();
        fs.mkdir(&rp("dir"), 0o755, 0, 0).unwrap();
        fill_pattern(fs, &data, pattern);
    })
}

impl Fixture {
    fn sock(&self, name: &str, access: Access, cache: Option<CachePolicy>) -> SocketSpec {
        let mut s = self.socket(name, &format!("proto=virtio-fs,tag=fs-{name}"));
        s.access = Some(access);
        s.cache = cache;
        s
    }

    /// The file's bytes as the host sees them.
    fn host_bytes(&self, path: &str, off: u64, len: usize) -> Vec<u8> {
        let n = self.fs.stat(path).unwrap();
        let ext = n.extents();
        assert_eq!(ext.len(), 1, "test files have one extent");
        let mut b = vec![0u8; len];
        self.fs
            .device()
            .read_bytes(ext[0].offset + off, &mut b)
            .unwrap();
        b
    }
}

fn opts() -> Opts {
    Opts {
        protocol: VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::REPLY_ACK,
        shmem_config: false,
        event_idx: true,
        notify: false,
        interleave: false,
        readdirplus: false,
        entry_fmap: false,
        queues: 2,
    }
}

/// A FUSE client over the test VMM's queues.
struct Fuse {
    vm: Vm,
    unique: u64,
}

impl Fuse {
    fn connect(path: &std::path::Path) -> Self {
        Fuse {
            vm: Vm::connect(path, opts()),
            unique: 0,
        }
    }

    /// Sends one request; returns the used length and the reply bytes.
    fn raw(&mut self, q: usize, segs: &[Seg]) -> (u32, Vec<u8>) {
        self.vm.submit_on(q, segs, false)
    }

    fn header(&mut self, opcode: u32, nodeid: u64, body_len: usize) -> InHeader {
        self.unique += 1;
        InHeader {
            len: (IN + body_len) as u32,
            opcode,
            unique: self.unique,
            nodeid,
            uid: 1000,
            gid: 100,
            pid: 42,
            ..Default::default()
        }
    }

    /// One request on queue `q`: Ok(payload) or Err(errno).
    fn call_on(
        &mut self,
        q: usize,
        opcode: u32,
        nodeid: u64,
        body: &[u8],
        cap: u32,
    ) -> Result<Vec<u8>, i32> {
        let h = self.header(opcode, nodeid, body.len());
        let mut segs = vec![Seg::R(h.as_slice().to_vec())];
        if !body.is_empty() {
            segs.push(Seg::R(body.to_vec()));
        }
        segs.push(Seg::W(cap));
        let (used, out) = self.raw(q, &segs);
        assert!(used as usize >= OUT, "op {opcode}: used {used}");
        let o: OutHeader = parse(&out);
        assert_eq!(o.len, used, "op {opcode}: header length");
        assert_eq!(o.unique, h.unique, "op {opcode}: unique");
        match o.error {
            0 => Ok(out[OUT..].to_vec()),
            e => {
                assert!(e < 0, "op {opcode}: error {e} not negative");
                assert_eq!(used as usize, OUT, "op {opcode}: error with payload");
                Err(-e)
            }
        }
    }

    fn call(&mut self, opcode: u32, nodeid: u64, body: &[u8]) -> Result<Vec<u8>, i32> {
        self.call_on(REQQ, opcode, nodeid, body, 64 << 10)
    }

    fn init(&mut self) -> InitOut {
        let inp = InitIn {
            major: 7,
            minor: 41,
            max_readahead: 128 << 10,
            flags: 0xffff_ffff,
            flags2: 0xffff_ffff,
            ..Default::default()
        };
        parse_exact(&self.call(INIT, 0, inp.as_slice()).unwrap())
    }

    fn lookup(&mut self, parent: u64, name: &str) -> Result<EntryOut, i32> {
        self.call(LOOKUP, parent, &cname(name))
            .map(|p| parse_exact(&p))
    }

    fn getattr(&mut self, node: u64) -> Result<AttrOut, i32> {
        self.call(GETATTR, node, GetattrIn::default().as_slice())
            .map(|p| parse_exact(&p))
    }

    fn read(&mut self, node: u64, offset: u64, size: u32) -> Result<Vec<u8>, i32> {
        let inp = ReadIn {
            offset,
            size,
            ..Default::default()
        };
        self.call_on(REQQ, READ, node, inp.as_slice(), size + OUT as u32)
    }

    fn write(&mut self, node: u64, offset: u64, data: &[u8]) -> Result<u32, i32> {
        let inp = WriteIn {
            offset,
            size: data.len() as u32,
            ..Default::default()
        };
        let mut body = inp.as_slice().to_vec();
        body.extend_from_slice(data);
        self.call(WRITE, node, &body)
            .map(|p| parse_exact::<WriteOut>(&p).size)
    }

    fn setattr(&mut self, node: u64, valid: u32, size: u64) -> Result<AttrOut, i32> {
        let inp = SetattrIn {
            valid,
            size,
            mode: 0o777,
            ..Default::default()
        };
        self.call(SETATTR, node, inp.as_slice())
            .map(|p| parse_exact(&p))
    }

    fn open(&mut self, node: u64, flags: i32) -> Result<OpenOut, i32> {
        let inp = OpenIn {
            flags: flags as u32,
            open_flags: 0,
        };
        self.call(OPEN, node, inp.as_slice())
            .map(|p| parse_exact(&p))
    }

    fn create(&mut self, parent: u64, name: &str) -> Result<(EntryOut, OpenOut), i32> {
        let inp = CreateIn {
            flags: (libc::O_CREAT | libc::O_RDWR) as u32,
            mode: 0o100664,
            umask: 0o022,
            open_flags: 0,
        };
        let mut body = inp.as_slice().to_vec();
        body.extend_from_slice(&cname(name));
        self.call(CREATE, parent, &body).map(|p| {
            let e = std::mem::size_of::<EntryOut>();
            assert_eq!(p.len(), e + std::mem::size_of::<OpenOut>());
            (parse(&p[..e]), parse(&p[e..]))
        })
    }

    fn mkdir(&mut self, parent: u64, name: &str) -> Result<EntryOut, i32> {
        let inp = MkdirIn {
            mode: 0o775,
            umask: 0o022,
        };
        let mut body = inp.as_slice().to_vec();
        body.extend_from_slice(&cname(name));
        self.call(MKDIR, parent, &body).map(|p| parse_exact(&p))
    }

    /// READDIR(PLUS) from `offset` with a `size`-byte buffer: (name, ino, off).
    fn readdir(&mut self, dir: u64, offset: u64, size: u32, plus: bool) -> Vec<(String, u64, u64)> {
        let inp = ReadIn {
            offset,
            size,
            ..Default::default()
        };
        let op = if plus { READDIRPLUS } else { READDIR };
        let p = self.call(op, dir, inp.as_slice()).unwrap();
        assert!(p.len() <= size as usize);
        let mut out = Vec::new();
        let mut at = 0;
        while at < p.len() {
            if plus {
                let e: EntryOut = parse(&p[at..]);
                at += std::mem::size_of::<EntryOut>();
                let d: Dirent = parse(&p[at..]);
                assert_eq!(e.nodeid, d.ino);
                assert_eq!(e.attr.ino, d.ino);
            }
            let d: Dirent = parse(&p[at..]);
            let start = at + std::mem::size_of::<Dirent>();
            let name = &p[start..start + d.namelen as usize];
            out.push((String::from_utf8(name.to_vec()).unwrap(), d.ino, d.off));
            at = (start + d.namelen as usize).next_multiple_of(8);
        }
        out
    }
}

fn cname(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn session(access: Access, cache: Option<CachePolicy>) -> (Fixture, Running, Fuse) {
    let fx = fixture();
    let s = fx.sock("vm", access, cache);
    let srv = Running::start(&fx.fs, std::slice::from_ref(&s));
    let f = Fuse::connect(&s.path);
    (fx, srv, f)
}

#[test]
fn socket_spelling_selects_virtio_fs() {
    let s: SocketSpec = "/x,proto=virtio-fs,cache=always".parse().unwrap();
    assert_eq!(s.proto, Proto::VirtioFs);
    assert_eq!(s.cache, Some(CachePolicy::Always));
    let d: SocketSpec = "/x".parse().unwrap();
    assert_eq!((d.proto, d.cache), (Proto::Famfs, None));
    assert!("/x,proto=nfs".parse::<SocketSpec>().is_err());
    assert!("/x,proto=virtio-fs,cache=sometimes"
        .parse::<SocketSpec>()
        .is_err());
    // A cache policy means nothing to a virtio-famfs socket.
    assert!("/x,cache=never".parse::<SocketSpec>().is_err());
    // --socket-path and --fd take the same options.
    let p = SocketSpec::with_options("/a,b".into(), "proto=virtio-fs,cache=auto").unwrap();
    assert_eq!(p.path, PathBuf::from("/a,b"));
    assert_eq!(
        (p.proto, p.cache),
        (Proto::VirtioFs, Some(CachePolicy::Auto))
    );
    assert!(SocketSpec::with_options("/a".into(), "cache=auto").is_err());
}

/// Names are byte strings on this door too: any bytes but '/' and NUL.
#[test]
fn names_need_not_be_utf8() {
    let (fx, srv, mut f) = session(Access::Master, None);
    f.init();
    let raw = |name: &[u8]| {
        let mut v = name.to_vec();
        v.push(0);
        v
    };
    let mk = |f: &mut Fuse, name: &[u8]| {
        let mut body = MkdirIn {
            mode: 0o775,
            umask: 0o022,
        }
        .as_slice()
        .to_vec();
        body.extend_from_slice(&raw(name));
        f.call(MKDIR, ROOT_ID, &body)
            .map(|p| parse_exact::<EntryOut>(&p))
    };
    let latin1 = b"caf\xe9";
    let made = mk(&mut f, latin1).unwrap();
    let found: EntryOut = parse_exact(&f.call(LOOKUP, ROOT_ID, &raw(latin1)).unwrap());
    assert_eq!(found.nodeid, made.nodeid);
    assert!(fx.fs.with_ns(|ns| ns.lookup(1, latin1).is_some()));
    let listed = f.call(
        READDIR,
        ROOT_ID,
        ReadIn {
            size: 4096,
            ..Default::default()
        }
        .as_slice(),
    );
    assert!(listed.unwrap().windows(4).any(|w| w == latin1));
    for bad in [&b"."[..], b"..", b"a/b", b""] {
        assert_eq!(mk(&mut f, bad).unwrap_err(), libc::EINVAL, "{bad:?}");
    }
    assert_eq!(
        f.call(LOOKUP, ROOT_ID, &raw(b".meta")).unwrap_err(),
        libc::ENOENT
    );
    srv.stop();
}

/// `status` counts a virtio-fs socket's requests by FUSE opcode.
#[test]
fn status_counts_fuse_requests() {
    let (_fx, srv, mut f) = session(Access::Master, None);
    f.init();
    f.lookup(ROOT_ID, "data.bin").unwrap();
    assert_eq!(f.lookup(ROOT_ID, "nope").unwrap_err(), libc::ENOENT);
    let n = f.lookup(ROOT_ID, "a").unwrap().nodeid;
    f.read(n, 0, 100).unwrap();
    let text = srv.status();
    assert!(text.contains("\n  connected yes\n"), "{text}");
    assert!(text.contains("\n  mapped_bytes 0\n"), "{text}");
    assert!(text.contains(" lookup=3 "), "{text}");
    assert!(text.contains(" read=1 "), "{text}");
    let errors = text.lines().find(|l| l.starts_with("  errors")).unwrap();
    assert!(errors.contains(" lookup=1 "), "{text}");
    assert!(!text.contains("get_fmap"), "{text}");
    srv.stop();
}

#[test]
fn config_space_is_tag_and_request_queues() {
    let (_fx, srv, mut f) = session(Access::Master, None);
    let (_, cfg) =
        f.vm.frontend
            .get_config(0, 40, VhostUserConfigFlags::empty(), &[0; 40])
            .unwrap();
    assert_eq!(&cfg[..6], b"fs-vm\0");
    assert!(cfg[6..36].iter().all(|&b| b == 0));
    assert_eq!(u32::from_le_bytes(cfg[36..40].try_into().unwrap()), 1);
    drop(f);
    srv.stop();
}

#[test]
fn master_serves_the_stock_driver_requests() {
    let (fx, srv, mut f) = session(Access::Master, None);
    // Before INIT nothing is served.
    assert_eq!(f.getattr(ROOT_ID).unwrap_err(), libc::EIO);
    let init = f.init();
    assert_eq!((init.major, init.minor), (7, 38));
    assert_eq!(init.max_write, 1 << 20);
    assert_eq!(init.max_pages, 256);
    assert_eq!(init.flags & MAP_ALIGNMENT, 0, "copy mode has no window");
    assert_ne!(init.flags & DO_READDIRPLUS, 0);
    assert_eq!(init.flags2, DIRECT_IO_ALLOW_MMAP_FLAGS2);

    // Root and lookups: attributes as the host has them.
    let root = f.getattr(ROOT_ID).unwrap();
    assert_eq!(root.attr.mode & libc::S_IFMT, libc::S_IFDIR);
    assert_eq!(root.attr_valid, 0, "cache=never by default");
    let data = f.lookup(ROOT_ID, "data.bin").unwrap();
    let host = fx.fs.stat("data.bin").unwrap();
    assert_eq!(data.nodeid, host.ino);
    assert_eq!(data.attr.size, DATA_SIZE);
    assert_eq!(data.attr.mode, host.mode);
    assert_eq!((data.attr.uid, data.attr.gid), (1000, 100));
    assert_eq!((data.entry_valid, data.attr_valid), (0, 0));
    assert_eq!(f.lookup(ROOT_ID, "nope").unwrap_err(), libc::ENOENT);
    assert_eq!(f.lookup(ROOT_ID, ".meta").unwrap_err(), libc::ENOENT);
    assert_eq!(f.lookup(data.nodeid, "x").unwrap_err(), libc::ENOTDIR);
    assert_eq!(f.getattr(0xdead_0000).unwrap_err(), libc::ESTALE);

    // OPEN: cache=never reads through the daemon, mmap still allowed.
    let o = f.open(data.nodeid, libc::O_RDWR).unwrap();
    assert_eq!(o.open_flags, FOPEN_DIRECT_IO);
    assert_eq!(f.open(ROOT_ID, libc::O_RDONLY).unwrap_err(), libc::EISDIR);
    let d = f
        .call(OPENDIR, ROOT_ID, OpenIn::default().as_slice())
        .unwrap();
    assert_eq!(d.len(), 16);

    // READ: the device bytes, cut at the file size.
    let got = f.read(data.nodeid, (1 << 20) - 100, 200 << 10).unwrap();
    let want: Vec<u8> = ((1 << 20) - 100..(1 << 20) - 100 + (200 << 10))
        .map(pattern)
        .collect();
    assert_eq!(got, want);
    let tail = f.read(data.nodeid, DATA_SIZE - 10, 4096).unwrap();
    assert_eq!(tail.len(), 10);
    assert!(f.read(data.nodeid, DATA_SIZE, 4096).unwrap().is_empty());
    assert!(f.read(data.nodeid, u64::MAX, 4096).unwrap().is_empty());

    // WRITE: into the file's device bytes, never past its end.
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(f.write(data.nodeid, 12345, &bytes).unwrap(), 5000);
    assert_eq!(fx.host_bytes("data.bin", 12345, 5000), bytes);
    assert_eq!(f.write(data.nodeid, DATA_SIZE - 3, &bytes).unwrap(), 3);
    assert_eq!(
        f.write(data.nodeid, DATA_SIZE, &bytes).unwrap_err(),
        libc::ENOSPC
    );
    assert_eq!(
        fx.host_bytes("data.bin", 0, 16),
        (0..16).map(pattern).collect::<Vec<_>>()
    );

    // Size, mode and owner are fixed.
    assert_eq!(
        f.setattr(data.nodeid, FATTR_SIZE, 10).unwrap_err(),
        libc::EPERM
    );
    assert_eq!(
        f.setattr(data.nodeid, FATTR_SIZE, DATA_SIZE)
            .unwrap()
            .attr
            .size,
        DATA_SIZE
    );
    assert_eq!(
        f.setattr(data.nodeid, FATTR_MODE, 0).unwrap_err(),
        libc::EPERM
    );
    assert_eq!(
        f.setattr(data.nodeid, FATTR_UID, 0).unwrap_err(),
        libc::EPERM
    );
    // Times are ignored (touch works).
    f.setattr(data.nodeid, 1 << 4 | 1 << 5, 0).unwrap();

    // READDIR / READDIRPLUS: the host's listing, resumable by offset.
    for plus in [false, true] {
        let all = f.readdir(ROOT_ID, 0, 4096, plus);
        let names: Vec<_> = all.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["data.bin", "a", "dir"], "plus {plus}");
        let rest = f.readdir(ROOT_ID, all[0].2, 4096, plus);
        assert_eq!(rest, all[1..]);
        assert!(f.readdir(ROOT_ID, all[2].2, 4096, plus).is_empty());
        // A buffer for one entry gets one entry.
        let one = if plus { 152 + 8 + 8 } else { 24 + 8 + 8 };
        assert_eq!(f.readdir(ROOT_ID, 0, one, plus).len(), 1);
    }

    // STATFS matches the host's usage.
    let st: StatfsOut = parse_exact(&f.call(STATFS, ROOT_ID, &[]).unwrap());
    let u = fx.fs.usage().unwrap();
    assert_eq!(st.st.blocks * u64::from(st.st.bsize), u.total_bytes);
    assert_eq!(st.st.bfree * u64::from(st.st.bsize), u.free_bytes);
    assert_eq!(st.st.files, u.files + u.dirs);

    // CREATE reserves; the first size appends the famfs entry.
    let (e, o) = f.create(ROOT_ID, "new").unwrap();
    assert_ne!(e.nodeid & (1 << 63), 0);
    assert_eq!(e.attr.size, 0);
    assert_eq!(e.attr.mode, libc::S_IFREG | 0o644);
    assert_eq!(o.open_flags, FOPEN_DIRECT_IO);
    assert!(fx.fs.stat("new").is_err(), "nothing on the device yet");
    assert_eq!(f.lookup(ROOT_ID, "new").unwrap().nodeid, e.nodeid);
    assert_eq!(f.create(ROOT_ID, "new").unwrap_err(), libc::EEXIST);
    assert_eq!(f.create(ROOT_ID, "a").unwrap_err(), libc::EEXIST);
    assert_eq!(f.write(e.nodeid, 0, b"x").unwrap_err(), libc::ENOSPC);
    assert!(f.read(e.nodeid, 0, 10).unwrap().is_empty());
    let sized = f.setattr(e.nodeid, FATTR_SIZE, 8 << 20).unwrap();
    assert_eq!(sized.attr.size, 8 << 20);
    let host_new = fx.fs.stat("new").unwrap();
    assert_eq!(host_new.size(), 8 << 20);
    assert_eq!((host_new.uid, host_new.gid), (1000, 100));
    assert_eq!(host_new.mode & 0o7777, 0o644);
    assert_eq!(f.write(e.nodeid, 100, b"hello").unwrap(), 5);
    assert_eq!(fx.host_bytes("new", 100, 5), b"hello");
    assert_eq!(f.getattr(e.nodeid).unwrap().attr.size, 8 << 20);
    // The guest keeps knowing it by the id it was given.
    assert_eq!(f.lookup(ROOT_ID, "new").unwrap().nodeid, e.nodeid);
    assert_eq!(f.setattr(e.nodeid, FATTR_SIZE, 1).unwrap_err(), libc::EPERM);

    // FALLOCATE sizes a reserved file too; inside a file it is a no-op.
    let (e2, _) = f.create(ROOT_ID, "fa").unwrap();
    let fa = |off, len, mode| FallocateIn {
        offset: off,
        length: len,
        mode,
        ..Default::default()
    };
    f.call(FALLOCATE, e2.nodeid, fa(0, 3 << 20, 0).as_slice())
        .unwrap();
    assert_eq!(fx.fs.stat("fa").unwrap().size(), 3 << 20);
    f.call(FALLOCATE, e2.nodeid, fa(4096, 4096, 0).as_slice())
        .unwrap();
    assert_eq!(
        f.call(FALLOCATE, e2.nodeid, fa(0, 4 << 20, 0).as_slice())
            .unwrap_err(),
        libc::EPERM
    );
    assert_eq!(
        f.call(FALLOCATE, e2.nodeid, fa(0, 10, 1).as_slice())
            .unwrap_err(),
        libc::EOPNOTSUPP
    );

    // MKDIR appends a directory.
    let sub = f.mkdir(ROOT_ID, "sub").unwrap();
    let host_sub = fx.fs.stat("sub").unwrap();
    assert_eq!(sub.nodeid, host_sub.ino);
    assert!(host_sub.is_dir());
    assert_eq!(host_sub.mode & 0o7777, 0o755);
    assert_eq!(f.mkdir(ROOT_ID, "sub").unwrap_err(), libc::EEXIST);
    assert!(f.mkdir(sub.nodeid, "deeper").is_ok());

    // LSEEK: one data range, no holes.
    let ls = |off, whence| LseekIn {
        offset: off,
        whence,
        ..Default::default()
    };
    let r: LseekOut = parse_exact(&f.call(LSEEK, data.nodeid, ls(10, 3).as_slice()).unwrap());
    assert_eq!(r.offset, 10);
    let r: LseekOut = parse_exact(&f.call(LSEEK, data.nodeid, ls(10, 4).as_slice()).unwrap());
    assert_eq!(r.offset, DATA_SIZE);
    assert_eq!(
        f.call(LSEEK, data.nodeid, ls(DATA_SIZE, 3).as_slice())
            .unwrap_err(),
        libc::ENXIO
    );

    // Housekeeping requests succeed without payload.
    for (op, body) in [
        (FLUSH, FlushIn::default().as_slice().to_vec()),
        (FSYNC, FsyncIn::default().as_slice().to_vec()),
        (FSYNCDIR, FsyncIn::default().as_slice().to_vec()),
        (RELEASE, ReleaseIn::default().as_slice().to_vec()),
        (RELEASEDIR, ReleaseIn::default().as_slice().to_vec()),
        (SYNCFS, SyncfsIn::default().as_slice().to_vec()),
    ] {
        assert!(
            f.call(op, data.nodeid, &body).unwrap().is_empty(),
            "op {op}"
        );
    }
    // No deletes, renames, links, xattrs; no window in copy mode.
    for op in [10, 11, 12, 13, 21, 22, 45, 47, 999, u32::MAX] {
        assert_eq!(
            f.call(op, ROOT_ID, &cname("a")).unwrap_err(),
            libc::ENOSYS,
            "op {op}"
        );
    }
    assert_eq!(
        f.call(
            SETUPMAPPING,
            data.nodeid,
            SetupmappingIn::default().as_slice()
        )
        .unwrap_err(),
        libc::ENOSYS
    );

    // FORGET and BATCH_FORGET (high-priority queue) get no reply; a
    // forgotten reservation is dropped.
    let (e3, _) = f.create(ROOT_ID, "gone").unwrap();
    let h = f.header(FORGET, e3.nodeid, 8);
    let (used, _) = f.raw(
        HIPRIO,
        &[
            Seg::R(h.as_slice().to_vec()),
            Seg::R(1u64.to_le_bytes().to_vec()),
        ],
    );
    assert_eq!(used, 0);
    assert_eq!(f.getattr(e3.nodeid).unwrap_err(), libc::ESTALE);
    assert_eq!(f.lookup(ROOT_ID, "gone").unwrap_err(), libc::ENOENT);
    let mut body = BatchForgetIn { count: 2, dummy: 0 }.as_slice().to_vec();
    body.extend_from_slice(
        ForgetOne {
            nodeid: data.nodeid,
            nlookup: 5,
        }
        .as_slice(),
    );
    body.extend_from_slice(
        ForgetOne {
            nodeid: e.nodeid,
            nlookup: 1,
        }
        .as_slice(),
    );
    let h = f.header(BATCH_FORGET, 0, body.len());
    let (used, _) = f.raw(HIPRIO, &[Seg::R(h.as_slice().to_vec()), Seg::R(body)]);
    assert_eq!(used, 0);
    // The two lookups of "new" (CREATE, LOOKUP, LOOKUP: three) minus one.
    assert_eq!(f.getattr(e.nodeid).unwrap().attr.size, 8 << 20);

    // DESTROY ends the session.
    assert!(f.call(DESTROY, 0, &[]).unwrap().is_empty());
    assert_eq!(f.getattr(ROOT_ID).unwrap_err(), libc::EIO);
    drop(f);
    srv.stop();
}

#[test]
fn cache_policies_set_timeouts_and_open_flags() {
    for (cache, valid, flags) in [
        (CachePolicy::Auto, 1, 0),
        (CachePolicy::Always, 86_400, FOPEN_KEEP_CACHE),
    ] {
        let (_fx, srv, mut f) = session(Access::Master, Some(cache));
        f.init();
        let e = f.lookup(ROOT_ID, "a").unwrap();
        assert_eq!((e.entry_valid, e.attr_valid), (valid, valid), "{cache:?}");
        assert_eq!(f.open(e.nodeid, libc::O_RDONLY).unwrap().open_flags, flags);
        drop(f);
        srv.stop();
    }
    // A guest that cannot mmap FOPEN_DIRECT_IO files gets the page cache,
    // dropped at each open, rather than failing mmap.
    let (_fx, srv, mut f) = session(Access::Master, None);
    let inp = InitIn {
        major: 7,
        minor: 31,
        max_readahead: 4096,
        flags: BIG_WRITES,
        ..Default::default()
    };
    let out: InitOut = parse_exact(&f.call(INIT, 0, &inp.as_slice()[..16]).unwrap());
    assert_eq!((out.minor, out.flags, out.flags2), (38, BIG_WRITES, 0));
    let e = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.open(e.nodeid, libc::O_RDONLY).unwrap().open_flags, 0);
    drop(f);
    srv.stop();
}

#[test]
fn client_and_read_only_sockets_refuse_changes() {
    for access in [Access::Client, Access::ReadOnly] {
        let (fx, srv, mut f) = session(access, None);
        f.init();
        assert_eq!(f.create(ROOT_ID, "x").unwrap_err(), libc::EROFS);
        assert_eq!(f.mkdir(ROOT_ID, "x").unwrap_err(), libc::EROFS);
        let a = f.lookup(ROOT_ID, "a").unwrap();
        let w = f.write(a.nodeid, 0, b"client");
        let o = f.open(a.nodeid, libc::O_WRONLY);
        if access == Access::Client {
            // A client writes existing file data, as on virtio-famfs.
            assert_eq!(w.unwrap(), 6);
            assert!(o.is_ok());
            assert_eq!(fx.host_bytes("a", 0, 6), b"client");
        } else {
            assert_eq!(w.unwrap_err(), libc::EROFS);
            assert_eq!(o.unwrap_err(), libc::EROFS);
            assert_eq!(fx.host_bytes("a", 0, 6), [0; 6]);
            assert!(f.open(a.nodeid, libc::O_RDONLY).is_ok());
        }
        assert_eq!(f.read(a.nodeid, 0, 100).unwrap().len(), 100);
        drop(f);
        srv.stop();
    }
}

#[test]
fn malformed_messages_get_errors_and_the_daemon_lives() {
    let (fx, srv, mut f) = session(Access::Master, None);
    f.init();
    let a = f.lookup(ROOT_ID, "a").unwrap().nodeid;
    // A header shorter than fuse_in_header.
    let (used, out) = f.raw(REQQ, &[Seg::R(vec![1; 10]), Seg::W(64)]);
    assert_eq!(used as usize, OUT);
    assert_eq!(parse::<OutHeader>(&out).error, -libc::EINVAL);
    // Declared length unlike the chain's.
    for len in [0u32, 39, 41, 1 << 20, u32::MAX] {
        let mut h = f.header(GETATTR, ROOT_ID, 16);
        h.len = len;
        let (used, out) = f.raw(
            REQQ,
            &[
                Seg::R(h.as_slice().to_vec()),
                Seg::R(vec![0; 16]),
                Seg::W(256),
            ],
        );
        assert_eq!(used as usize, OUT, "len {len}");
        assert_eq!(parse::<OutHeader>(&out).error, -libc::EINVAL);
    }
    // Bodies shorter than their structs.
    for op in [
        LOOKUP,
        GETATTR,
        SETATTR,
        OPEN,
        READ,
        WRITE,
        READDIR,
        READDIRPLUS,
        CREATE,
        MKDIR,
        FALLOCATE,
        LSEEK,
        RELEASE,
        FLUSH,
        FSYNC,
        SYNCFS,
        REMOVEMAPPING,
        SETUPMAPPING,
    ] {
        assert_eq!(f.call(op, a, &[]).unwrap_err(), libc::EINVAL, "op {op}");
    }
    // Names: no NUL, empty, '/', "..", too long.
    assert_eq!(f.call(LOOKUP, ROOT_ID, b"abc").unwrap_err(), libc::EINVAL);
    assert_eq!(f.call(LOOKUP, ROOT_ID, b"\0").unwrap_err(), libc::EINVAL);
    assert_eq!(f.call(LOOKUP, ROOT_ID, b"a/b\0").unwrap_err(), libc::EINVAL);
    assert_eq!(f.call(LOOKUP, ROOT_ID, b"..\0").unwrap_err(), libc::EINVAL);
    let long = "n".repeat(300);
    assert_eq!(f.mkdir(ROOT_ID, &long).unwrap_err(), libc::ENAMETOOLONG);
    // WRITE claiming more data than it carries.
    let inp = WriteIn {
        size: u32::MAX,
        ..Default::default()
    };
    let mut body = inp.as_slice().to_vec();
    body.extend_from_slice(&[0; 100]);
    assert_eq!(f.call(WRITE, a, &body).unwrap_err(), libc::EINVAL);
    // READ of u32::MAX bytes into a small buffer: what fits.
    let inp = ReadIn {
        size: u32::MAX,
        ..Default::default()
    };
    let r = f.call_on(REQQ, READ, a, inp.as_slice(), 64).unwrap();
    assert_eq!(r.len(), 48);
    // Huge counts.
    let mut body = BatchForgetIn {
        count: u32::MAX,
        dummy: 0,
    }
    .as_slice()
    .to_vec();
    body.extend_from_slice(&[0xff; 40]);
    let h = f.header(BATCH_FORGET, 0, body.len());
    assert_eq!(
        f.raw(HIPRIO, &[Seg::R(h.as_slice().to_vec()), Seg::R(body)])
            .0,
        0
    );
    let mut body = RemovemappingIn { count: u32::MAX }.as_slice().to_vec();
    body.extend_from_slice(&[0; 16]);
    assert_eq!(f.call(REMOVEMAPPING, 0, &body).unwrap_err(), libc::EINVAL);
    // Node ids nobody gave out.
    for id in [0, 2, u64::MAX, 1 << 63, (1 << 63) | 77] {
        assert!(f.getattr(id).is_err(), "id {id:#x}");
        assert!(f.read(id, 0, 10).is_err(), "id {id:#x}");
    }
    // INIT from a future major version gets our version only; an ancient
    // one is refused.
    let v8 = InitIn {
        major: 8,
        ..Default::default()
    };
    assert_eq!(f.call(INIT, 0, &v8.as_slice()[..16]).unwrap().len(), 8);
    let v6 = InitIn {
        major: 7,
        minor: 8,
        ..Default::default()
    };
    assert_eq!(
        f.call(INIT, 0, &v6.as_slice()[..16]).unwrap_err(),
        libc::EPROTO
    );
    // Reply buffers too small for a header: used length 0.
    let h = f.header(GETATTR, ROOT_ID, 16);
    let (used, _) = f.raw(
        REQQ,
        &[
            Seg::R(h.as_slice().to_vec()),
            Seg::R(vec![0; 16]),
            Seg::W(15),
        ],
    );
    assert_eq!(used, 0);
    // A reply buffer too small for the payload: ERANGE.
    assert_eq!(
        f.call_on(REQQ, GETATTR, ROOT_ID, GetattrIn::default().as_slice(), 40)
            .unwrap_err(),
        libc::ERANGE
    );
    // A readable descriptor after a writable one: not served.
    let h = f.header(GETATTR, ROOT_ID, 16);
    let (used, _) = f.raw(
        REQQ,
        &[
            Seg::R(h.as_slice().to_vec()),
            Seg::W(64),
            Seg::R(vec![0; 16]),
        ],
    );
    assert_eq!(used, 0);
    // Still serving, with the file system intact.
    f.init();
    assert_eq!(f.lookup(ROOT_ID, "data.bin").unwrap().attr.size, DATA_SIZE);
    assert!(vhost_famfs::meta::fsck::fsck(fx.fs.device()).is_clean());
    drop(f);
    srv.stop();
}

/// A file famfs marked read-only on all hosts (FILE_FLAG_ALL_HOSTS_RO, as
/// famfs's own tools write it) is EACCES for writing, even on a master.
#[test]
fn all_hosts_read_only_files_refuse_writes() {
    let (fx, srv, mut f) = session(Access::Master, None);
    log_all_hosts_ro(fx.fs.device(), &fx.fs, "ro.bin", 0o644);
    f.init();
    let ro = f.lookup(ROOT_ID, "ro.bin").unwrap();
    assert_eq!(ro.attr.size, 4096);
    assert_eq!(f.open(ro.nodeid, libc::O_RDWR).unwrap_err(), libc::EACCES);
    assert_eq!(f.write(ro.nodeid, 0, b"x").unwrap_err(), libc::EACCES);
    assert!(f.open(ro.nodeid, libc::O_RDONLY).is_ok());
    assert_eq!(f.read(ro.nodeid, 0, 8192).unwrap().len(), 4096);
    drop(f);
    srv.stop();
}

/// READ and WRITE of a striped file go to the right chunks, across chunk
/// and strip boundaries (computed directly from the interleaved map).
#[test]
fn striped_files_read_and_write_by_chunk() {
    use vhost_famfs::meta::alloc::Striping;
    let fx = fixture();
    const CHUNK: u64 = 2 << 20;
    let size = 5 * CHUNK + 777;
    let spec = FileSpec {
        size,
        mode: 0o666,
        uid: 1000,
        gid: 100,
        striping: Some(Striping {
            strips: 3,
            chunk_size: CHUNK,
        }),
    };
    let node = fx
        .fs
        .create(&vhost_famfs::meta::RelPath::new("striped").unwrap(), &spec)
        .unwrap();
    assert!(
        matches!(
            &node.kind,
            vhost_famfs::meta::NodeKind::File {
                fmap: vhost_famfs::meta::fmap::Fmap::Interleaved { .. },
                ..
            }
        ),
        "{:?}",
        node.kind
    );
    let mut i = 0u64;
    vhost_famfs::hostio::fill(fx.fs.device(), &node, |b| {
        for x in b.iter_mut() {
            *x = pattern(i);
            i += 1;
        }
    })
    .unwrap();
    let s = fx.sock("vm", Access::Master, None);
    let srv = Running::start(&fx.fs, std::slice::from_ref(&s));
    let mut f = Fuse::connect(&s.path);
    f.init();
    let n = f.lookup(ROOT_ID, "striped").unwrap().nodeid;
    // Spans chunk 0 -> 1 (strip 0 -> 1) and 2 -> 3 (strip 2 -> strip 0, row 1).
    for off in [CHUNK - 100, 3 * CHUNK - 5000, size - 500] {
        let got = f.read(n, off, 8192).unwrap();
        let want: Vec<u8> = (off..(off + 8192).min(size)).map(pattern).collect();
        assert_eq!(got, want, "read at {off:#x}");
    }
    // A write across a strip boundary lands where the host reads it.
    let off = 4 * CHUNK - 3;
    assert_eq!(f.write(n, off, b"abcdef").unwrap(), 6);
    assert_eq!(f.read(n, off - 1, 8).unwrap()[1..7], *b"abcdef");
    let ext = fx.fs.stat("striped").unwrap().extents();
    let dev_at = |foff: u64| {
        let mut start = 0;
        for e in &ext {
            if foff < start + e.len {
                return e.offset + (foff - start);
            }
            start += e.len;
        }
        panic!("{foff:#x} not mapped");
    };
    for (k, want) in b"abcdef".iter().enumerate() {
        let mut b = [0u8];
        fx.fs
            .device()
            .read_bytes(dev_at(off + k as u64), &mut b)
            .unwrap();
        assert_eq!(b[0], *want, "byte {k}");
    }
    srv.stop();
}

/// `subtree=/DIR` on the virtio-fs door: FUSE_ROOT_ID is the exported
/// directory; every request naming a node outside it (forged from the
/// other tenant's tree or the host's files) is ESTALE, SETUPMAPPING
/// included, before any window is looked at; statfs counts the export;
/// a file created through CREATE and sized lands under the directory.
#[test]
fn subtree_export_confines_fuse_requests() {
    let fx = fixture();
    for d in ["t1", "t2"] {
        fx.fs.mkdir(&rp(d), 0o755, 0, 0).unwrap();
    }
    let spec = |size| FileSpec {
        uid: 0,
        gid: 0,
        ..file_spec(size)
    };
    fx.fs.create(&rp("t1/x"), &spec(4096)).unwrap();
    fx.fs.create(&rp("t2/y"), &spec(4096)).unwrap();
    let ino = |p: &str| fx.fs.stat(p).unwrap().ino;
    let mut s = fx.sock("t1", Access::Master, None);
    s.policy.subtree = Some(b"/t1".to_vec());
    let srv = Running::start(&fx.fs, std::slice::from_ref(&s));
    let mut f = Fuse::connect(&s.path);
    f.init();

    assert_eq!(f.getattr(ROOT_ID).unwrap().attr.ino, ROOT_ID);
    let names: Vec<String> = f
        .readdir(ROOT_ID, 0, 4096, true)
        .into_iter()
        .map(|(n, ..)| n)
        .collect();
    assert_eq!(names, ["x"]);
    assert_eq!(f.lookup(ROOT_ID, "x").unwrap().nodeid, ino("t1/x"));
    for n in ["t2", "a", "data.bin", "t1"] {
        assert_eq!(f.lookup(ROOT_ID, n).unwrap_err(), libc::ENOENT, "{n}");
    }
    assert_eq!(f.call(LOOKUP, ROOT_ID, b"..\0").unwrap_err(), libc::EINVAL);

    let read_in = ReadIn {
        size: 4096,
        ..Default::default()
    };
    let map_in = SetupmappingIn {
        len: 2 << 20,
        ..Default::default()
    };
    let ops: Vec<(u32, Vec<u8>)> = vec![
        (GETATTR, GetattrIn::default().as_slice().to_vec()),
        (SETATTR, SetattrIn::default().as_slice().to_vec()),
        (LOOKUP, cname("y")),
        (OPEN, OpenIn::default().as_slice().to_vec()),
        (OPENDIR, OpenIn::default().as_slice().to_vec()),
        (READ, read_in.as_slice().to_vec()),
        (WRITE, {
            let mut b = WriteIn {
                size: 4,
                ..Default::default()
            }
            .as_slice()
            .to_vec();
            b.extend_from_slice(b"evil");
            b
        }),
        (READDIR, read_in.as_slice().to_vec()),
        (READDIRPLUS, read_in.as_slice().to_vec()),
        (MKDIR, {
            let mut b = MkdirIn::default().as_slice().to_vec();
            b.extend_from_slice(&cname("m"));
            b
        }),
        (CREATE, {
            let mut b = CreateIn::default().as_slice().to_vec();
            b.extend_from_slice(&cname("c"));
            b
        }),
        (
            FALLOCATE,
            FallocateIn {
                length: 1,
                ..Default::default()
            }
            .as_slice()
            .to_vec(),
        ),
        (LSEEK, LseekIn::default().as_slice().to_vec()),
        (SETUPMAPPING, map_in.as_slice().to_vec()),
        (FLUSH, FlushIn::default().as_slice().to_vec()),
        (FSYNC, FsyncIn::default().as_slice().to_vec()),
        (RELEASE, ReleaseIn::default().as_slice().to_vec()),
        (RELEASEDIR, ReleaseIn::default().as_slice().to_vec()),
    ];
    let before = fx.host_bytes("t2/y", 0, 4);
    for id in [
        ino("t2"),
        ino("t2/y"),
        ino("data.bin"),
        ino("dir"),
        ino("t1"),
    ] {
        for (op, body) in &ops {
            // READ answers in its header too: same check.
            assert_eq!(
                f.call(*op, id, body).unwrap_err(),
                libc::ESTALE,
                "op {op} on {id}"
            );
        }
    }
    assert_eq!(fx.host_bytes("t2/y", 0, 4), before, "nothing written");
    assert!(fx.fs.stat("t2/m").is_err() && fx.fs.stat("m").is_err());
    // Inside, SETUPMAPPING gets as far as the window (none in copy mode).
    assert_eq!(
        f.call(SETUPMAPPING, ino("t1/x"), map_in.as_slice())
            .unwrap_err(),
        libc::ENOSYS
    );

    let st: StatfsOut = parse_exact(&f.call(STATFS, ROOT_ID, &[]).unwrap());
    assert_eq!(st.st.files, 2, "t1/x and t1 itself");
    let u = fx.fs.usage().unwrap();
    assert_eq!(st.st.bfree * u64::from(st.st.bsize), u.free_bytes);

    let (e, _) = f.create(ROOT_ID, "made").unwrap();
    f.setattr(e.nodeid, FATTR_SIZE, 4096).unwrap();
    assert_eq!(fx.fs.stat("t1/made").unwrap().size(), 4096);
    assert!(fx.fs.stat("made").is_err());
    let m = f.mkdir(ROOT_ID, "sub").unwrap();
    assert_eq!(m.nodeid, ino("t1/sub"));
    drop(f);
    srv.stop();
}
