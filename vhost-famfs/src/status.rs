// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What each socket of a running daemon has done: requests by type,
//! errors, the mapped window, whether a VMM is connected. Counted by the
//! request path with relaxed atomics (no lock on the hot path), read by
//! the control socket (`control`) as a text report.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::fuse::abi as fuse;
use crate::protocol::*;

/// A protocol's opcodes counted one by one, in report order; anything
/// else counts as "other" (unknown opcodes and requests too short to
/// have one).
pub type OpTable = &'static [(u32, &'static str)];

/// The virtio-famfs opcodes.
pub const OPS: OpTable = &[
    (OP_INIT, "init"),
    (OP_STATFS, "statfs"),
    (OP_LOOKUP, "lookup"),
    (OP_GETATTR, "getattr"),
    (OP_READDIR, "readdir"),
    (OP_GET_FMAP, "get_fmap"),
    (OP_CREATE, "create"),
    (OP_MKDIR, "mkdir"),
    (OP_READDIRPLUS, "readdirplus"),
    (OP_FORGET, "forget"),
];

/// The FUSE opcodes a virtio-fs socket serves (FORGET and INTERRUPT get
/// no reply and are not counted).
pub const FUSE_OPS: OpTable = &[
    (fuse::INIT, "init"),
    (fuse::STATFS, "statfs"),
    (fuse::LOOKUP, "lookup"),
    (fuse::GETATTR, "getattr"),
    (fuse::SETATTR, "setattr"),
    (fuse::OPEN, "open"),
    (fuse::OPENDIR, "opendir"),
    (fuse::READDIR, "readdir"),
    (fuse::READDIRPLUS, "readdirplus"),
    (fuse::READ, "read"),
    (fuse::WRITE, "write"),
    (fuse::CREATE, "create"),
    (fuse::MKDIR, "mkdir"),
    (fuse::FALLOCATE, "fallocate"),
    (fuse::RELEASE, "release"),
    (fuse::FLUSH, "flush"),
    (fuse::FSYNC, "fsync"),
];

/// One socket's counters; they survive reconnections.
#[derive(Debug)]
pub struct SocketStats {
    ops: OpTable,
    /// Per `ops` entry, then "other".
    requests: Box<[AtomicU64]>,
    errors: Box<[AtomicU64]>,
    connected: AtomicBool,
    connections: AtomicU64,
    mapped_bytes: AtomicU64,
    /// Live mappings of an isolated window.
    mappings: AtomicU64,
}

/// Counters for a virtio-famfs socket.
impl Default for SocketStats {
    fn default() -> Self {
        SocketStats::new(OPS)
    }
}

impl SocketStats {
    /// Counters for a socket speaking the protocol whose opcodes are `ops`.
    pub fn new(ops: OpTable) -> Self {
        let zeros = || (0..=ops.len()).map(|_| AtomicU64::new(0)).collect();
        SocketStats {
            ops,
            requests: zeros(),
            errors: zeros(),
            connected: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            mapped_bytes: AtomicU64::new(0),
            mappings: AtomicU64::new(0),
        }
    }

    fn slot(&self, opcode: Option<u32>) -> usize {
        opcode
            .and_then(|op| self.ops.iter().position(|(o, _)| *o == op))
            .unwrap_or(self.ops.len())
    }

    /// Counts one request (`None`: no readable header) and whether its
    /// reply carried an error.
    pub fn request(&self, opcode: Option<u32>, failed: bool) {
        let i = self.slot(opcode);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A VMM connected (true) or went away (false).
    pub fn set_connected(&self, on: bool) {
        if on {
            self.connections.fetch_add(1, Ordering::Relaxed);
        } else {
            self.mapped_bytes.store(0, Ordering::Relaxed);
            self.mappings.store(0, Ordering::Relaxed);
        }
        self.connected.store(on, Ordering::Relaxed);
    }

    /// The window now maps `bytes` of the device into the guest (0: none).
    pub fn set_mapped(&self, bytes: u64) {
        self.mapped_bytes.store(bytes, Ordering::Relaxed);
    }

    /// An isolated window now holds `n` live mappings.
    pub fn set_mappings(&self, n: u64) {
        self.mappings.store(n, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |a: &[AtomicU64]| a.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        StatsSnapshot {
            ops: self.ops,
            requests: load(&self.requests),
            errors: load(&self.errors),
            connected: self.connected.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            mapped_bytes: self.mapped_bytes.load(Ordering::Relaxed),
            mappings: self.mappings.load(Ordering::Relaxed),
        }
    }
}

/// The counters of one socket at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// The opcodes counted one by one.
    pub ops: OpTable,
    /// Per `ops` entry, then "other".
    pub requests: Vec<u64>,
    pub errors: Vec<u64>,
    pub connected: bool,
    /// Connections accepted since the daemon started.
    pub connections: u64,
    pub mapped_bytes: u64,
    /// Live mappings of an isolated window (one per mapped piece).
    pub mappings: u64,
}

impl StatsSnapshot {
    /// Requests with opcode `name` ("init", ..., "other").
    pub fn requests_of(&self, name: &str) -> Option<u64> {
        self.index_of(name).map(|i| self.requests[i])
    }

