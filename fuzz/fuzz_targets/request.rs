// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Fuzzes the virtio-famfs request decoder, `Server::handle`, with
//! requests spread over guest-built descriptor chains.
//!
//! An input is a sequence of up to `MAX_RECORDS` records; each record is
//! one request and the layout of its descriptor chain:
//!
//! ```text
//! off  size  field
//!   0     1  ctl: bits 0-1 readable descriptors - 1 (1..=4)
//!                 bits 2-3 writable descriptors (0..=3)
//!                 bit  4   the first writable descriptor goes first
//!                 bit  5   the first writable descriptor aliases the
//!                          first readable one (same guest address)
//!                 bits 6-7 3: raw request, else well-formed header
//!   1     1  op: 00-df opcode op%9+1; e0-ef opcode op-0xe0 (0..=15);
//!               f0-f7 reset the server (back to "no INIT yet"), then
//!               opcode op%8+1; f8-ff opcode u32::MAX - op%8
//!   2     1  node: 00-df the (node % n)-th of the n nodes, by id;
//!                  e0-ef node id node-0xe0; f0-ff u64::MAX - node%16
//!   3     1  len: 00-bf hdr.len = 24 + body; c0-fe 24 + body + (len&63)
//!                 - 32; ff hdr.len = u32::MAX
//!   4     3  cut points splitting the request over the readable
//!            descriptors (each byte * request length / 255)
//!   7   2*3  writable descriptor sizes, le16: bit 15 set: v & 0x1ff,
//!            else v % 8193
//!  13     2  body length, le16, at most MAX_BODY; the body follows
//! ```
//!
//! With a well-formed header the body is what follows `virtio_famfs_req_hdr`;
//! a raw request is the body alone. The fuzzer ends a record early where the
//! input ends (the first record's missing bytes read as zero).
//!
//! The driver's features come from the input's length, without spending
//! input bytes: bit 0 F_INTERLEAVE, bit 1 F_READDIRPLUS, bit 2
//! F_ENTRY_FMAP (all offered by the server).
//!
//! Every input runs against the same file system: a file-backed 128 MiB
//! famfs device (on /dev/shm) with a few directories and files. After an
//! input that appended to the log, the log is restored from a snapshot and
//! the file system reopened; after one that reset the server, a new server
//! is made ready. Each input starts from the same state, and a crash
//! reproduces from its input alone. (So CREATE and MKDIR succeed at most four
//! times per input, and a full log is never reached.)
//!
//! Checked for every reply, as spec/virtio-famfs.md requires:
//! - used length <= writable bytes; 0 exactly when fewer than 16 writable;
//! - `resp.len` == used length, `resp.unique` == `hdr.unique` (0 when the
//!   readable part cannot hold a header or the layout is bad), `resp.error`
//!   0 or an errno of the spec's table (section 7.2), E2BIG only for
//!   GET_FMAP; a readable descriptor after a writable one gets EINVAL;
//! - on success, a complete `attr` (equal to the tree's node, nlink counting
//!   subdirectories), `readdir_out` + dirents or `fmap_out` + extents passes
//!   the checks a driver makes (section 7.14); with F_ENTRY_FMAP a LOOKUP
//!   reply is `entry_out` and an inline map, and READDIRPLUS entries (only
//!   with F_READDIRPLUS) carry the tree's attributes and inline maps, each
//!   checked as a GET_FMAP reply, at most ENTRY_FMAP_MAX extents, and
//!   present whenever one fits (sections 7.9.1, 7.10.1);
//! - the finer rules of section 7.15: EINVAL unless `hdr.len` is the
//!   readable length and the op's exact length, `resp` alone on errors other
//!   than E2BIG, a success only with room for the fixed reply struct (else
//!   ERANGE), reserved fields and mode bits checked, INIT accepting any
//!   version. `FAMFS_FUZZ_STRICT=log` only prints each kind of these once,
//!   `=0` skips them (to fuzz a server that is known to break one).
//!
//! `FAMFS_FUZZ_TRACE=1` prints every request and reply (for triage).

#![no_main]

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use uuid::Uuid;
use vhost_famfs::device::Device;
use vhost_famfs::meta::alloc::Striping;
use vhost_famfs::meta::format::{LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET};
use vhost_famfs::meta::{Famfs, FileSpec, MkfsOptions, OpenOptions, RelPath, ROOT_INO};
use vhost_famfs::protocol::*;
use vhost_famfs::server::{Access, Server, Window};
use virtio_queue::desc::split::Descriptor as SplitDescriptor;
use virtio_queue::desc::RawDescriptor;
use virtio_queue::mock::MockSplitQueue;
use vm_memory::{ByteValued, Bytes, GuestAddress, GuestMemoryMmap};

const MASTER: Uuid = Uuid::from_u128(0xf022_f022);
const DEVICE_SIZE: u64 = 128 << 20;
const UNIT: u64 = 2 << 20;
const MAX_RECORDS: usize = 4;
const RECORD_HEAD: usize = 15;
const MAX_BODY: usize = 8192;
const MAX_WRITABLE: usize = 8192;
const GUEST_MEM: usize = 128 << 10;
const DATA_START: u64 = 0x1000;
const QUEUE_SIZE: u16 = 16;
const VRING_DESC_F_WRITE: u16 = 2;
const HDR: usize = std::mem::size_of::<ReqHdr>();
const RESP: usize = std::mem::size_of::<RespHdr>();
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;

/// The errno values of spec section 7.2.
const KNOWN_ERRNOS: &[u32] = &[2, 5, 7, 17, 20, 21, 22, 28, 30, 34, 36, 38, 71, 116];

struct MappedWindow;

impl Window for MappedWindow {
    fn ensure_mapped(&self) -> Result<(), i32> {
        Ok(())
    }
}

