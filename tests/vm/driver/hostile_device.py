#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A deliberately broken virtio-famfs device for robustness tests.

A single-threaded vhost-user backend (QEMU 11.1 vhost-user-test-device-pci,
virtio-id=6, num_vqs=2, config_size=96) that answers INIT, GETATTR, STATFS
and the root's READDIR correctly, and then, depending on the name a request
is about, sends one kind of malformed reply: wrong unique, bad lengths,
bad attributes, bad directory entries, bad extent maps (simple and
interleaved), E2BIG games, a listing that never ends, a MKDIR answered with
an existing directory.
The window region exists (SHMEM) but is never mapped: nothing valid ever
needs it, and a driver that touched it on a bad map would read garbage.

    hostile_device.py SOCKET

guest-hostile.sh is the guest side. Names and what they do: see NODES.

Slow behaviour (guest-slow.sh): with HOSTILE_INIT_GATE=PATH in the
environment, INIT is answered only once PATH exists; LOOKUPs of names
starting "slow" are answered (ENOENT) one after another, 0.25 s apart, as
a slow but working device would; a LOOKUP of "stall" is never answered.

Listings with attributes and inline maps (guest-hostileplus.sh): with
HOSTILE_PLUS=1 the device also offers VIRTIO_FAMFS_F_READDIRPLUS and
VIRTIO_FAMFS_F_ENTRY_FMAP, its root holds PLUS_NODES instead, and it sends
bad READDIRPLUS replies and bad inline maps, in listings and in LOOKUP
replies alike.
"""
import array
import mmap
import os
import select
import socket
import struct
import sys
import time

S_IFDIR, S_IFREG = 0o040000, 0o100000
MB = 1 << 20
DEV_SIZE, ALLOC, META, MAX_EXT = 64 * MB, 2 * MB, 4 * MB, 16

# name -> (nodeid, mode, size, behaviour); the root's children.
NODES = {}
for i, (name, mode, size) in enumerate([
        ("good", S_IFREG, 2 * MB),
        ("twin", S_IFREG, 2 * MB),
        # LOOKUP replies
        ("bad_unique", S_IFREG, 2 * MB),
        ("bad_usedlen", S_IFREG, 2 * MB),
        ("bad_resplen", S_IFREG, 2 * MB),
        ("short_attr", S_IFREG, 2 * MB),
        ("bad_mode", S_IFREG, 2 * MB),
        ("nodeid0", S_IFREG, 2 * MB),
        ("errno_512", S_IFREG, 2 * MB),
        ("errno_big", S_IFREG, 2 * MB),
        ("used_zero", S_IFREG, 2 * MB),
        # GET_FMAP replies
        ("fmap_misaligned", S_IFREG, 2 * MB),
        ("fmap_meta", S_IFREG, 2 * MB),
        ("fmap_beyond", S_IFREG, 2 * MB),
        ("fmap_short", S_IFREG, 4 * MB),
        ("fmap_toomany", S_IFREG, 2 * MB),
        ("fmap_nofit", S_IFREG, 6 * MB),
        ("fmap_e2big_loop", S_IFREG, 2 * MB),
        ("fmap_e2big_less", S_IFREG, 2 * MB),
        ("fmap_size", S_IFREG, 2 * MB),
        ("fmap_zerolen", S_IFREG, 2 * MB),
        ("fmap_overlap", S_IFREG, 4 * MB),
        ("fmap_kind", S_IFREG, 2 * MB),
        ("fmap_il_overlap", S_IFREG, 4 * MB),
        ("fmap_il_chunk", S_IFREG, 4 * MB),
        ("fmap_il_chunk0", S_IFREG, 4 * MB),
        ("fmap_il_short", S_IFREG, 6 * MB),
        ("fmap_il_nostrips", S_IFREG, 2 * MB),
        ("fmap_il_toomany", S_IFREG, 2 * MB),
        ("fmap_il_nofit", S_IFREG, 6 * MB),
        ("fmap_il_stripshort", S_IFREG, 4 * MB),
        ("fmap_striped", S_IFREG, 4 * MB),
        ("fmap_e2big_huge", S_IFREG, 64 * MB),
        # READDIR replies
        ("dir_namelen0", S_IFDIR, 0),
        ("dir_namelen_big", S_IFDIR, 0),
        ("dir_padding", S_IFDIR, 0),
        ("dir_slash", S_IFDIR, 0),
        ("dir_dotdot", S_IFDIR, 0),
        ("dir_type", S_IFDIR, 0),
        ("dir_noprogress", S_IFDIR, 0),
        ("dir_repeat", S_IFDIR, 0),
        ("dir_overflow", S_IFDIR, 0),
        ("dir_nul", S_IFDIR, 0),
        ("dir_endless", S_IFDIR, 0),
]):
    NODES[name] = (10 + i, mode, size)
PLUS = os.environ.get("HOSTILE_PLUS") == "1"
# Bad inline maps, each sent by LOOKUP for a p_* name (found by LOOKUP only)
# and in the listing of the pd_* directory of the same suffix.
BAD_MAPS = ["lie_len", "overlap", "toomany", "size", "outside", "dirmap",
            "nofit"]
if PLUS:
    # The root's listing is valid: a file with a good inline map and
    # directories whose READDIRPLUS reply is bad, or whose entries cannot
    # be instantiated (pd_root, pd_self).
    NODES = {}
    for i, (name, mode, size) in enumerate(
            [("p_good", S_IFREG, 2 * MB)] +
            [("pd_" + b, S_IFDIR, 0) for b in BAD_MAPS] +
            [("pd_" + b, S_IFDIR, 0) for b in
             ("straddle", "maplen", "nodeid0", "type", "root", "self")]):
        NODES[name] = (10 + i, mode, size)
BY_ID = {v[0]: k for k, v in NODES.items()}
# Found by LOOKUP only: "twin" again, now twice as large.
if not PLUS:
    LOOKUP_ONLY = {"twin_grown": (NODES["twin"][0], S_IFREG, 4 * MB)}
else:
    LOOKUP_ONLY = {"p_" + b: (60 + i, S_IFDIR if b == "dirmap" else S_IFREG,
                              0 if b == "dirmap" else (4 if b == "overlap" else 2) * MB)
                   for i, b in enumerate(BAD_MAPS + ["beyond"])}

INIT_GATE = os.environ.get("HOSTILE_INIT_GATE")
SLOW_STEP = 0.25

OP = {1: "INIT", 2: "STATFS", 3: "LOOKUP", 4: "GETATTR", 5: "READDIR",
      6: "GET_FMAP", 7: "CREATE", 8: "MKDIR", 9: "READDIRPLUS"}


def log(*a):
    print("hostile:", *a, flush=True)


def attr(nodeid, mode, size, perm=0o644):
    blocks = (size + ALLOC - 1) // ALLOC * ALLOC // 512
    nlink = 2 if mode == S_IFDIR else 1
    return struct.pack("<QQQQIIIIII", nodeid, size, blocks, 0, mode | perm,
                       0, 0, nlink, 0, 0)


def dirent(nodeid, cookie, typ, name, namelen=None, pad=b""):
    n = len(name) if namelen is None else namelen
    padded = name + (pad or b"\0" * (-len(name) % 8))
    return struct.pack("<QQII", nodeid, cookie, typ, n) + padded


def readdir_out(entries, eof):
    return struct.pack("<II", len(entries), 1 if eof else 0) + b"".join(entries)


def root_listing(cookie):
    ents = [dirent(nid, nid, 4 if mode == S_IFDIR else 8, name.encode())
            for name, (nid, mode, _) in sorted(NODES.items(), key=lambda x: x[1][0])
            if nid > cookie]
    return readdir_out(ents, True)


def bad_listing(name, cookie):
    d = {"dir_namelen0": [dirent(100, 100, 8, b"x", namelen=0)],
         "dir_namelen_big": [dirent(100, 100, 8, b"x" * 200)],
         "dir_padding": [dirent(100, 100, 8, b"abc", pad=b"abc\1\0\0\0\0")],
         "dir_slash": [dirent(100, 100, 8, b"a/b")],
         "dir_dotdot": [dirent(100, 100, 4, b"..")],
         "dir_type": [dirent(100, 100, 10, b"link")],
         "dir_nul": [dirent(100, 100, 8, b"a\0b")]}
    if name in d:
        return readdir_out(d[name], True)
    if name == "dir_noprogress":
        return readdir_out([], False)
    if name == "dir_repeat":
        # Always the same entry, never EOF: cookies go nowhere.
        return readdir_out([dirent(100, 100, 8, b"again")], False)
    if name == "dir_overflow":
        return struct.pack("<II", 1000, 1) + dirent(100, 100, 8, b"one")
    raise KeyError(name)


def endless_listing(cookie, room):
    # Valid entries that never end: the driver must stop caching them.
    n = (room - 16 - 8) // 32
    return readdir_out([dirent(cookie + 1 + i, cookie + 1 + i, 8,
                               b"%x" % ((cookie + 1 + i) % 0xfffffff))
                        for i in range(n)], False)


def fmap(size, extents, nextents=None, kind=0):
    n = len(extents) if nextents is None else nextents
    return struct.pack("<QII", size, n, kind) + b"".join(
        struct.pack("<QQ", o, l) for o, l in extents)


def interleaved(size, chunk, strips, nextents=None):
    n = len(strips) if nextents is None else nextents
    return struct.pack("<QIIQ", size, n, 1, chunk) + b"".join(
        struct.pack("<QQ", o, l) for o, l in strips)


def direntplus(a, cookie, typ, name, fmap_len=None, inline=b""):
    n = len(inline) if fmap_len is None else fmap_len
    return (a + struct.pack("<QIIII", cookie, typ, len(name), n, 0) + name +
            b"\0" * (-len(name) % 8) + inline)


def bad_map(kind, size):
    """An inline map that fails its check in the way KIND names."""
    return {
        # fmap_len (48) says more than the map's one extent (32 bytes).
        "lie_len": fmap(size, [(META, 2 * MB)]) + b"\0" * 16,
        "overlap": fmap(size, [(META + 2 * MB, 2 * MB), (META, 4 * MB)]),
        # Claims 17 extents: more than VIRTIO_FAMFS_ENTRY_FMAP_MAX.
        "toomany": fmap(size, [(META, 2 * MB)], nextents=MAX_EXT + 1),
        "size": fmap(size * 2, [(META, 4 * MB)]),
        "outside": fmap(size, [(DEV_SIZE, 2 * MB)]),
        # A directory has no map.
        "dirmap": fmap(0, []),
        # Claims two extents, holds one.
        "nofit": fmap(size, [(META, 2 * MB)], nextents=2),
    }[kind]


def plus_root(cookie):
    ents = []
    for name, (nid, mode, size) in sorted(NODES.items(), key=lambda x: x[1][0]):
        if nid <= cookie:
            continue
        typ = 4 if mode == S_IFDIR else 8
        perm = 0o755 if mode == S_IFDIR else 0o644
        inline = fmap(size, [(META, 2 * MB)]) if name == "p_good" else b""
        ents.append(direntplus(attr(nid, mode, size, perm), nid, typ,
                               name.encode(), inline=inline))
    return readdir_out(ents, True)


def plus_bad_listing(name, dir_id):
    kind = name[3:]
    f = attr(100, S_IFREG, 2 * MB)
    m = fmap(2 * MB, [(META, 2 * MB)])
    if kind in BAD_MAPS:
        # A good entry, then one with a bad map: the whole reply is refused.
        size = 0 if kind == "dirmap" else (4 if kind == "overlap" else 2) * MB
        mode, typ = (S_IFDIR, 4) if kind == "dirmap" else (S_IFREG, 8)
        return readdir_out([direntplus(f, 100, 8, b"ok", inline=m),
                            direntplus(attr(101, mode, size), 101, typ, b"bad",
                                       inline=bad_map(kind, size))], True)
    if kind == "straddle":
        # The last entry's map runs past the end of the reply.
        return readdir_out([direntplus(f, 100, 8, b"x", inline=m)], True)[:-8]
    if kind == "maplen":
        return readdir_out([direntplus(f, 100, 8, b"x", fmap_len=20,
                                       inline=m[:20] + b"\0" * 4)], True)
    if kind == "nodeid0":
        return readdir_out([direntplus(attr(0, S_IFREG, 2 * MB), 100, 8,
                                       b"zero")], True)
    if kind == "type":
        # DT_REG, attributes of a directory.
        return readdir_out([direntplus(attr(100, S_IFDIR, 0, 0o755), 100, 8,
                                       b"odd")], True)
    if kind == "root":
        # The root as a child: listed, but never a dentry here.
        return readdir_out([direntplus(attr(1, S_IFDIR, 0, 0o755), 100, 4,
                                       b"up")], True)
    if kind == "self":
        return readdir_out([direntplus(attr(dir_id, S_IFDIR, 0, 0o755), 100,
                                       4, b"me")], True)
    raise KeyError(name)


class Device:
    def __init__(self):
        self.unique_bad = False
        self.interleave = False  # the driver accepted F_INTERLEAVE
        self.slow_until = 0.0

    def hold(self, req):
        """When to answer: None (now), a monotonic time, "gate" (once
        INIT_GATE exists) or "never"."""
        if len(req) < 24:
            return None
        opcode = struct.unpack_from("<I", req)[0]
        if opcode == 1 and INIT_GATE and not os.path.exists(INIT_GATE):
            return "gate"
        if opcode != 3 or len(req) < 32:
            return None
        namelen = struct.unpack_from("<I", req, 24)[0]
        name = req[32:32 + namelen]
        if name == b"stall":
            return "never"
        if name.startswith(b"slow"):
            self.slow_until = max(self.slow_until, time.monotonic()) + SLOW_STEP
            return self.slow_until
        return None

    def handle(self, req, room):
        """req: readable bytes; room: writable bytes.
        Returns (payload_bytes_after_resp, error, unique, used_len_override,
        resp_len_override)."""
        if len(req) < 24:
            return b"", 22, 0, None, None
        opcode, length, unique, nodeid = struct.unpack_from("<IIQQ", req)
        body = req[24:length]
        name = None
        if opcode == 3:
            namelen = struct.unpack_from("<I", body)[0]
            name = body[8:8 + namelen].decode(errors="replace")
        log(OP.get(opcode, opcode), "node", nodeid, "name", name, "room", room)
        ok = lambda p: (p, 0, unique, None, None)
        err = lambda e: (b"", e, unique, None, None)

        if opcode == 1:
            return ok(struct.pack("<IIIIQQ", 1, 0, 0, 4096, 1, 1))
        if opcode == 2:
            return ok(struct.pack("<QQQQQQQII", DEV_SIZE - META, 32 * MB,
                                  32 * MB, 20, 10, 1000, 30, ALLOC, 79))
        if opcode == 4:
            if nodeid == 1:
                return ok(attr(1, S_IFDIR, 0, 0o755))
            if nodeid in BY_ID:
                nid, mode, size = NODES[BY_ID[nodeid]]
                return ok(attr(nid, mode, size))
            return err(116)
        if opcode == 3:
            if nodeid != 1 or name not in {**NODES, **LOOKUP_ONLY}:
                return err(2)
            nid, mode, size = {**NODES, **LOOKUP_ONLY}[name]
            a = attr(nid, mode, size)
            if name == "bad_unique":
                return (a, 0, unique + 1, None, None)
            if name == "bad_usedlen":
                return (a, 0, unique, room + 64, None)
            if name == "bad_resplen":
                return (a, 0, unique, None, 16 + 8)
            if name == "short_attr":
                return ok(b"")
            if name == "bad_mode":
                return ok(attr(nid, 0o120000, size))
            if name == "nodeid0":
                return ok(attr(0, mode, size))
            if name == "errno_512":
                return err(512)
            if name == "errno_big":
                return err(70000)
            if name == "used_zero":
                return (a, 0, unique, 0, None)
            if PLUS:
                if name == "p_beyond":
                    # fmap_len runs past the end of the reply.
                    return ok(a + struct.pack("<II", 4096, 0))
                inline = bad_map(name[2:], size) if name in LOOKUP_ONLY else b""
                return ok(a + struct.pack("<II", len(inline), 0) + inline)
            return ok(a)
        if opcode == 5:
            cookie = struct.unpack_from("<Q", body)[0]
            if nodeid == 1:
                return ok(root_listing(cookie))
            if BY_ID[nodeid] == "dir_endless":
                return ok(endless_listing(cookie, room))
            return ok(bad_listing(BY_ID[nodeid], cookie))
        if opcode == 9 and PLUS:
            cookie = struct.unpack_from("<Q", body)[0]
            if nodeid == 1:
                return ok(plus_root(cookie))
            return ok(plus_bad_listing(BY_ID[nodeid], nodeid))
        if opcode == 6:
            name = BY_ID.get(nodeid)
            nid, mode, size = NODES[name]
            have = (room - 16) // 16
            good = [(META, 2 * MB)]
            if name in ("good", "twin"):
                return ok(fmap(size, good))
            if name == "fmap_misaligned":
                return ok(fmap(size, [(META + 4096, 2 * MB)]))
            if name == "fmap_meta":
                return ok(fmap(size, [(0, 2 * MB)]))
            if name == "fmap_beyond":
                return ok(fmap(size, [(DEV_SIZE - 2 * MB, 4 * MB)]))
            if name == "fmap_short":
                return ok(fmap(size, good))
            if name == "fmap_toomany":
                return ok(fmap(size, good, nextents=MAX_EXT + 1))
            if name == "fmap_nofit":
                return ok(fmap(size, good, nextents=3))
            if name == "fmap_e2big_loop":
                return (fmap(size, [], nextents=min(have + 1, MAX_EXT)), 7,
                        unique, None, None)
            if name == "fmap_e2big_huge":
                # More extents than max_extents: cannot be mapped here.
                return (fmap(size, [], nextents=MAX_EXT + 1), 7, unique, None, None)
            if name == "fmap_e2big_less":
                return (fmap(size, [], nextents=1), 7, unique, None, None)
            if name == "fmap_size":
                return ok(fmap(size * 2, [(META, 4 * MB)]))
            if name == "fmap_zerolen":
                return ok(fmap(size, [(META, 0), (META, 2 * MB)]))
            if name == "fmap_overlap":
                return ok(fmap(size, [(META + 2 * MB, 2 * MB), (META, 4 * MB)]))
            if name == "fmap_kind":
                return ok(fmap(size, good, kind=7))
            il = lambda *a, **k: ok(interleaved(size, *a, **k))
            if name == "fmap_il_overlap":
                return il(2 * MB, [(META, 4 * MB), (META + 2 * MB, 4 * MB)])
            if name == "fmap_il_chunk":
                return il(3 * MB, [(META, 4 * MB), (META + 8 * MB, 4 * MB)])
            if name == "fmap_il_chunk0":
                return il(0, [(META, 4 * MB), (META + 8 * MB, 4 * MB)])
            if name == "fmap_il_short":
                return il(2 * MB, [(META, 2 * MB), (META + 8 * MB, 2 * MB)])
            if name == "fmap_il_nostrips":
                return il(2 * MB, [])
            if name == "fmap_il_toomany":
                return il(2 * MB, [(META, 2 * MB)], nextents=MAX_EXT + 1)
            if name == "fmap_il_nofit":
                return il(2 * MB, [(META, 4 * MB)], nextents=3)
            if name == "fmap_il_stripshort":
                # A 4 MiB chunk: neither 2 MiB strip holds one.
                return il(4 * MB, [(META, 2 * MB), (META + 8 * MB, 2 * MB)])
            if name == "fmap_striped":
                if not self.interleave:
                    return err(5)
                return il(2 * MB, [(META, 2 * MB), (META + 8 * MB, 2 * MB)])
            return err(5)
        if opcode == 8:
            # MKDIR answered with an existing directory's attributes.
            nid, mode, size = NODES["dir_type"]
            return ok(attr(nid, mode, size, 0o755))
            return err(5)
        return err(38)


class Vring:
    def __init__(self):
        self.num = 0
        self.desc = self.avail = self.used = None
        self.last_avail = 0
        self.kick = self.call = None
        self.enabled = False


class Backend:
    def __init__(self, conn):
        self.c = conn
        self.regions = []  # (gpa, size, uva, mm, mmap_offset)
        self.vrings = [Vring(), Vring()]
        self.dev = Device()
        self.held = []  # (when, queue, head, writable, reply, used)
        # Three notifications, once: short, unknown type, then a good one.
        self.nkinds = [b"\1\0\0\0", struct.pack("<IIQ", 99, 0, 5),
                       struct.pack("<IIQ", 1, 0, 7)]

    # -- memory
    def gpa(self, addr, n):
        for gpa, size, uva, mm, off in self.regions:
            if gpa <= addr and addr + n <= gpa + size:
                return mm, off + addr - gpa
        raise ValueError("gpa %#x not mapped" % addr)

    def uva(self, addr):
        for gpa, size, uva, mm, off in self.regions:
            if uva <= addr < uva + size:
                return mm, off + addr - uva
        raise ValueError("uva %#x not mapped" % addr)

    # -- vhost-user
    def reply(self, req, payload):
        self.c.sendall(struct.pack("<III", req, 0x1 | 0x4, len(payload)) + payload)

    def message(self):
        fds = array.array("i")
        msg, anc, _, _ = self.c.recvmsg(12, socket.CMSG_LEN(16 * 4))
        if len(msg) < 12:
            return False
        for _, typ, data in anc:
            if typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % 4])
        req, flags, size = struct.unpack("<III", msg)
        body = b""
        while len(body) < size:
            body += self.c.recv(size - len(body))
        self.dispatch(req, flags, body, list(fds))
        return True

    def dispatch(self, req, flags, body, fds):
        acked = False
        if req == 1:    # GET_FEATURES: VERSION_1 | PROTOCOL_FEATURES | NOTIFY | INTERLEAVE
            # (and READDIRPLUS | ENTRY_FMAP in PLUS mode)
            self.reply(req, struct.pack("<Q", (1 << 32) | (1 << 30) | 1 | 2 |
                                        (12 if PLUS else 0)))
            acked = True
        elif req == 2:  # SET_FEATURES
            self.dev.interleave = bool(struct.unpack_from("<Q", body)[0] & 2)
        elif req == 15:  # GET_PROTOCOL_FEATURES: MQ REPLY_ACK BACKEND_REQ CONFIG SHMEM
            self.reply(req, struct.pack("<Q", 1 | 8 | 32 | (1 << 9) | (1 << 22)))
            acked = True
        elif req == 17:  # GET_QUEUE_NUM
            self.reply(req, struct.pack("<Q", 2))
            acked = True
        elif req == 24:  # GET_CONFIG
            off, sz, fl = struct.unpack_from("<III", body)
            cfg = (b"hostile".ljust(36, b"\0") +
                   struct.pack("<II", 1, 2) + b"\x42" * 16 +
                   struct.pack("<IQQQII", 0x464d4146, DEV_SIZE, ALLOC, META,
                               MAX_EXT, 0x10000))
            data = cfg[off:off + sz].ljust(sz, b"\0")
            self.reply(req, struct.pack("<III", off, sz, fl) + data)
            acked = True
        elif req == 44:  # GET_SHMEM_CONFIG: one region, never mapped
            self.reply(req, struct.pack("<II", 1, 0) + struct.pack("<Q", DEV_SIZE)
                       + b"\0" * 8 * 255)
            acked = True
        elif req == 11:  # GET_VRING_BASE
            idx = struct.unpack_from("<I", body)[0]
            v = self.vrings[idx]
            self.reply(req, struct.pack("<II", idx, v.last_avail))
            v.enabled = False
            # The queue stopped: its held requests are gone with it.
            self.held = [h for h in self.held if h[1] != idx]
            acked = True
        elif req == 5:   # SET_MEM_TABLE
            n = struct.unpack_from("<I", body)[0]
            for r in self.regions:
                r[3].close()
            self.regions = []
            for i in range(n):
                gpa, size, uva, off = struct.unpack_from("<QQQQ", body, 8 + 32 * i)
                mm = mmap.mmap(fds[i], size + off, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE)
                os.close(fds[i])
                self.regions.append((gpa, size, uva, mm, off))
        elif req == 8:   # SET_VRING_NUM
            idx, num = struct.unpack_from("<II", body)
            self.vrings[idx].num = num
        elif req == 9:   # SET_VRING_ADDR
            idx, _, desc, used, avail, _ = struct.unpack_from("<IIQQQQ", body)
            v = self.vrings[idx]
            v.desc, v.used, v.avail = desc, used, avail
        elif req == 10:  # SET_VRING_BASE
            idx, base = struct.unpack_from("<II", body)
            self.vrings[idx].last_avail = base
        elif req in (12, 13):  # SET_VRING_KICK / CALL
            u = struct.unpack_from("<Q", body)[0]
            v = self.vrings[u & 0xff]
            fd = fds[0] if fds and not u & 0x100 else None
            if req == 12:
                v.kick = fd
                v.enabled = True
            else:
                v.call = fd
        elif req == 18:  # SET_VRING_ENABLE
            idx, en = struct.unpack_from("<II", body)
            self.vrings[idx].enabled = bool(en)
        elif req == 21 and fds:  # SET_BACKEND_REQ_FD: kept, unused
            self.backend_fd = fds[0]
        if flags & 0x8 and not acked:
            self.reply(req, struct.pack("<Q", 0))

    # -- virtqueues
    def chain(self, v, head):
        mm, dbase = self.uva(v.desc)
        readable, writable = b"", []
        i, hops = head, 0
        while True:
            addr, ln, fl, nxt = struct.unpack_from("<QIHH", mm, dbase + 16 * i)
            if fl & 2:
                writable.append((addr, ln))
            else:
                m, o = self.gpa(addr, ln)
                readable += bytes(m[o:o + ln])
            hops += 1
            if not fl & 1 or hops > v.num:
                break
            i = nxt
        return readable, writable

    def write(self, writable, data):
        done = 0
        for addr, ln in writable:
            if done >= len(data):
                break
            n = min(ln, len(data) - done)
            m, o = self.gpa(addr, n)
            m[o:o + n] = data[done:done + n]
            done += n
        return done

    def push_used(self, v, head, length):
        mm, ubase = self.uva(v.used)
        idx = struct.unpack_from("<H", mm, ubase + 2)[0]
        struct.pack_into("<II", mm, ubase + 4 + 8 * (idx % v.num), head, length)
        struct.pack_into("<H", mm, ubase + 2, (idx + 1) & 0xffff)

    def process(self, qi):
        v = self.vrings[qi]
        if not v.avail or not v.num:
            return
        mm, abase = self.uva(v.avail)
        avail_idx = struct.unpack_from("<H", mm, abase + 2)[0]
        did = False
        while v.last_avail != avail_idx:
            if qi == 0 and not self.nkinds:
                break           # keep the notification buffers posted
            head = struct.unpack_from("<H", mm, abase + 4 + 2 * (v.last_avail % v.num))[0]
            v.last_avail = (v.last_avail + 1) & 0xffff
            readable, writable = self.chain(v, head)
            if qi == 0:
                self.notify(v, head, writable)
            else:
                room = sum(ln for _, ln in writable)
                payload, error, unique, used, rlen = self.dev.handle(readable, room)
                n = 16 + len(payload)
                resp = struct.pack("<IIQ", n if rlen is None else rlen, error,
                                   unique) + payload
                when = self.dev.hold(readable)
                if when is not None:
                    self.held.append((when, qi, head, writable, resp[:room], used))
                    continue
                wrote = self.write(writable, resp[:room])
                self.push_used(v, head, wrote if used is None else used)
            did = True
        if did and v.call is not None:
            os.write(v.call, struct.pack("<Q", 1))

    def notify(self, v, head, writable):
        data = self.nkinds.pop(0)
        self.write(writable, data)
        self.push_used(v, head, len(data))

    def answer_held(self):
        """Sends the held replies that are due."""
        now, keep, called = time.monotonic(), [], set()
        for item in self.held:
            when, qi, head, writable, resp, used = item
            if when == "gate" and os.path.exists(INIT_GATE):
                when = now
            if isinstance(when, float) and when <= now:
                v = self.vrings[qi]
                wrote = self.write(writable, resp)
                self.push_used(v, head, wrote if used is None else used)
                called.add(qi)
            else:
                keep.append(item)
        self.held = keep
        for qi in called:
            if self.vrings[qi].call is not None:
                os.write(self.vrings[qi].call, struct.pack("<Q", 1))

    def run(self):
        while True:
            kicks = {v.kick: i for i, v in enumerate(self.vrings) if v.kick is not None}
            waiting = any(w != "never" for w, *_ in self.held)
            r, _, _ = select.select([self.c] + list(kicks), [], [],
                                    0.05 if waiting else None)
            self.answer_held()
            for fd in r:
                if fd is self.c:
                    if not self.message():
                        log("frontend closed")
                        return
                else:
                    os.read(fd, 8)
                    self.process(kicks[fd])


def main():
    path = sys.argv[1]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    Backend(conn).run()


if __name__ == "__main__":
    main()
