#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Writes the seed corpus of the `request` fuzz target to seeds/request/.

Each seed is one or more records in the format documented at the top of
fuzz_targets/request.rs: a 15-byte record head (ctl, op, node, len mode,
3 cut points, 3 writable sizes, body length) followed by the body.

The driver's features come from the input's length (bit 0 F_INTERLEAVE,
bit 1 F_READDIRPLUS, bit 2 F_ENTRY_FMAP): `features()` pads a seed with
fewer bytes than a record head, which the target ignores, to pick them.

Usage: python3 fuzz/gen_seeds.py   (rewrites the directory)
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "request")

OP_INIT, OP_STATFS, OP_LOOKUP, OP_GETATTR = 1, 2, 3, 4
OP_READDIR, OP_GET_FMAP, OP_CREATE, OP_MKDIR = 5, 6, 7, 8
OP_READDIRPLUS = 9

# Feature bits as the input's length selects them.
F_INTERLEAVE, F_READDIRPLUS, F_ENTRY_FMAP = 1, 2, 4
ALL = F_INTERLEAVE | F_READDIRPLUS | F_ENTRY_FMAP

# Node selector bytes: 0xe0 + id for ids 0..15 (root is 1). The fixture's
# other nodes are picked by index into the sorted node list (0x00..0xdf).
ROOT = 0xE1


def node_index(i):
    return i


def record(op, body=b"", node=ROOT, nread=1, wsizes=(4096,), lenmode=0,
           cuts=(0x80, 0xC0, 0xE0), writable_first=False, alias=False,
           raw=False):
    """One record; op is the opcode (1..9) or a raw op selector byte."""
    assert 1 <= nread <= 4 and len(wsizes) <= 3
    ctl = (nread - 1) | (len(wsizes) << 2)
    ctl |= 0x10 if writable_first else 0
    ctl |= 0x20 if alias else 0
    ctl |= 0xC0 if raw else 0
    opsel = op - 1 if 1 <= op <= 9 else op
    ws = list(wsizes) + [0] * (3 - len(wsizes))
    return (bytes([ctl, opsel, node, lenmode]) + bytes(cuts)
            + struct.pack("<HHHH", *ws, len(body)) + body)


def features(seed, bits):
    """Pads `seed` (with at most 7 bytes, less than a record head) so that
    its length selects the feature `bits`."""
    return seed + b"\0" * ((bits - len(seed)) % 8)


def init_in(major=1, minor=0, flags=0):
    return struct.pack("<IIII", major, minor, flags, 0)


def lookup_in(name):
    return struct.pack("<II", len(name), 0) + name


def readdir_in(cookie=0):
    return struct.pack("<Q", cookie)


def create_in(name, size=4096, mode=0o644, uid=0, gid=0):
    return struct.pack("<IIIIQII", mode, uid, gid, 0, size, len(name), 0) + name


def mkdir_in(name, mode=0o755, uid=0, gid=0):
    return struct.pack("<IIII", mode, uid, gid, len(name)) + name


def req_hdr(op, length, unique=7, nodeid=1):
    return struct.pack("<IIQQ", op, length, unique, nodeid)