struct Fixture {
    backing: Backing,
    server: Server<MappedWindow>,
    /// Log generation of the pristine file system.
    baseline: u64,
    meta_size: u64,
    /// The driver of this input accepted F_INTERLEAVE (odd-length inputs).
    interleave: bool,
    /// ... F_READDIRPLUS (length bit 1) and F_ENTRY_FMAP (length bit 2).
    readdirplus: bool,
    entry_fmap: bool,
}

static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strict {
    Off,
    Log,
    Panic,
}

fn strict() -> Strict {
    static S: OnceLock<Strict> = OnceLock::new();
    *S.get_or_init(|| match std::env::var("FAMFS_FUZZ_STRICT").as_deref() {
        Ok("0") | Ok("off") => Strict::Off,
        Ok("log") => Strict::Log,
        _ => Strict::Panic,
    })
}

/// `FAMFS_FUZZ_TRACE=1` prints every request and reply (for triage).
fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("FAMFS_FUZZ_TRACE").is_some_and(|v| v != "0"))
}

fn trace_reply(index: usize, req: &[u8], o: &Outcome) {
    let (writable, used, out) = (o.writable, o.used, &o.out);
    let hdr = req.get(..HDR).map(|b| *ReqHdr::from_slice(b).unwrap());
    let (op, len, node) = hdr.map_or((0, 0, 0), |h| {
        (
            h.opcode.to_native(),
            h.len.to_native(),
            h.nodeid.to_native(),
        )
    });
    let error = out
        .get(..RESP)
        .map_or(0, |b| RespHdr::from_slice(b).unwrap().error.to_native());
    eprintln!(
        "[{index}] op {op} node {node} hdr.len {len} readable {} writable {writable}{} \
         -> used {used} error {error}",
        req.len(),
        if o.bad_layout { " (bad layout)" } else { "" }
    );
}

fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn spec(size: u64, striping: Option<Striping>) -> FileSpec {
    FileSpec {
        size,
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        striping,
    }
}

/// The device: an unlinked file on /dev/shm (nothing is left behind when
/// libFuzzer exits), reopened through /proc/self/fd.
struct Backing {
    file: File,
    /// The bytes a request can change (the log header and the entries
    /// after the fixture's), as they were after setup.
    snapshot: Vec<(u64, Vec<u8>)>,
}

impl Backing {
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    fn open(&self) -> Arc<Famfs> {
        let opts = OpenOptions {
            writable: true,
            system_uuid: Some(MASTER),
            system_uuid_file: "/nonexistent/system_uuid".into(),
            ..Default::default()
        };
        Arc::new(Famfs::open(&self.path(), &opts).unwrap())
    }

    /// Puts the log back as it was after setup.
    fn restore(&self) {
        for (off, bytes) in &self.snapshot {
            self.file.write_all_at(bytes, *off).unwrap();
        }
    }
}

