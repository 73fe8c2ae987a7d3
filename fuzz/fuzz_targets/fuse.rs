// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Fuzzes the virtio-fs FUSE decoder, `FuseServer::handle`, with requests
//! spread over guest-built descriptor chains.
//!
//! An input is a sequence of up to `MAX_RECORDS` records:
//!
//! ```text
//! off  size  field
//!   0     1  ctl: bits 0-1 readable descriptors - 1 (1..=4)
//!                 bits 2-3 writable descriptors (0..=3)
//!                 bit  4   a readable descriptor goes last (bad layout)
//!                 bit  5   keep the header's len as given (else fixed up)
//!                 bits 6-7 3: raw request, else a 40-byte header is built
//!   1     1  op: 00-bf one of the opcodes the server knows; c0-ff op-0xc0
//!   2     1  node: 00-7f the (node % n)-th known node id; 80-ff raw picks
//!   3     3  cut points splitting the request over the readable buffers
//!   6   2*3  writable descriptor sizes, le16 (v % 8193, 0x8000: v & 0x7f)
//!  12     2  body length, le16, at most MAX_BODY; the body follows
//! ```
//!
//! Every input runs against the same file system (a 64 MiB file-backed
//! device on /dev/shm); when an input appended to the log, the log is put
//! back from a snapshot and the server rebuilt, so each input starts from
//! the same namespace.
//!
//! Checked for every reply: the used length fits the writable buffers;
//! FORGET, BATCH_FORGET and INTERRUPT get none; any other reply is a
//! complete `fuse_out_header` whose len is the used length, whose unique
//! is the request's, whose error is 0 or a negative errno, and an error
//! reply carries no payload.

#![no_main]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use uuid::Uuid;
use vhost_famfs::device::Device;
use vhost_famfs::filesystem::FamfsFs;
use vhost_famfs::fuse::abi::*;
use vhost_famfs::fuse::chain::split_chain;
use vhost_famfs::fuse::{CachePolicy, FuseServer, NoWindow};
use vhost_famfs::meta::format::{LOG_ENTRY_SIZE, LOG_HEADER_SIZE, LOG_OFFSET};
use vhost_famfs::meta::{Famfs, FileSpec, MkfsOptions, OpenOptions, RelPath};
use vhost_famfs::server::Access;
use virtio_bindings::bindings::virtio_ring::VRING_DESC_F_WRITE;
use virtio_queue::desc::split::Descriptor;
use vm_memory::{ByteValued, Bytes, GuestAddress, GuestMemoryMmap};

const MASTER: Uuid = Uuid::from_u128(0x6a1f_3c9e_0000_4000_8000_0000_0000_0001);
const DEVICE_SIZE: u64 = 64 << 20;
const MAX_RECORDS: usize = 8;
const MAX_BODY: usize = 4096;
const MEM: usize = 1 << 20;
/// Guest memory per descriptor.
const SLOT: u64 = 32 << 10;

const OPS: &[u32] = &[
    LOOKUP,
    FORGET,
    GETATTR,
    SETATTR,
    MKDIR,
    OPEN,
    READ,
    WRITE,
    STATFS,
    RELEASE,
    FSYNC,
    FLUSH,
    INIT,
    OPENDIR,
    READDIR,
    RELEASEDIR,
    FSYNCDIR,
    CREATE,
    INTERRUPT,
    DESTROY,
    BATCH_FORGET,
    FALLOCATE,
    READDIRPLUS,
    LSEEK,
    SETUPMAPPING,
    REMOVEMAPPING,
    SYNCFS,
];

type Server = FuseServer<FamfsFs, NoWindow>;

struct Fixture {
    file: File,
    snapshot: (u64, Vec<u8>),
    server: Server,
    baseline: u64,
    nodes: Vec<u64>,
    mem: GuestMemoryMmap,
}