SEEDS = {
    # INIT
    "init": record(OP_INIT, init_in()),
    "init_v2": record(OP_INIT, init_in(major=2)),
    "init_split3": record(OP_INIT, init_in(), nread=3, cuts=(10, 40, 0)),
    "init_short_writable": record(OP_INIT, init_in(), wsizes=(20,)),
    # STATFS
    "statfs": record(OP_STATFS),
    "statfs_two_writable": record(OP_STATFS, wsizes=(16, 64)),
    "statfs_no_writable": record(OP_STATFS, wsizes=()),
    # LOOKUP
    "lookup_dir": record(OP_LOOKUP, lookup_in(b"dir")),
    "lookup_striped": record(OP_LOOKUP, lookup_in(b"striped")),
    "lookup_missing": record(OP_LOOKUP, lookup_in(b"nope")),
    "lookup_dotdot": record(OP_LOOKUP, lookup_in(b"..")),
    "lookup_split4": record(OP_LOOKUP, lookup_in(b"many"), nread=4,
                            cuts=(20, 100, 200)),
    "lookup_in_file": record(OP_LOOKUP, lookup_in(b"x"), node=node_index(3)),
    # GETATTR
    "getattr_root": record(OP_GETATTR),
    "getattr_node5": record(OP_GETATTR, node=node_index(5)),
    "getattr_stale": record(OP_GETATTR, node=0xFF),
    "getattr_w_first": record(OP_GETATTR, wsizes=(64, 64), writable_first=True),
    # READDIR
    "readdir_root": record(OP_READDIR, readdir_in()),
    "readdir_many_small": record(OP_READDIR, readdir_in(), node=node_index(8),
                                 wsizes=(200,)),
    "readdir_many_cookie": record(OP_READDIR, readdir_in(20),
                                  node=node_index(8), wsizes=(300, 300)),
    "readdir_tiny": record(OP_READDIR, readdir_in(), wsizes=(40,)),
    # GET_FMAP
    "fmap_node4": record(OP_GET_FMAP, node=node_index(4)),
    "fmap_node6": record(OP_GET_FMAP, node=node_index(6)),
    "fmap_e2big": record(OP_GET_FMAP, node=node_index(6), wsizes=(40,)),
    "fmap_dir": record(OP_GET_FMAP),
    # CREATE
    "create": record(OP_CREATE, create_in(b"new")),
    "create_big": record(OP_CREATE, create_in(b"big", size=40 << 20)),
    "create_exists": record(OP_CREATE, create_in(b"empty")),
    "create_longpath": record(OP_CREATE, create_in(b"abcdefghij"),
                              node=node_index(7)),
    "create_badmode": record(OP_CREATE, create_in(b"m", mode=0o040755)),
    # MKDIR
    "mkdir": record(OP_MKDIR, mkdir_in(b"d2")),
    "mkdir_sub": record(OP_MKDIR, mkdir_in(b"d3"), node=node_index(1)),
    "mkdir_slash": record(OP_MKDIR, mkdir_in(b"a/b")),
    # Odd layouts
    "len_short": record(OP_GETATTR, lenmode=0xC0),
    "len_below_readable": record(OP_GETATTR, b"\0" * 8, lenmode=0xC0 + 32 - 8),
    "len_long": record(OP_LOOKUP, lookup_in(b"dir"), lenmode=0xFE),
    "unknown_op": record(0xEF),
    "raw_hdr_only": record(0, req_hdr(OP_STATFS, 24), raw=True),
    "raw_tiny": record(0, b"\x01\x00\x00", raw=True),
    "alias": record(OP_LOOKUP, lookup_in(b"dir"), alias=True, wsizes=(128,)),
    "reset_then_statfs": record(0xF1) + record(OP_STATFS),
    "reset_init_statfs": record(0xF0, init_in()) + record(OP_STATFS),
    # READDIRPLUS and inline maps (feature bits from the length)
    "readdirplus_root": features(record(OP_READDIRPLUS, readdir_in()), ALL),
    "readdirplus_many_small": features(
        record(OP_READDIRPLUS, readdir_in(), node=node_index(8),
               wsizes=(200,)), ALL),
    "readdirplus_many_cookie": features(
        record(OP_READDIRPLUS, readdir_in(20), node=node_index(8),
               wsizes=(300, 300)), F_READDIRPLUS | F_ENTRY_FMAP),
    "readdirplus_no_maps": features(
        record(OP_READDIRPLUS, readdir_in()), F_READDIRPLUS),
    "readdirplus_tiny": features(
        record(OP_READDIRPLUS, readdir_in(), wsizes=(150,)), ALL),
    "readdirplus_not_negotiated": features(
        record(OP_READDIRPLUS, readdir_in()), F_INTERLEAVE),
    "lookup_entry_striped": features(
        record(OP_LOOKUP, lookup_in(b"striped")), F_ENTRY_FMAP),
    "lookup_entry_interleaved": features(
        record(OP_LOOKUP, lookup_in(b"striped")), ALL),
    "lookup_entry_no_room": features(
        record(OP_LOOKUP, lookup_in(b"striped"), wsizes=(16 + 64 + 8,)),
        F_ENTRY_FMAP),
    "lookup_entry_wide": features(
        record(OP_LOOKUP, lookup_in(b"wide"), node=node_index(8)),
        F_ENTRY_FMAP),
    "create_lookup_entry": features(
        record(OP_CREATE, create_in(b"f2", size=3 << 20))
        + record(OP_LOOKUP, lookup_in(b"f2"))
        + record(OP_READDIRPLUS, readdir_in(), wsizes=(200, 120)), ALL),
    # Sequences: create, then use what was created.
    "create_lookup_fmap": record(OP_CREATE, create_in(b"f1", size=5 << 20))
    + record(OP_LOOKUP, lookup_in(b"f1"))
    + record(OP_READDIR, readdir_in())
    + record(OP_GET_FMAP, node=49),
    "mkdir_create_readdir": record(OP_MKDIR, mkdir_in(b"d"))
    + record(OP_MKDIR, mkdir_in(b"d"))
    + record(OP_READDIR, readdir_in(), wsizes=(128,))
    + record(OP_GETATTR, node=0xFE),
}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
