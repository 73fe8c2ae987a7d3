// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Listings with attributes (READDIRPLUS) and maps inline in entries
//! (F_ENTRY_FMAP), end to end through the vhost-user frontend of
//! tests/common: negotiation both ways, listings over many small
//! replies, inline maps against GET_FMAP byte for byte, and malformed
//! requests.

// `pub`: the items this test does not use are not dead code (common/mod.rs).
pub mod common;

use std::path::PathBuf;

use common::*;
use vhost_famfs::daemon::SocketSpec;
use vhost_famfs::meta::alloc::Striping;
use vhost_famfs::meta::{FileSpec, ROOT_INO};
use vhost_famfs::protocol::*;
use vm_memory::ByteValued;

const MIB: u64 = 1 << 20;
const DEV_SIZE: u64 = 256 * MIB;
/// Files in "lots/".
const LOTS: usize = 40;
/// Bytes after `resp_hdr` a READDIRPLUS reply must have room for.
const PLUS_MIN: usize = 8 + std::mem::size_of::<DirentPlus>() + 80;

fn striped(size: u64, strips: u64) -> FileSpec {
    FileSpec {
        striping: Some(Striping {
            strips,
            chunk_size: 2 * MIB,
        }),
        ..file_spec(size)
    }
}

/// A formatted device: small.bin (one extent); striped 2 ways in 2 MiB
/// chunks: striped.bin (4 chunks), edge.bin (16, as many as an inline
/// map holds) and wide.bin (17); ro.bin (ALL_HOSTS_RO), dir/ with a
/// subdirectory, lots/ with 40 files. famfs records at most 16 extents
/// or strips, so only an expanded striped map can be too large to inline.
fn fixture() -> Fixture {
    Fixture::build(DEV_SIZE, |fs| {
        fs.create(&rp("small.bin"), &file_spec(4321)).unwrap();
        fs.create(&rp("striped.bin"), &striped(8 * MIB, 2)).unwrap();
        fs.create(&rp("edge.bin"), &striped(32 * MIB, 2)).unwrap();
        fs.create(&rp("wide.bin"), &striped(34 * MIB, 2)).unwrap();
        fs.mkdir(&rp("dir"), 0o750, 1000, 100).unwrap();
        fs.mkdir(&rp("dir/sub"), 0o750, 1000, 100).unwrap();
        fs.create(&rp("dir/inner"), &file_spec(1)).unwrap();
        fs.mkdir(&rp("lots"), 0o755, 0, 0).unwrap();
        for i in 0..LOTS {
            fs.create(&rp(&format!("lots/f{i:03}")), &file_spec(100))
                .unwrap();
        }
        // Written as famfs's own tools would: an ALL_HOSTS_RO file.
        log_all_hosts_ro(fs.device(), fs, "ro.bin", 0o444);
    })
}

/// A daemon with one socket, a connected VMM, INIT done.
fn session(options: &str, opts: Opts) -> (Fixture, Running, Vm) {
    let fx = fixture();
    let (srv, mut vm) = serve(&fx.fs, &fx.socket("famfs.sock", options), opts);
    vm.init().unwrap();
    // The window mapping the daemon asks for after INIT.
    let _ = vm.backend_msg();
    (fx, srv, vm)
}

fn driver(readdirplus: bool, entry_fmap: bool, interleave: bool) -> Opts {
    Opts {
        readdirplus,
        entry_fmap,
        interleave,
        ..Opts::full()
    }
}

fn has(vm: &Vm, bit: u64) -> bool {
    vm.features & (1 << bit) != 0
}

/// GET_FMAP's whole reply payload, or None for an error.
fn get_fmap_bytes(vm: &mut Vm, node: u64) -> Option<Vec<u8>> {
    let (h, p) = vm.request(OP_GET_FMAP, node, &[], 64 << 10);
    (h.error.to_native() == 0).then_some(p)
}

/// The inline map the spec asks for: GET_FMAP's reply if it has at most
/// ENTRY_FMAP_MAX extents, else none.
fn expected_inline(vm: &mut Vm, attr: &Attr) -> Vec<u8> {
    if attr.mode.to_native() & 0o170000 != 0o100000 {
        return Vec::new();
    }
    let p = get_fmap_bytes(vm, attr.nodeid.to_native()).expect("GET_FMAP of a file");
    let out: FmapOut = parse(&p);
    if out.nextents.to_native() <= ENTRY_FMAP_MAX {
        p
    } else {
        Vec::new()
    }
}