    /// Failed requests with opcode `name`.
    pub fn errors_of(&self, name: &str) -> Option<u64> {
        self.index_of(name).map(|i| self.errors[i])
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.ops
            .iter()
            .position(|(_, n)| *n == name)
            .or((name == "other").then_some(self.ops.len()))
    }
}

/// A socket as the report names it.
#[derive(Clone, Debug)]
pub struct SocketInfo {
    pub path: PathBuf,
    pub tag: String,
    pub role: String,
}

/// The report `vhost-famfs status` prints: one block per socket, one
/// `key value` line each, `requests`/`errors` as `op=count` pairs. Stable
/// and line-oriented, so that scripts can grep it.
pub fn render(sockets: &[(SocketInfo, StatsSnapshot)]) -> String {
    let mut out = String::new();
    for (info, s) in sockets {
        let pairs = |v: &[u64]| {
            s.ops
                .iter()
                .map(|(_, n)| *n)
                .chain(["other"])
                .zip(v)
                .map(|(n, c)| format!("{n}={c}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Infallible: writing to a String.
        let _ = writeln!(out, "socket {}", info.path.display());
        let _ = writeln!(out, "  tag {}", info.tag);
        let _ = writeln!(out, "  role {}", info.role);
        let _ = writeln!(
            out,
            "  connected {}",
            if s.connected { "yes" } else { "no" }
        );
        let _ = writeln!(out, "  connections {}", s.connections);
        let _ = writeln!(out, "  mapped_bytes {}", s.mapped_bytes);
        let _ = writeln!(out, "  mappings {}", s.mappings);
        let _ = writeln!(out, "  requests {}", pairs(&s.requests));
        let _ = writeln!(out, "  errors {}", pairs(&s.errors));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_opcode_and_renders_them() {
        let s = SocketStats::default();
        s.request(Some(OP_INIT), false);
        s.request(Some(OP_LOOKUP), true);
        s.request(Some(OP_LOOKUP), false);
        s.request(Some(999), true);
        s.request(None, true);
        s.set_connected(true);
        s.set_mapped(64 << 20);
        let snap = s.snapshot();
        assert_eq!(snap.requests_of("lookup"), Some(2));
        assert_eq!(snap.errors_of("lookup"), Some(1));
        assert_eq!(snap.requests_of("other"), Some(2));
        assert_eq!(snap.errors_of("other"), Some(2));
        assert_eq!(snap.requests_of("nonsense"), None);
        let info = SocketInfo {
            path: "/run/a.sock".into(),
            tag: "famfs".into(),
            role: "master".into(),
        };
        let text = render(&[(info, snap)]);
        assert!(text.starts_with("socket /run/a.sock\n"), "{text}");
        assert!(text.contains("\n  connected yes\n"), "{text}");
        assert!(text.contains("\n  mapped_bytes 67108864\n"), "{text}");
        assert!(text.contains("\n  mappings 0\n"), "{text}");
        assert!(
            text.contains("\n  requests init=1 statfs=0 lookup=2 getattr=0 readdir=0 get_fmap=0 create=0 mkdir=0 readdirplus=0 forget=0 other=2\n"),
            "{text}"
        );
        s.set_connected(false);
        let snap = s.snapshot();
        assert!(!snap.connected);
        assert_eq!((snap.connections, snap.mapped_bytes), (1, 0));
    }

    #[test]
    fn a_fuse_socket_counts_fuse_opcodes() {
        let s = SocketStats::new(FUSE_OPS);
        s.request(Some(fuse::READ), false);
        s.request(Some(fuse::WRITE), true);
        s.request(Some(fuse::LSEEK), true);
        let snap = s.snapshot();
        assert_eq!(snap.requests_of("read"), Some(1));
        assert_eq!(snap.errors_of("write"), Some(1));
        assert_eq!(snap.requests_of("other"), Some(1));
        assert_eq!(snap.requests_of("get_fmap"), None);
        let info = SocketInfo {
            path: "/run/fs.sock".into(),
            tag: "famfs".into(),
            role: "client".into(),
        };
        let text = render(&[(info, snap)]);
        assert!(text.contains(" read=1 write=1 "), "{text}");
        assert!(text.contains(" fsync=0 other=1\n"), "{text}");
    }
}