/// A fresh file system with a few directories and files.
fn make_fs() -> (Backing, Arc<Famfs>) {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("famfs-fuzz")
        .tempdir_in(base)
        .unwrap();
    let path = dir.path().join("dev");
    Device::create_file(&path, DEVICE_SIZE).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    drop(dir);
    let mut backing = Backing {
        file,
        snapshot: Vec::new(),
    };
    {
        let dev = Device::open(&backing.path(), true).unwrap();
        Famfs::mkfs(
            &dev,
            &MkfsOptions {
                system_uuid: Some(MASTER),
                system_uuid_file: "/nonexistent/system_uuid".into(),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let fs = backing.open();
    fs.mkdir(&rp("dir"), 0o755, 0, 0).unwrap();
    fs.mkdir(&rp("dir/sub"), 0o700, 1000, 1000).unwrap();
    fs.create(&rp("empty"), &spec(0, None)).unwrap();
    fs.create(&rp("dir/file"), &spec(3 << 20, None)).unwrap();
    fs.create(&rp("dir/sub/tiny"), &spec(1, None)).unwrap();
    // Four 2 MiB extents.
    let stripes = Striping {
        strips: 2,
        chunk_size: UNIT,
    };
    fs.create(&rp("striped"), &spec(8 << 20, Some(stripes)))
        .unwrap();
    // A directory whose children's paths are close to the 79-byte limit.
    fs.mkdir(&rp(&"L".repeat(70)), 0o755, 0, 0).unwrap();
    // Enough entries of varied length for READDIR to need several calls.
    fs.mkdir(&rp("many"), 0o755, 0, 0).unwrap();
    for i in 0..40 {
        let name = format!("e{i:02}{}", "x".repeat(i * 37 % 60));
        fs.mkdir(&rp(&format!("many/{name}")), 0o755, 0, 0).unwrap();
    }
    // 17 chunks: too many extents for an inline map unless interleaved.
    fs.create(&rp("many/wide"), &spec(34 << 20, Some(stripes)))
        .unwrap();
    // One input appends at most MAX_RECORDS entries after these.
    let end =
        LOG_OFFSET + LOG_HEADER_SIZE + (fs.applied() + MAX_RECORDS as u64 + 1) * LOG_ENTRY_SIZE;
    for (off, len) in [(0, 4096), (LOG_OFFSET, end - LOG_OFFSET)] {
        let mut buf = vec![0u8; len as usize];
        backing.file.read_exact_at(&mut buf, off).unwrap();
        backing.snapshot.push((off, buf));
    }
    (backing, fs)
}

/// A server for `fs` that has been through INIT.
fn ready_server(fs: Arc<Famfs>) -> Server<MappedWindow> {
    let server = Server::new(fs, Access::Master, MappedWindow);
    let mut req = ReqHdr {
        opcode: OP_INIT.into(),
        len: ((HDR + std::mem::size_of::<InitIn>()) as u32).into(),
        unique: 1u64.into(),
        nodeid: 0u64.into(),
    }
    .as_slice()
    .to_vec();
    let init = InitIn {
        major: VERSION_MAJOR.into(),
        minor: VERSION_MINOR.into(),
        flags: 0u32.into(),
        padding: 0u32.into(),
    };
    req.extend_from_slice(init.as_slice());
    let descs = [Desc::read(req), Desc::write(4096)];
    let out = run_chain(&server, &descs, |o| {
        let h = RespHdr::from_slice(&o.out[..RESP]).unwrap();
        assert_eq!(h.error.to_native(), 0, "setup INIT failed");
    });
    assert!(out.is_some());
    server
}

fn fixture() -> &'static Mutex<Fixture> {
    FIXTURE.get_or_init(|| {
        let (backing, fs) = make_fs();
        let baseline = fs.applied();
        let meta_size = fs.superblock().meta_size();
        Mutex::new(Fixture {
            backing,
            server: ready_server(fs),
            baseline,
            meta_size,
            interleave: false,
            readdirplus: false,
            entry_fmap: false,
        })
    })
}

/// One descriptor as the guest lays it out.
struct Desc {
    writable: bool,
    /// Readable: the bytes; writable: zeros of the wanted length.
    data: Vec<u8>,
    /// Share the guest address of descriptor `alias`, an earlier one.
    alias: Option<usize>,
}

impl Desc {
    fn read(data: Vec<u8>) -> Self {
        Desc {
            writable: false,
            data,
            alias: None,
        }
    }
    fn write(len: usize) -> Self {
        Desc {
            writable: true,
            data: vec![0; len],
            alias: None,
        }
    }
}

/// What became of one chain.
struct Outcome {
    /// Bytes the Reader and the Writer offered.
    readable: usize,
    writable: usize,
    /// A readable descriptor follows a writable one.
    bad_layout: bool,
    /// The used length the server returned.
    used: u32,
    /// The writable part as the device left it, in chain order.
    out: Vec<u8>,
}

/// Builds the chain in fresh guest memory and hands it to the server the
/// way the daemon does (`VhostUserFamfs::drain`). None if the chain could
/// not be turned into a Reader and Writer.
fn run_chain<W: Window, R>(
    server: &Server<W>,
    descs: &[Desc],
    check: impl FnOnce(&Outcome) -> R,
) -> Option<R> {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), GUEST_MEM)]).unwrap();
    // A slot holds a descriptor and every later one that aliases it.
    let mut slot: Vec<usize> = descs.iter().map(|d| d.data.len()).collect();
    for d in descs {
        if let Some(i) = d.alias {
            slot[i] = slot[i].max(d.data.len());
        }
    }
    let mut addrs: Vec<u64> = Vec::with_capacity(descs.len());
    let mut next = DATA_START;
    for (k, d) in descs.iter().enumerate() {
        let addr = match d.alias {
            Some(i) => addrs[i],
            None => {
                let a = next;
                next += (slot[k] as u64).next_multiple_of(64) + 64;
                a
            }
        };
        if !d.writable {
            mem.write_slice(&d.data, GuestAddress(addr)).unwrap();
        }
        addrs.push(addr);
    }
    assert!(next <= GUEST_MEM as u64);
    let raw: Vec<RawDescriptor> = descs
        .iter()
        .zip(&addrs)
        .map(|(d, &a)| {
            let flags = if d.writable { VRING_DESC_F_WRITE } else { 0 };
            RawDescriptor::from(SplitDescriptor::new(a, d.data.len() as u32, flags, 0))
        })
        .collect();
    let queue = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let chain = queue.build_desc_chain(&raw).unwrap();
    let mut seen_writable = false;
    let bad_layout = chain.clone().any(|d| {
        seen_writable |= d.is_write_only();
        seen_writable && !d.is_write_only()
    });
    let (mut r, mut w) = match (chain.clone().reader(&mem), chain.writer(&mem)) {
        (Ok(r), Ok(w)) => (r, w),
        _ => return None,
    };
    let readable = r.available_bytes();
    let writable = w.available_bytes();
    let used = if bad_layout {
        server.reject(&mut w)
    } else {
        server.handle(&mut r, &mut w)
    };
    let mut out = Vec::with_capacity(writable);
    for (d, &a) in descs.iter().zip(&addrs) {
        if d.writable {
            let mut buf = vec![0u8; d.data.len()];
            mem.read_slice(&mut buf, GuestAddress(a)).unwrap();
            out.extend_from_slice(&buf);
        }
    }
    Some(check(&Outcome {
        readable,
        writable,
        bad_layout,
        used,
        out,
    }))
}

/// Reads input bytes; past the end it yields zeros and notes it.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

/// What one record asks for, decoded from the input.
struct Record {
    descs: Vec<Desc>,
    reset: bool,
}

fn all_nodes(fs: &Famfs) -> Vec<u64> {
    fs.with_ns(|ns| {
        let mut out = vec![ROOT_INO];
        let mut i = 0;
        while i < out.len() {
            let kids: Vec<u64> = ns.children_after(out[i], 0).map(|n| n.ino).collect();
            out.extend(kids);
            i += 1;
        }
        out.sort_unstable();
        out
    })
}