/// A whole directory through READDIRPLUS replies of `cap` bytes; the
/// entries and the number of replies.
fn read_all_plus(vm: &mut Vm, dir: u64, cap: u32) -> (Vec<EntryPlus>, usize) {
    read_listing(
        "READDIRPLUS",
        |cookie| vm.readdirplus(dir, cookie, cap).unwrap(),
        |e| e.cookie,
    )
}

/// Every entry of `dir` agrees with READDIR (names, ids, cookies, types,
/// order), with LOOKUP and GETATTR (attributes) and with GET_FMAP
/// (inline maps).
fn check_listing(vm: &mut Vm, dir: u64, plus: &[EntryPlus]) {
    let (plain, _) = read_all(vm, dir, 64 << 10);
    let as_plain: Vec<Entry> = plus
        .iter()
        .map(|e| Entry {
            nodeid: e.attr.nodeid.to_native(),
            cookie: e.cookie,
            dtype: e.dtype,
            name: e.name.clone(),
        })
        .collect();
    assert_eq!(as_plain, plain, "READDIRPLUS vs READDIR of node {dir}");
    for e in plus {
        let id = e.attr.nodeid.to_native();
        assert_eq!(vm.getattr(id).unwrap(), e.attr, "GETATTR of {id}");
        assert_eq!(vm.lookup(dir, &e.name).unwrap(), e.attr, "LOOKUP of {id}");
        let want = if has(vm, F_ENTRY_FMAP) {
            expected_inline(vm, &e.attr)
        } else {
            Vec::new()
        };
        assert_eq!(e.fmap, want, "inline map of {:?}", e.name);
    }
}

/// The replies of a connection without either bit: READDIRPLUS is an
/// unknown opcode and LOOKUP answers a bare attr.
fn assert_todays_replies(fx: &Fixture, vm: &mut Vm) {
    let body = ReaddirIn::default().as_slice().to_vec();
    assert_eq!(
        vm.call(OP_READDIRPLUS, ROOT_INO, &body, 4096),
        Err(libc::ENOSYS)
    );
    let p = vm
        .call(
            OP_LOOKUP,
            ROOT_INO,
            &name_body(LookupIn::default(), b"small.bin"),
            4096,
        )
        .unwrap();
    assert_eq!(p.len(), ATTR, "bare attr");
    assert_eq!(
        parse_exact::<Attr>(&p).nodeid.to_native(),
        fx.ino("small.bin")
    );
}

fn names(entries: &[EntryPlus]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect()
}

// ---------------------------------------------------------------------
// Negotiation
// ---------------------------------------------------------------------

/// Spec 3: both bits are offered by default; a driver that does not
/// accept them gets today's replies (READDIRPLUS is an unknown opcode,
/// LOOKUP a bare attr).
#[test]
fn a_driver_without_the_bits_gets_todays_replies() {
    let (fx, srv, mut vm) = session("", driver(false, false, true));
    let offered = vm.offered;
    assert_ne!(offered & (1 << F_READDIRPLUS), 0, "{offered:#x}");
    assert_ne!(offered & (1 << F_ENTRY_FMAP), 0, "{offered:#x}");
    assert!(!has(&vm, F_READDIRPLUS) && !has(&vm, F_ENTRY_FMAP));
    assert_todays_replies(&fx, &mut vm);
    stop(srv, vm);
}

/// `readdirplus=off,entry-fmap=off`: the socket does not offer the bits,
/// and a driver that would accept everything gets today's replies.
#[test]
fn a_socket_withholding_the_bits_serves_todays_replies() {
    let (fx, srv, mut vm) = session("readdirplus=off,entry-fmap=off", driver(true, true, true));
    let offered = vm.offered;
    assert_eq!(offered & (1 << F_READDIRPLUS), 0, "{offered:#x}");
    assert_eq!(offered & (1 << F_ENTRY_FMAP), 0, "{offered:#x}");
    assert_ne!(offered & (1 << F_INTERLEAVE), 0, "{offered:#x}");
    assert_todays_replies(&fx, &mut vm);
    stop(srv, vm);
}

