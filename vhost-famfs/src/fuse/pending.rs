// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Files a guest opened with O_CREAT but has not sized yet.
//!
//! A famfs file gets its size, and its memory, once, in the log entry
//! that creates it. FUSE creates a file empty and sizes it afterwards
//! (ftruncate, fallocate), so CREATE only reserves the name here, for
//! this connection; the first size above 0 appends the log entry. The
//! node id handed out at CREATE keeps naming the file afterwards (the
//! guest's inode keeps it), so a committed file stays an alias of its
//! famfs node id until the guest forgets it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::filesystem::{FsResult, NewEntry};

/// Node ids of reserved files: the top bit, never set in a famfs node id.
pub const PENDING_BIT: u64 = 1 << 63;

/// The most names reserved and not yet sized on one connection.
pub const MAX_PENDING: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserved {
    pub parent: u64,
    pub name: Vec<u8>,
    pub new: NewEntry,
    /// The famfs node id once sized.
    pub committed: Option<u64>,
    /// Entry replies the guest has not forgotten (FUSE nlookup).
    lookups: u64,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<u64, Reserved>,
    /// famfs node id -> the alias the guest knows it by.
    alias_of: HashMap<u64, u64>,
    next: u64,
}

/// One connection's reserved files.
#[derive(Default)]
pub struct Pending(Mutex<Table>);

impl Pending {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_pending_id(id: u64) -> bool {
        id & PENDING_BIT != 0
    }

    /// Reserves `name` in `parent`; the guest now holds one lookup of it.
    pub fn reserve(&self, parent: u64, name: &[u8], new: NewEntry) -> FsResult<u64> {
        let mut t = self.table();
        if t.by_id
            .values()
            .any(|r| r.parent == parent && r.name == name)
        {
            return Err(libc::EEXIST);
        }
        if t.by_id.values().filter(|r| r.committed.is_none()).count() >= MAX_PENDING {
            return Err(libc::ENOSPC);
        }
        t.next += 1;
        let id = PENDING_BIT | t.next;
        t.by_id.insert(
            id,
            Reserved {
                parent,
                name: name.to_vec(),
                new,
                committed: None,
                lookups: 1,
            },
        );
        Ok(id)
    }

    pub fn get(&self, id: u64) -> Option<Reserved> {
        self.table().by_id.get(&id).cloned()
    }

    /// The reserved, unsized file `name` in `parent`.
    pub fn find(&self, parent: u64, name: &[u8]) -> Option<u64> {
        let t = self.table();
        t.by_id
            .iter()
            .find(|(_, r)| r.parent == parent && r.name == name && r.committed.is_none())
            .map(|(id, _)| *id)
    }

    /// The alias the guest knows famfs node `ino` by, if any.
    pub fn alias_of(&self, ino: u64) -> Option<u64> {
        self.table().alias_of.get(&ino).copied()
    }

    /// `id` now names famfs node `ino`.
    pub fn commit(&self, id: u64, ino: u64) {
        let mut t = self.table();
        if let Some(r) = t.by_id.get_mut(&id) {
            r.committed = Some(ino);
            t.alias_of.insert(ino, id);
        }
    }

    /// One more entry reply names `id`.
    pub fn looked_up(&self, id: u64) {
        if let Some(r) = self.table().by_id.get_mut(&id) {
            r.lookups += 1;
        }
    }

    /// The guest forgot `n` lookups of `id`; at zero the id is released
    /// (and an unsized file with it).
    pub fn forget(&self, id: u64, n: u64) {
        let mut t = self.table();
        let gone = match t.by_id.get_mut(&id) {
            Some(r) => {
                r.lookups = r.lookups.saturating_sub(n);
                r.lookups == 0
            }
            None => false,
        };
        if gone {
            if let Some(ino) = t.by_id.remove(&id).and_then(|r| r.committed) {
                t.alias_of.remove(&ino);
            }
        }
    }

    /// The connection ended or the guest unmounted.
    pub fn clear(&self) {
        *self.table() = Table::default();
    }
}