fn rp(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn open(file: &File) -> Arc<Famfs> {
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let opts = OpenOptions {
        writable: true,
        system_uuid: Some(MASTER),
        system_uuid_file: "/nonexistent/system_uuid".into(),
        ..Default::default()
    };
    Arc::new(Famfs::open(&path, &opts).unwrap())
}

/// A server over `fs` that has answered INIT.
fn ready(fs: Arc<Famfs>, mem: &GuestMemoryMmap) -> Server {
    let server = FuseServer::new(
        FamfsFs::new(fs, Access::Master, Default::default()),
        NoWindow,
        CachePolicy::Never,
    );
    let init = InitIn {
        major: 7,
        minor: 41,
        max_readahead: 1 << 20,
        flags: u32::MAX,
        flags2: u32::MAX,
        ..Default::default()
    };
    let h = InHeader {
        len: (std::mem::size_of::<InHeader>() + std::mem::size_of::<InitIn>()) as u32,
        opcode: INIT,
        unique: 1,
        ..Default::default()
    };
    let mut req = h.as_slice().to_vec();
    req.extend_from_slice(init.as_slice());
    mem.write_slice(&req, GuestAddress(0)).unwrap();
    let descs = [
        Descriptor::new(0, req.len() as u32, 0, 0),
        Descriptor::new(SLOT, 4096, VRING_DESC_F_WRITE as u16, 0),
    ];
    let (mut r, mut w) = split_chain(mem, descs.into_iter()).unwrap();
    assert!(server.handle(&mut r, &mut w) > 16);
    server
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("famfs-fuse-fuzz")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let path = dir.path().join("dev");
        Device::create_file(&path, DEVICE_SIZE).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        Famfs::mkfs(
            &Device::open(&path, true).unwrap(),
            &MkfsOptions {
                system_uuid: Some(MASTER),
                system_uuid_file: "/nonexistent/system_uuid".into(),
                ..Default::default()
            },
        )
        .unwrap();
        drop(dir);
        let fs = open(&file);
        let spec = |size| FileSpec {
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            striping: None,
        };
        fs.mkdir(&rp("dir"), 0o755, 0, 0).unwrap();
        fs.create(&rp("dir/file"), &spec(3 << 20)).unwrap();
        fs.create(&rp("tiny"), &spec(1)).unwrap();
        fs.create(&rp("empty"), &spec(0)).unwrap();
        let mut nodes = vec![1];
        fs.with_ns(|ns| nodes.extend(ns.children_after(1, 0).map(|n| n.ino)));
        nodes.push(fs.stat("dir/file").unwrap().ino);
        let end = LOG_OFFSET + LOG_HEADER_SIZE + (fs.applied() + 64) * LOG_ENTRY_SIZE;
        let mut buf = vec![0u8; (end - LOG_OFFSET) as usize];
        file.read_exact_at(&mut buf, LOG_OFFSET).unwrap();
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).unwrap();
        let baseline = fs.applied();
        let server = ready(fs, &mem);
        Mutex::new(Fixture {
            file,
            snapshot: (LOG_OFFSET, buf),
            server,
            baseline,
            nodes,
            mem,
        })
    })
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fuzz_target!(|data: &[u8]| {
    let mut fx = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let mut rest = data;
    for _ in 0..MAX_RECORDS {
        if rest.len() < 14 {
            break;
        }
        let (head, tail) = rest.split_at(14);
        let blen = (le16(&head[12..]) as usize).min(MAX_BODY).min(tail.len());
        let (body, tail) = tail.split_at(blen);
        rest = tail;
        run_record(&mut fx, head, body);
    }
    if fx.server.filesystem().famfs().applied() != fx.baseline {
        // Put the namespace back for the next input.
        let (off, bytes) = &fx.snapshot;
        fx.file.write_all_at(bytes, *off).unwrap();
        let fs = open(&fx.file);
        let server = ready(fs, &fx.mem);
        fx.server = server;
    }
});