/// Each bit alone: READDIRPLUS without F_ENTRY_FMAP carries no maps and
/// LOOKUP stays a bare attr; F_ENTRY_FMAP without READDIRPLUS gives
/// LOOKUP its entry_out and leaves READDIRPLUS unknown.
#[test]
fn each_bit_works_alone() {
    let (_fx, srv, mut vm) = session("entry-fmap=off", driver(true, true, true));
    assert!(has(&vm, F_READDIRPLUS) && !has(&vm, F_ENTRY_FMAP));
    let (plus, _) = read_all_plus(&mut vm, ROOT_INO, 4096);
    assert!(plus.iter().all(|e| e.fmap.is_empty()));
    check_listing(&mut vm, ROOT_INO, &plus);
    stop(srv, vm);

    let (fx, srv, mut vm) = session("readdirplus=off", driver(true, true, true));
    assert!(!has(&vm, F_READDIRPLUS) && has(&vm, F_ENTRY_FMAP));
    let body = ReaddirIn::default().as_slice().to_vec();
    assert_eq!(
        vm.call(OP_READDIRPLUS, ROOT_INO, &body, 4096),
        Err(libc::ENOSYS)
    );
    let (attr, map) = vm.lookup_entry(ROOT_INO, "small.bin", 4096).unwrap();
    assert_eq!(attr.nodeid.to_native(), fx.ino("small.bin"));
    assert_eq!(map, get_fmap_bytes(&mut vm, fx.ino("small.bin")).unwrap());
    stop(srv, vm);
}

#[test]
fn feature_options_are_checked() {
    let p = PathBuf::from("/x");
    for bad in ["readdirplus=yes", "entry-fmap=1", "readdirplus="] {
        assert!(SocketSpec::with_options(p.clone(), bad).is_err(), "{bad}");
    }
    assert!(SocketSpec::with_options(p.clone(), "proto=virtio-fs,readdirplus=off").is_err());
    let s = SocketSpec::with_options(p, "readdirplus=off,entry-fmap=on").unwrap();
    assert!(!s.offer.readdirplus && s.offer.entry_fmap);
}

// ---------------------------------------------------------------------
// READDIRPLUS
// ---------------------------------------------------------------------