fn decode(c: &mut Cursor<'_>, nodes: &[u64], index: usize) -> Record {
    let ctl = c.u8();
    let op = c.u8();
    let node = c.u8();
    let lenmode = c.u8();
    let cuts = [c.u8(), c.u8(), c.u8()];
    let wsizes = [c.u16(), c.u16(), c.u16()];
    let blen = (c.u16() as usize).min(MAX_BODY);
    let body = c.bytes(blen);

    let nread = (ctl & 3) as usize + 1;
    let nwrite = ((ctl >> 2) & 3) as usize;
    let writable_first = ctl & 0x10 != 0;
    let alias = ctl & 0x20 != 0;
    let raw = ctl >> 6 == 3;

    let mut reset = false;
    let opcode = match op {
        0x00..=0xdf => (op % 9) as u32 + 1,
        0xe0..=0xef => (op - 0xe0) as u32,
        0xf0..=0xf7 => {
            reset = true;
            (op % 8) as u32 + 1
        }
        0xf8..=0xff => u32::MAX - (op % 8) as u32,
    };
    let nodeid = match node {
        0x00..=0xdf => nodes[node as usize % nodes.len()],
        0xe0..=0xef => (node - 0xe0) as u64,
        0xf0..=0xff => u64::MAX - (node % 16) as u64,
    };
    let request = if raw {
        body.to_vec()
    } else {
        let exact = (HDR + body.len()) as i64;
        let len = match lenmode {
            0x00..=0xbf => exact,
            0xc0..=0xfe => (exact + (lenmode & 63) as i64 - 32).max(0),
            0xff => u32::MAX as i64,
        };
        let hdr = ReqHdr {
            opcode: opcode.into(),
            len: (len as u32).into(),
            unique: (0xf022_0000_0000_0000 | (index as u64) << 8 | op as u64).into(),
            nodeid: nodeid.into(),
        };
        let mut v = hdr.as_slice().to_vec();
        v.extend_from_slice(body);
        v
    };

    let mut cut: Vec<usize> = cuts[..nread - 1]
        .iter()
        .map(|&b| b as usize * request.len() / 255)
        .collect();
    cut.sort_unstable();
    let mut descs = Vec::new();
    let mut start = 0;
    for end in cut.into_iter().chain(std::iter::once(request.len())) {
        descs.push(Desc::read(request[start..end].to_vec()));
        start = end;
    }
    for &v in &wsizes[..nwrite] {
        let len = if v & 0x8000 != 0 {
            (v & 0x1ff) as usize
        } else {
            v as usize % (MAX_WRITABLE + 1)
        };
        descs.push(Desc::write(len));
    }
    if nwrite > 0 {
        if writable_first {
            let w = descs.remove(nread);
            descs.insert(0, w);
        }
        if alias {
            // The first writable and the first readable descriptor share
            // one guest address; the later one in the chain points back.
            let wi = if writable_first { 0 } else { nread };
            let ri = if writable_first { 1 } else { 0 };
            let (early, late) = (wi.min(ri), wi.max(ri));
            descs[late].alias = Some(early);
        }
    }
    Record { descs, reset }
}

fn violation(kind: &'static str, detail: String) {
    match strict() {
        Strict::Off => {}
        Strict::Panic => panic!("spec violation [{kind}]: {detail}"),
        Strict::Log => {
            static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
            let mut seen = SEEN.lock().unwrap();
            if seen.get_or_insert_with(HashSet::new).insert(kind) {
                eprintln!("spec violation [{kind}]: {detail}");
            }
        }
    }
}

/// Fixed reply struct size after `resp`, and the minimum writable part.
fn reply_sizes(fx: &Fixture, op: u32) -> Option<(usize, usize)> {
    let attr = std::mem::size_of::<Attr>();
    Some(match op {
        OP_INIT => (std::mem::size_of::<InitOut>(), 0),
        OP_STATFS => (std::mem::size_of::<StatfsOut>(), 0),
        OP_LOOKUP if fx.entry_fmap => (std::mem::size_of::<EntryOut>(), 0),
        OP_LOOKUP | OP_GETATTR | OP_CREATE | OP_MKDIR => (attr, 0),
        OP_READDIR => (std::mem::size_of::<ReaddirOut>(), 24 + 80),
        OP_READDIRPLUS if fx.readdirplus => (
            std::mem::size_of::<ReaddirOut>(),
            std::mem::size_of::<DirentPlus>() + 80,
        ),
        OP_GET_FMAP => (std::mem::size_of::<FmapOut>(), 0),
        _ => return None,
    })
    .map(|(fixed, extra)| (fixed, RESP + fixed + extra))
}