fn run_record(fx: &mut Fixture, head: &[u8], body: &[u8]) {
    let ctl = head[0];
    let nread = (ctl & 3) as usize + 1;
    let nwrite = ((ctl >> 2) & 3) as usize;
    let op = match head[1] {
        o @ 0..=0xbf => OPS[o as usize % OPS.len()],
        o => u32::from(o - 0xc0),
    };
    let node = match head[2] {
        n @ 0..=0x7f => fx.nodes[n as usize % fx.nodes.len()],
        0x80 => 0,
        0x81 => u64::MAX,
        0x82 => 1 << 63,
        n => (1 << 63) | u64::from(n & 7),
    };
    let raw = ctl >> 6 == 3;
    let unique = 0x1000 + u64::from(head[3]);
    let mut req = Vec::new();
    if !raw {
        let len = if ctl & 0x20 != 0 {
            u32::from(head[4]) << 8 | u32::from(head[5])
        } else {
            (std::mem::size_of::<InHeader>() + body.len()) as u32
        };
        let h = InHeader {
            len,
            opcode: op,
            unique,
            nodeid: node,
            uid: 1000,
            gid: 1000,
            pid: 7,
            ..Default::default()
        };
        req.extend_from_slice(h.as_slice());
    }
    req.extend_from_slice(body);
    req.truncate((nread as u64 * SLOT) as usize);
    // Split the request over the readable descriptors.
    let mut cuts: Vec<usize> = (0..nread - 1)
        .map(|i| head[3 + i] as usize * req.len() / 255)
        .collect();
    cuts.sort_unstable();
    cuts.push(req.len());
    let mut descs = Vec::new();
    let mut slot = 0u64;
    let mut start = 0;
    for &c in &cuts {
        let part = &req[start..c];
        fx.mem.write_slice(part, GuestAddress(slot * SLOT)).unwrap();
        descs.push(Descriptor::new(slot * SLOT, part.len() as u32, 0, 0));
        slot += 1;
        start = c;
    }
    let mut writable = 0usize;
    for i in 0..nwrite {
        let v = le16(&head[6 + 2 * i..]);
        let size = if v & 0x8000 != 0 { v & 0x7f } else { v % 8193 };
        fx.mem
            .write_slice(&vec![0xe7; size as usize], GuestAddress(slot * SLOT))
            .unwrap();
        descs.push(Descriptor::new(
            slot * SLOT,
            u32::from(size),
            VRING_DESC_F_WRITE as u16,
            0,
        ));
        writable += size as usize;
        slot += 1;
    }
    let bad_layout = ctl & 0x10 != 0 && nwrite > 0;
    if bad_layout {
        descs.push(Descriptor::new(slot * SLOT, 8, 0, 0));
    }
    let (mut r, mut w) = split_chain(&fx.mem, descs.clone().into_iter()).unwrap();
    let used = fx.server.handle(&mut r, &mut w) as usize;
    assert!(used <= writable, "used {used} > writable {writable}");
    if bad_layout {
        assert_eq!(used, 0, "a chain with a bad layout got a reply");
        return;
    }
    let quiet = !raw && matches!(op, FORGET | BATCH_FORGET | INTERRUPT);
    if quiet && req.len() >= std::mem::size_of::<InHeader>() {
        assert_eq!(used, 0, "op {op} got a reply");
        return;
    }
    if used == 0 {
        assert!(
            writable < 16 || quiet || raw,
            "no reply with {writable} writable bytes"
        );
        return;
    }
    // Gather the reply from the writable descriptors.
    let mut out = Vec::new();
    for d in descs.iter().filter(|d| d.is_write_only()) {
        let mut b = vec![0u8; d.len() as usize];
        fx.mem.read_slice(&mut b, d.addr()).unwrap();
        out.extend_from_slice(&b);
    }
    out.truncate(used);
    assert!(used >= 16, "reply of {used} bytes has no header");
    let h = OutHeader::from_slice(&out[..16]).unwrap();
    assert_eq!(h.len as usize, used, "header len vs used length");
    assert!(h.error <= 0 && h.error > -4096, "error {}", h.error);
    if h.error != 0 {
        assert_eq!(used, 16, "error {} with a payload", h.error);
    }
    if !raw && req.len() >= std::mem::size_of::<InHeader>() {
        assert_eq!(h.unique, unique);
    }
}