/// Spec 7.9.1: the same entries, order, cookies and EOF as READDIR, with
/// the attributes LOOKUP and GETATTR give and GET_FMAP's maps, whatever
/// the reply size: the smallest allowed reply carries one entry, and no
/// entry straddles a reply's end (parse_readdirplus checks).
#[test]
fn listings_carry_attributes_and_maps_over_many_replies() {
    let (fx, srv, mut vm) = session("", Opts::full());
    let lots = fx.ino("lots");
    let min = (HDR + PLUS_MIN) as u32;
    let mut counts = Vec::new();
    for cap in [min, min + 100, 1000, 4096, 200 << 10] {
        for dir in [ROOT_INO, lots, fx.ino("dir")] {
            let (plus, replies) = read_all_plus(&mut vm, dir, cap);
            check_listing(&mut vm, dir, &plus);
            if dir == lots {
                counts.push(replies);
            }
        }
    }
    // One entry (with its 32-byte map) per smallest reply; all in one
    // when the buffer is large.
    assert_eq!(counts[0], LOTS, "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(*counts.last().unwrap(), 1, "{counts:?}");
    // A listing continued from any cookie resumes right after it.
    let (all, _) = read_all_plus(&mut vm, lots, 200 << 10);
    let (_, rest) = vm.readdirplus(lots, all[9].cookie, 200 << 10).unwrap();
    assert_eq!(names(&rest), names(&all[10..]));
    stop(srv, vm);
}

/// The root lists exactly the fixture's entries, with maps for the files
/// whose map is small, the compact one for a striped file only with
/// F_INTERLEAVE.
#[test]
fn inline_maps_follow_the_size_and_interleave_rules() {
    for interleave in [true, false] {
        let (_fx, srv, mut vm) = session("", driver(true, true, interleave));
        let (plus, _) = read_all_plus(&mut vm, ROOT_INO, 64 << 10);
        assert_eq!(
            names(&plus),
            [
                "small.bin",
                "striped.bin",
                "edge.bin",
                "wide.bin",
                "dir",
                "lots",
                "ro.bin"
            ]
        );
        check_listing(&mut vm, ROOT_INO, &plus);
        let kind = |e: &EntryPlus| parse::<FmapOut>(&e.fmap).kind.to_native();
        let map_of = |n: &str| plus.iter().find(|e| e.name == n.as_bytes()).unwrap();
        assert_eq!(kind(map_of("small.bin")), FMAP_SIMPLE);
        assert!(map_of("dir").fmap.is_empty());
        let count = |e: &EntryPlus| parse::<FmapOut>(&e.fmap).nextents.to_native();
        let (striped, edge, wide) = (
            map_of("striped.bin"),
            map_of("edge.bin"),
            map_of("wide.bin"),
        );
        if interleave {
            for e in [striped, edge, wide] {
                assert_eq!((kind(e), count(e)), (FMAP_INTERLEAVED, 2));
            }
        } else {
            // Expanded: 4 and 16 chunks fit inline, 17 do not.
            assert_eq!((kind(striped), count(striped)), (FMAP_SIMPLE, 4));
            assert_eq!((kind(edge), count(edge)), (FMAP_SIMPLE, 16));
            assert_eq!(edge.fmap.len(), 16 + 16 * 16);
            assert!(wide.fmap.is_empty(), "17 chunks inline");
        }
        let ro = map_of("ro.bin");
        assert_eq!(ro.attr.flags.to_native(), ATTR_F_RDONLY);
        assert!(!ro.fmap.is_empty());
        stop(srv, vm);
    }
}

/// A socket's guest policy shows in READDIRPLUS exactly as in LOOKUP.
#[test]
fn attributes_follow_the_socket_policy() {
    let (fx, srv, mut vm) = session("uid-map=0:100000:2000,gid-map=0:200000:2000", Opts::full());
    let (plus, _) = read_all_plus(&mut vm, fx.ino("dir"), 4096);
    check_listing(&mut vm, fx.ino("dir"), &plus);
    // Host owner 1000:100 is not mapped: the overflow ids.
    assert!(plus.iter().all(|e| e.attr.uid.to_native() != 1000));
    let (plus, _) = read_all_plus(&mut vm, ROOT_INO, 4096);
    check_listing(&mut vm, ROOT_INO, &plus);
    stop(srv, vm);
}

/// A reply with room for an entry but not its map carries the entry
/// without map only when it is the first: otherwise the entry waits for
/// the next reply, so a listing never loses a map to a small buffer it
/// did not have to.
#[test]
fn a_map_is_dropped_only_when_the_first_entry_cannot_hold_it() {
    let (fx, srv, mut vm) = session("", Opts::full());
    let lots = fx.ino("lots");
    // One bare entry of "f000" is 88 bytes, with its map 120.
    let (_, one) = vm.readdirplus(lots, 0, (HDR + PLUS_MIN) as u32).unwrap();
    assert_eq!(one.len(), 1);
    assert!(!one[0].fmap.is_empty(), "168 bytes hold 120");
    // Room for two bare entries, not for two with maps: one, with map.
    let (flags, two) = vm.readdirplus(lots, 0, (HDR + 8 + 2 * 88) as u32).unwrap();
    assert_eq!(flags & READDIR_F_EOF, 0);
    assert_eq!(two.len(), 1);
    assert!(!two[0].fmap.is_empty());
    let (_, three) = vm.readdirplus(lots, 0, (HDR + 8 + 240) as u32).unwrap();
    assert_eq!(three.len(), 2);
    assert!(three.iter().all(|e| !e.fmap.is_empty()));
    stop(srv, vm);
}

// ---------------------------------------------------------------------
// LOOKUP with F_ENTRY_FMAP
// ---------------------------------------------------------------------

/// LOOKUP replies entry_out with GET_FMAP's reply inline for small maps,
/// none for directories and large maps; the attributes equal GETATTR's.
/// A writable part that holds entry_out but not the map gets no map.
#[test]
fn lookup_carries_small_maps() {
    for interleave in [true, false] {
        let (fx, srv, mut vm) = session("", driver(true, true, interleave));
        for name in [
            "small.bin",
            "striped.bin",
            "wide.bin",
            "edge.bin",
            "ro.bin",
            "dir",
        ] {
            let (attr, map) = vm.lookup_entry(ROOT_INO, name, 4096).unwrap();
            assert_eq!(attr, vm.getattr(fx.ino(name)).unwrap(), "{name}");
            assert_eq!(map, expected_inline(&mut vm, &attr), "{name}");
        }
        let (_, map) = vm.lookup_entry(ROOT_INO, "wide.bin", 4096).unwrap();
        assert_eq!(map.is_empty(), !interleave);
        let (_, map) = vm.lookup_entry(ROOT_INO, "small.bin", 4096).unwrap();
        assert_eq!(map.len(), 32);
        let entry = std::mem::size_of::<EntryOut>();
        let (attr, map) = vm
            .lookup_entry(ROOT_INO, "small.bin", (HDR + entry + 31) as u32)
            .unwrap();
        assert_eq!(attr.nodeid.to_native(), fx.ino("small.bin"));
        assert!(map.is_empty(), "map without room");
        let (_, map) = vm
            .lookup_entry(ROOT_INO, "small.bin", (HDR + entry + 32) as u32)
            .unwrap();
        assert_eq!(map.len(), 32);
        stop(srv, vm);
    }
}

/// A file the guest creates is looked up and listed with its map.
#[test]
fn created_files_come_with_their_maps() {
    let (_fx, srv, mut vm) = session("role=master", Opts::full());
    let created = vm.create(ROOT_INO, "new.bin", 3 * MIB).unwrap();
    let id = created.nodeid.to_native();
    let (attr, map) = vm.lookup_entry(ROOT_INO, "new.bin", 4096).unwrap();
    assert_eq!(attr, created);
    assert_eq!(map, get_fmap_bytes(&mut vm, id).unwrap());
    let (plus, _) = read_all_plus(&mut vm, ROOT_INO, 4096);
    let e = plus.iter().find(|e| e.name == b"new.bin").unwrap();
    assert_eq!(e.fmap, map);
    // A 79-byte name with its map (192 bytes) does not fit the smallest
    // reply (168): the first entry comes without its map, never not at all.
    // (A path holds at most 79 bytes: the name goes in the root, listed
    // from the cookie of the entry before it.)
    let long = "n".repeat(79);
    vm.create(ROOT_INO, &long, MIB).unwrap();
    let (flags, one) = vm
        .readdirplus(ROOT_INO, e.cookie, (HDR + PLUS_MIN) as u32)
        .unwrap();
    assert_eq!((flags, one.len()), (READDIR_F_EOF, 1));
    assert_eq!(one[0].name, long.as_bytes());
    assert!(one[0].fmap.is_empty());
    let (_, one) = vm.readdirplus(ROOT_INO, e.cookie, 4096).unwrap();
    assert_eq!(one[0].fmap.len(), 32);
    stop(srv, vm);
}

// ---------------------------------------------------------------------
// Bad requests and counters
// ---------------------------------------------------------------------

/// Malformed READDIRPLUS and LOOKUP requests get errors (and the
/// connection keeps working); `status` counts READDIRPLUS.
#[test]
fn malformed_requests_get_errors() {
    let (fx, srv, mut vm) = session("", Opts::full());
    let body = ReaddirIn::default().as_slice().to_vec();
    let small = fx.ino("small.bin");
    let cases: [(&str, u64, &[u8], u32, i32); 7] = [
        ("short readdir_in", ROOT_INO, &body[..4], 4096, libc::EINVAL),
        ("long readdir_in", ROOT_INO, &[0u8; 16], 4096, libc::EINVAL),
        ("no readdir_in", ROOT_INO, &[], 4096, libc::EINVAL),
        (
            "below minimum",
            ROOT_INO,
            &body,
            (HDR + PLUS_MIN - 1) as u32,
            libc::ERANGE,
        ),
        ("header only", ROOT_INO, &body, HDR as u32, libc::ERANGE),
        ("a file", small, &body, 4096, libc::ENOTDIR),
        ("unknown node", 999_999, &body, 4096, libc::ESTALE),
    ];
    for (what, node, b, cap, want) in cases {
        assert_eq!(vm.call(OP_READDIRPLUS, node, b, cap), Err(want), "{what}");
    }
    // LOOKUP needs room for entry_out with F_ENTRY_FMAP.
    let lookup = name_body(LookupIn::default(), b"small.bin");
    let entry = std::mem::size_of::<EntryOut>();
    assert_eq!(
        vm.call(OP_LOOKUP, ROOT_INO, &lookup, (HDR + entry - 1) as u32),
        Err(libc::ERANGE)
    );
    assert!(vm
        .call(OP_LOOKUP, ROOT_INO, &lookup, (HDR + entry) as u32)
        .is_ok());
    // Still serving.
    assert!(vm.readdirplus(ROOT_INO, 0, 4096).is_ok());
    let status = srv.status();
    assert!(status.contains(" readdirplus=8 "), "{status}");
    let errors = status
        .lines()
        .find(|l| l.trim_start().starts_with("errors "))
        .unwrap();
    assert!(errors.contains(" readdirplus=7 "), "{errors}");
    stop(srv, vm);
}

/// Before INIT, READDIRPLUS is EPROTO like every other request.
#[test]
fn readdirplus_before_init_is_eproto() {
    let fx = fixture();
    let (srv, mut vm) = serve(&fx.fs, &fx.socket("famfs.sock", ""), Opts::full());
    let body = ReaddirIn::default().as_slice().to_vec();
    assert_eq!(
        vm.call(OP_READDIRPLUS, ROOT_INO, &body, 4096),
        Err(libc::EPROTO)
    );
    stop(srv, vm);
}