/// The request's op-specific input: fixed size, and the offset of a name
/// length inside it.
fn request_sizes(op: u32) -> Option<(usize, Option<usize>)> {
    Some(match op {
        OP_INIT => (std::mem::size_of::<InitIn>(), None),
        OP_STATFS | OP_GETATTR | OP_GET_FMAP => (0, None),
        OP_LOOKUP => (std::mem::size_of::<LookupIn>(), Some(0)),
        OP_READDIR | OP_READDIRPLUS => (std::mem::size_of::<ReaddirIn>(), None),
        OP_CREATE => (std::mem::size_of::<CreateIn>(), Some(24)),
        OP_MKDIR => (std::mem::size_of::<MkdirIn>(), Some(12)),
        _ => return None,
    })
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn check_attr(a: &Attr, what: &str) {
    assert_ne!(a.nodeid.to_native(), 0, "{what}: attr with node id 0");
    let t = a.mode.to_native() & S_IFMT;
    assert!(t == S_IFDIR || t == S_IFREG, "{what}: attr type {t:o}");
}

fn check_name(name: &[u8], what: &str) {
    assert!(
        (1..=NAME_MAX as usize).contains(&name.len()),
        "{what}: name length {}",
        name.len()
    );
    assert!(
        !name.contains(&b'/') && !name.contains(&0) && name != b"." && name != b"..",
        "{what}: invalid name {name:?}"
    );
}

/// Checks one reply. `req` is the readable part as sent (hdr included).
fn check_reply(fx: &Fixture, ready: bool, req: &[u8], o: &Outcome) {
    let (writable, used, out) = (o.writable, o.used as usize, &o.out[..]);
    assert_eq!(o.readable, req.len(), "reader length");
    assert!(used <= writable, "used {used} > writable {writable}");
    if writable < RESP {
        assert_eq!(used, 0, "reply written into {writable} writable bytes");
        return;
    }
    assert!(used >= RESP, "used {used} with {writable} writable bytes");
    let resp = RespHdr::from_slice(&out[..RESP]).unwrap();
    let error = resp.error.to_native();
    assert_eq!(resp.len.to_native() as usize, used, "resp.len != used");
    assert!(
        error == 0 || KNOWN_ERRNOS.contains(&error),
        "unknown errno {error}"
    );
    if o.bad_layout {
        assert_eq!(used, RESP, "bad layout: reply with a payload");
        assert_eq!(resp.unique.to_native(), 0, "bad layout: unique");
        assert_eq!(error, libc::EINVAL as u32, "bad layout: error");
        return;
    }
    let Some(hdr) = req.get(..HDR).map(|b| *ReqHdr::from_slice(b).unwrap()) else {
        assert_eq!(resp.unique.to_native(), 0, "unique without a header");
        assert_eq!(error, libc::EINVAL as u32, "short request");
        return;
    };
    assert_eq!(resp.unique.to_native(), hdr.unique.to_native(), "unique");
    let op = hdr.opcode.to_native();
    let payload = &out[RESP..used];
    let ctx = format!("op {op} error {error} used {used} writable {writable}");

    if error == 0 {
        check_success(fx, &hdr, &req[HDR..], payload, writable, &ctx);
    }
    if error == libc::E2BIG as u32 {
        assert_eq!(op, OP_GET_FMAP, "{ctx}: E2BIG");
    }
    if op == OP_READDIRPLUS && !fx.readdirplus {
        assert_ne!(error, 0, "{ctx}: READDIRPLUS without F_READDIRPLUS");
    }
    if !ready || strict() == Strict::Off {
        return;
    }

    // Spec section 7.15 rules beyond the basic reply format.
    let len = hdr.len.to_native() as usize;
    if len != req.len() && error != libc::EINVAL as u32 {
        violation(
            "hdr.len differs from readable part, not EINVAL",
            format!("{ctx}: hdr.len {len}, readable {}", req.len()),
        );
    }
    if error != 0 && error != libc::E2BIG as u32 && used != RESP {
        violation(
            "error reply carries a payload",
            format!("{ctx}: resp.len {used}"),
        );
    }
    if op == OP_INIT && error == libc::EPROTO as u32 {
        violation("INIT refuses a version", ctx.clone());
    }
    if let (0, Some((fixed, min))) = (error, reply_sizes(fx, op)) {
        if used < RESP + fixed {
            violation(
                "success reply shorter than its fixed struct",
                format!("{ctx}: fixed reply {fixed}"),
            );
        }
        if writable < min {
            violation(
                "writable part below the minimum not ERANGE",
                format!("{ctx}: minimum {min}"),
            );
        }
    }
    if let (0, Some((fixed, name_at))) = (error, request_sizes(op)) {
        let body = &req[HDR..];
        let namelen = name_at.map_or(0, |o| le32(body, o) as usize);
        if req.len() != HDR + fixed + namelen {
            violation(
                "readable part longer than the opcode needs",
                format!("{ctx}: readable {} for {fixed} + name {namelen}", req.len()),
            );
        }
        let reserved: &[usize] = match op {
            OP_INIT => &[8, 12],
            OP_LOOKUP => &[4],
            OP_CREATE => &[12, 28],
            _ => &[],
        };
        if reserved.iter().any(|&o| le32(body, o) != 0) {
            violation("reserved field not zero accepted", ctx.clone());
        }
        let mode_ok = |allowed_type: u32| {
            let m = le32(body, 0);
            m & !(0o7777 | allowed_type) == 0
        };
        if (op == OP_CREATE && !mode_ok(S_IFREG)) || (op == OP_MKDIR && !mode_ok(S_IFDIR)) {
            violation(
                "mode with bits beyond permissions and type accepted",
                format!("{ctx}: mode {:o}", le32(body, 0)),
            );
        }
    }
}

/// What a driver checks in a successful reply (spec section 7.14).
/// `body` is the request after its header.
/// Spec 7.10, INTERLEAVED: chunk size, then `n` strips that hold the file
/// and are the ones the log records.
fn check_interleaved(fx: &Fixture, node: u64, rest: &[u8], n: usize, size: u64, ctx: &str) {
    use vhost_famfs::meta::fmap::Fmap;
    use vhost_famfs::meta::namespace::NodeKind;
    assert_eq!(rest.len(), 8 + 16 * n, "{ctx}: {n} strips");
    let chunk = FmapInterleave::from_slice(&rest[..8])
        .unwrap()
        .chunk_size
        .to_native();
    assert!(
        n >= 1 && chunk != 0 && chunk % UNIT == 0,
        "{ctx}: chunk {chunk:#x}"
    );
    let strips: Vec<(u64, u64)> = rest[8..]
        .chunks(16)
        .map(|b| {
            let e = Extent::from_slice(b).unwrap();
            (e.offset.to_native(), e.len.to_native())
        })
        .collect();
    let shortest = strips.iter().map(|s| s.1).min().unwrap();
    assert!(
        (shortest / chunk) * chunk * n as u64 >= size,
        "{ctx}: strips hold less than {size}"
    );
    let recorded = fx
        .server
        .fs()
        .with_ns(|ns| match ns.get(node).map(|f| &f.kind) {
            Some(NodeKind::File {
                fmap: Fmap::Interleaved { chunk_size, strips },
                ..
            }) => Some((
                *chunk_size,
                strips.iter().map(|e| (e.offset, e.len)).collect(),
            )),
            _ => None,
        });
    assert_eq!(
        recorded,
        Some((chunk, strips)),
        "{ctx}: not the recorded map"
    );
}

/// The extents (or strips) and bytes of the map GET_FMAP sends for file
/// `node` under the input's features, from the tree; None for others.
fn expected_map(fx: &Fixture, node: u64) -> Option<(u64, usize)> {
    use vhost_famfs::meta::fmap::Fmap;
    use vhost_famfs::meta::namespace::NodeKind;
    fx.server
        .fs()
        .with_ns(|ns| match ns.get(node).map(|f| &f.kind) {
            Some(NodeKind::File {
                fmap: Fmap::Interleaved { strips, .. },
                ..
            }) if fx.interleave => Some((strips.len() as u64, 24 + 16 * strips.len())),
            Some(NodeKind::File { size, fmap, .. }) => {
                let n = fmap.expanded_len(*size);
                Some((n, 16 + 16 * n as usize))
            }
            _ => None,
        })
}

/// Spec 7.10.1: an inline map of the entry `a`, given `room` bytes it
/// could have taken. Checked as a GET_FMAP reply for that file, and sent
/// whenever the file's map is small and fits.
fn check_inline(fx: &Fixture, a: &Attr, map: &[u8], room: usize, ctx: &str) {
    let id = a.nodeid.to_native();
    let want = expected_map(fx, id);
    if map.is_empty() {
        if !fx.entry_fmap {
            return;
        }
        if let Some((count, bytes)) = want {
            if count <= u64::from(ENTRY_FMAP_MAX) && bytes <= room {
                violation(
                    "small map not inline",
                    format!("{ctx}: node {id}, {count} extents in {bytes} of {room} bytes"),
                );
            }
        }
        return;
    }
    assert!(fx.entry_fmap, "{ctx}: inline map without F_ENTRY_FMAP");
    assert_eq!(
        a.mode.to_native() & S_IFMT,
        S_IFREG,
        "{ctx}: inline map of a non-file"
    );
    assert!(map.len() >= 16, "{ctx}: inline map of {} bytes", map.len());
    let o = FmapOut::from_slice(&map[..16]).unwrap();
    assert!(
        o.nextents.to_native() <= ENTRY_FMAP_MAX,
        "{ctx}: {} extents inline",
        o.nextents.to_native()
    );
    assert_eq!(
        o.file_size.to_native(),
        a.size.to_native(),
        "{ctx}: inline file_size"
    );
    assert_eq!(
        Some(map.len()),
        want.map(|w| w.1),
        "{ctx}: inline map length"
    );
    check_fmap(fx, id, map, ctx);
}

/// A GET_FMAP reply (or an inline map) for file `node`, `map` its whole
/// payload.
fn check_fmap(fx: &Fixture, node: u64, payload: &[u8], ctx: &str) {
    let ns = |f: &dyn Fn(&vhost_famfs::meta::Namespace) -> bool| fx.server.fs().with_ns(f);
    let o = FmapOut::from_slice(&payload[..16]).unwrap();
    let n = o.nextents.to_native() as usize;
    let size = o.file_size.to_native();
    if o.kind.to_native() == FMAP_INTERLEAVED {
        assert!(fx.interleave, "{ctx}: INTERLEAVED without F_INTERLEAVE");
        check_interleaved(fx, node, &payload[16..], n, size, ctx);
        return;
    }
    assert_eq!(o.kind.to_native(), FMAP_SIMPLE, "{ctx}: kind");
    assert_eq!(payload.len(), 16 + 16 * n, "{ctx}: {n} extents");
    assert!(n > 0 || size == 0, "{ctx}: no extents");
    assert!(
        ns(&|ns| ns.get(node).is_some_and(|f| f.size() == size)),
        "{ctx}: file_size {size} is not node {node}'s"
    );
    let mut total = 0u64;
    let mut prev_end = None;
    for i in 0..n {
        let e = Extent::from_slice(&payload[16 + 16 * i..32 + 16 * i]).unwrap();
        let (off, len) = (e.offset.to_native(), e.len.to_native());
        assert!(
            len != 0 && off % UNIT == 0 && len % UNIT == 0,
            "{ctx}: extent {i} {off:#x}+{len:#x}"
        );
        assert!(
            off >= fx.meta_size && off.checked_add(len).is_some_and(|end| end <= DEVICE_SIZE),
            "{ctx}: extent {i} {off:#x}+{len:#x} outside the data area"
        );
        // Spec 7.10: extents contiguous on the device are merged.
        assert_ne!(prev_end, Some(off), "{ctx}: extent {i} not merged");
        prev_end = Some(off + len);
        total += len;
    }
    assert!(total >= size, "{ctx}: extents cover {total} of {size}");
}

/// The tree's attributes of node `id` (spec 7.4): nlink is 2 plus the
/// number of subdirectories, counted here independently of the
/// namespace's counter.
fn tree_attr(fx: &Fixture, id: u64) -> Option<Attr> {
    fx.server.fs().with_ns(|ns| {
        let n = ns.get(id)?;
        let subdirs = ns.children_after(n.ino, 0).filter(|c| c.is_dir()).count();
        Some(vhost_famfs::server::attr(n, subdirs as u32))
    })
}

/// A READDIR(PLUS) reply's entry count and EOF flag (a reply without
/// entries must say EOF), the request's cookie, and what the tree holds
/// after it, in order: (node id, name, DT_* type).
type Listing = (u32, bool, u64, Vec<(u64, Vec<u8>, u32)>);

fn listing_head(fx: &Fixture, node: u64, body: &[u8], payload: &[u8], ctx: &str) -> Listing {
    let o = ReaddirOut::from_slice(&payload[..8]).unwrap();
    let n = o.nentries.to_native();
    let eof = o.flags.to_native() & READDIR_F_EOF != 0;
    assert!(eof || n > 0, "{ctx}: no entries and no EOF");
    let cookie = u64::from_le_bytes(body[..8].try_into().unwrap());
    let tree = fx.server.fs().with_ns(|ns| {
        ns.children_after(node, cookie)
            .map(|c| {
                let t = if c.is_dir() { DT_DIR } else { DT_REG };
                (c.ino, c.name.to_vec(), t)
            })
            .collect()
    });
    (n, eof, cookie, tree)
}

/// Spec 7.9.1: READDIRPLUS entries, as READDIR's plus attributes and
/// inline maps.
fn check_readdirplus(fx: &Fixture, node: u64, body: &[u8], payload: &[u8], room: usize, ctx: &str) {
    let (n, eof, cookie, tree) = listing_head(fx, node, body, payload, ctx);
    let head = std::mem::size_of::<DirentPlus>();
    let mut off = 8;
    let mut last = 0u64;
    for i in 0..n {
        let what = format!("{ctx}: direntplus {i}");
        assert!(off + head <= payload.len(), "{what} past resp.len");
        let d = DirentPlus::from_slice(&payload[off..off + head]).unwrap();
        assert_eq!(d.padding.to_native(), 0, "{what}: padding");
        let namelen = d.namelen.to_native() as usize;
        let flen = d.fmap_len.to_native() as usize;
        assert_eq!(flen % 8, 0, "{what}: fmap_len {flen}");
        let name_end = off + head + namelen.next_multiple_of(8);
        let size = name_end - off + flen;
        assert!(off + size <= payload.len(), "{what} straddles resp.len");
        let name = &payload[off + head..off + head + namelen];
        check_name(name, &what);
        assert!(
            payload[off + head + namelen..name_end]
                .iter()
                .all(|&b| b == 0),
            "{what}: name padding not zero"
        );
        check_attr(&d.attr, &what);
        let id = d.attr.nodeid.to_native();
        let t = d.type_.to_native();
        let mode_t = d.attr.mode.to_native() & S_IFMT;
        assert_eq!(mode_t == S_IFDIR, t == DT_DIR, "{what}: type {t} vs mode");
        assert!(id > last, "{what}: node ids not ascending");
        assert_eq!(
            tree.get(i as usize),
            Some(&(id, name.to_vec(), t)),
            "{what}: differs from the tree"
        );
        assert_eq!(tree_attr(fx, id).as_ref(), Some(&d.attr), "{what}: attr");
        assert!(d.cookie.to_native() > cookie, "{what}: cookie");
        // Only the first entry may leave out a map, one that would not
        // fit; a later one waits for the next reply instead.
        let map_room = if i == 0 {
            room.saturating_sub(off + size)
        } else {
            usize::MAX
        };
        check_inline(fx, &d.attr, &payload[name_end..off + size], map_room, &what);
        last = id;
        off += size;
    }
    assert_eq!(off, payload.len(), "{ctx}: bytes after the last entry");
    if eof {
        assert_eq!(tree.len(), n as usize, "{ctx}: EOF with entries left");
    }
}

fn check_success(
    fx: &Fixture,
    hdr: &ReqHdr,
    body: &[u8],
    payload: &[u8],
    writable: usize,
    ctx: &str,
) {
    let ns = |f: &dyn Fn(&vhost_famfs::meta::Namespace) -> bool| fx.server.fs().with_ns(f);
    let op = hdr.opcode.to_native();
    let node = hdr.nodeid.to_native();
    let attr_size = std::mem::size_of::<Attr>();
    match op {
        OP_INIT if payload.len() >= std::mem::size_of::<InitOut>() => {
            let o = InitOut::from_slice(&payload[..32]).unwrap();
            assert_eq!(o.major.to_native(), VERSION_MAJOR, "{ctx}");
            assert_eq!(o.root_nodeid.to_native(), ROOT_INO, "{ctx}");
            assert!(o.max_readdir_bytes.to_native() >= 4096, "{ctx}");
        }
        OP_STATFS if payload.len() >= std::mem::size_of::<StatfsOut>() => {
            let o = StatfsOut::from_slice(&payload[..64]).unwrap();
            assert!(
                o.free_bytes.to_native() <= o.total_bytes.to_native(),
                "{ctx}"
            );
            assert!(
                o.largest_free.to_native() <= o.free_bytes.to_native(),
                "{ctx}"
            );
            assert!(o.log_used.to_native() <= o.log_slots.to_native(), "{ctx}");
            assert_eq!(o.bsize.to_native() as u64, UNIT, "{ctx}");
            assert_eq!(o.namelen.to_native(), NAME_MAX, "{ctx}");
        }
        OP_LOOKUP | OP_GETATTR | OP_CREATE | OP_MKDIR if payload.len() >= attr_size => {
            let a = Attr::from_slice(&payload[..attr_size]).unwrap();
            check_attr(a, ctx);
            if op == OP_GETATTR {
                assert_eq!(a.nodeid.to_native(), node, "{ctx}: GETATTR of another node");
            }
            let t = a.mode.to_native() & S_IFMT;
            if op == OP_CREATE {
                assert_eq!(t, S_IFREG, "{ctx}: CREATE made a non-file");
            }
            if op == OP_MKDIR {
                assert_eq!(t, S_IFDIR, "{ctx}: MKDIR made a non-directory");
            }
            // The reply is about the node the request named.
            let name_at = match op {
                OP_LOOKUP => Some(8),
                OP_CREATE => Some(32),
                OP_MKDIR => Some(16),
                _ => None,
            };
            if let Some(at) = name_at.filter(|&at| body.len() >= at) {
                let name = &body[at..];
                let id = a.nodeid.to_native();
                assert!(
                    ns(&|ns| ns.lookup(node, name).is_some_and(|n| n.ino == id)),
                    "{ctx}: node {id} is not {name:?} in {node}"
                );
            }
            if op == OP_CREATE {
                // suid=off (the default) drops setuid and setgid.
                let want_mode = S_IFREG | (le32(body, 0) & 0o1777);
                assert_eq!(a.mode.to_native(), want_mode, "{ctx}: CREATE mode");
                assert_eq!(a.uid.to_native(), le32(body, 4), "{ctx}: CREATE uid");
                assert_eq!(a.gid.to_native(), le32(body, 8), "{ctx}: CREATE gid");
                let size = u64::from_le_bytes(body[16..24].try_into().unwrap());
                assert_eq!(a.size.to_native(), size, "{ctx}: CREATE size");
                let blocks = size.max(1).next_multiple_of(UNIT) / 512;
                assert_eq!(a.blocks.to_native(), blocks, "{ctx}: CREATE blocks");
            }
            if op == OP_MKDIR {
                let want_mode = S_IFDIR | (le32(body, 0) & 0o1777);
                assert_eq!(a.mode.to_native(), want_mode, "{ctx}: MKDIR mode");
                assert_eq!(a.uid.to_native(), le32(body, 4), "{ctx}: MKDIR uid");
                assert_eq!(a.gid.to_native(), le32(body, 8), "{ctx}: MKDIR gid");
                assert_eq!(a.nlink.to_native(), 2, "{ctx}: MKDIR nlink");
            }
            let expected = tree_attr(fx, a.nodeid.to_native());
            assert_eq!(
                expected.as_ref(),
                Some(a),
                "{ctx}: attr differs from the tree"
            );
            // Spec 7.10.1: with F_ENTRY_FMAP, LOOKUP replies entry_out.
            let rest = &payload[attr_size..];
            if op == OP_LOOKUP && fx.entry_fmap {
                assert!(rest.len() >= 8, "{ctx}: entry_out cut short");
                let flen = le32(rest, 0) as usize;
                assert_eq!(le32(rest, 4), 0, "{ctx}: entry_out padding");
                assert_eq!(rest.len(), 8 + flen, "{ctx}: fmap_len {flen}");
                let room = writable.saturating_sub(RESP + std::mem::size_of::<EntryOut>());
                check_inline(fx, a, &rest[8..], room, ctx);
            } else {
                assert!(rest.is_empty(), "{ctx}: {} bytes after attr", rest.len());
            }
        }
        OP_READDIR if payload.len() >= 8 => {
            let (n, eof, cookie, tree) = listing_head(fx, node, body, payload, ctx);
            let mut off = 8;
            let mut last = 0u64;
            for i in 0..n {
                let what = format!("{ctx}: dirent {i}");
                assert!(off + 24 <= payload.len(), "{what} past resp.len");
                let d = Dirent::from_slice(&payload[off..off + 24]).unwrap();
                let namelen = d.namelen.to_native() as usize;
                let size = 24 + namelen.next_multiple_of(8);
                assert!(off + size <= payload.len(), "{what} name past resp.len");
                let name = &payload[off + 24..off + 24 + namelen];
                check_name(name, &what);
                assert!(
                    payload[off + 24 + namelen..off + size]
                        .iter()
                        .all(|&b| b == 0),
                    "{what}: padding not zero"
                );
                let t = d.type_.to_native();
                assert!(t == DT_DIR || t == DT_REG, "{what}: type {t}");
                let id = d.nodeid.to_native();
                assert!(id != 0 && id > last, "{what}: node ids not ascending");
                let want = tree.get(i as usize);
                let got = (id, name.to_vec(), t);
                assert_eq!(want, Some(&got), "{what}: differs from the tree");
                assert!(d.cookie.to_native() > cookie, "{what}: cookie");
                last = id;
                off += size;
            }
            assert_eq!(off, payload.len(), "{ctx}: bytes after the last dirent");
            if eof {
                assert_eq!(tree.len(), n as usize, "{ctx}: EOF with entries left");
            }
        }
        OP_GET_FMAP if payload.len() >= 16 => check_fmap(fx, node, payload, ctx),
        OP_READDIRPLUS if payload.len() >= 8 => {
            let room = (writable - RESP).min(8 + 64 * 1024);
            check_readdirplus(fx, node, body, payload, room, ctx);
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut fx = fixture().lock().unwrap();
    // The driver's features, without spending input bytes on the choice.
    fx.interleave = data.len() & 1 != 0;
    fx.readdirplus = data.len() & 2 != 0;
    fx.entry_fmap = data.len() & 4 != 0;
    fx.server.set_features(
        u64::from(fx.interleave) << F_INTERLEAVE
            | u64::from(fx.readdirplus) << F_READDIRPLUS
            | u64::from(fx.entry_fmap) << F_ENTRY_FMAP,
    );
    let mut c = Cursor { data, pos: 0 };
    let mut ready = true;
    let mut reset_used = false;
    for index in 0..MAX_RECORDS {
        if index > 0 && c.left() < RECORD_HEAD {
            break;
        }
        let nodes = all_nodes(fx.server.fs());
        let rec = decode(&mut c, &nodes, index);
        if rec.reset {
            fx.server.reset();
            ready = false;
            reset_used = true;
        }
        let req: Vec<u8> = rec
            .descs
            .iter()
            .filter(|d| !d.writable)
            .flat_map(|d| d.data.iter().copied())
            .collect();
        let was_ready = ready;
        let fxr = &*fx;
        let init_ok = run_chain(&fx.server, &rec.descs, |o| {
            if trace() {
                trace_reply(index, &req, o);
            }
            check_reply(fxr, was_ready, &req, o);
            let error = o.out.get(..RESP).map(|b| le32(b, 4));
            !o.bad_layout
                && o.used as usize >= RESP
                && error == Some(0)
                && req.len() >= 4
                && le32(&req, 0) == OP_INIT
        });
        // A successful INIT makes the server ready again.
        if init_ok == Some(true) {
            ready = true;
        }
    }
    // Start every input from the same state.
    if fx.server.fs().applied() != fx.baseline {
        fx.backing.restore();
        let fs = fx.backing.open();
        assert_eq!(fs.applied(), fx.baseline, "restored log");
        fx.server = ready_server(fs);
    } else if reset_used {
        let fs = fx.server.fs().clone();
        fx.server = ready_server(fs);
    }
});
