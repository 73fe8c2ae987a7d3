// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A socket's subtree export: the directory its guests see as their root.
//!
//! Node ids are the guest's view: the exported directory is shown as the
//! root node id, every other node inside keeps its famfs node id, and a
//! node outside is refused (ESTALE) wherever a guest names it, so forged
//! ids from another tenant's tree lead nowhere.
//!
//! famfs never renames or deletes, so a node's parent chain is fixed the
//! moment it appears: whether it lies inside the export is worked out once
//! (a walk up its parents, O(depth)) and remembered, then answered in O(1).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use crate::meta::{Famfs, Ino, Namespace, NodeKind, RelPath, ROOT_INO};

/// A node id a guest may not use here (never a famfs node id).
const NO_NODE: Ino = 0;

/// Why a `subtree=` path cannot be exported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("subtree {0}: {1}")]
    BadPath(String, String),
    #[error("subtree {0}: no such directory in the file system")]
    Missing(String),
    #[error("subtree {0}: not a directory")]
    NotDir(String),
}

/// The exported directory of one socket, with what is known of which
/// nodes lie under it.
#[derive(Debug)]
pub struct Export {
    /// The exported directory's famfs node id.
    root: Ino,
    /// Inside (true) or outside (false), for nodes asked about before.
    /// Only nodes that exist are entered, so it holds at most one entry
    /// per node of the file system, whatever ids a guest forges.
    known: RwLock<HashMap<Ino, bool>>,
    /// The last `usage` and the number of nodes the tree had then (nodes
    /// are only ever added): a guest repeating STATFS walks the subtree
    /// once per change of the tree, not once per request.
    counted: Mutex<Option<(u64, Usage)>>,
}

/// An export's own figures: files, directories (its root included) and
/// the device bytes its files occupy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

impl Export {
    /// The export of directory `path` (bytes, relative to the file
    /// system root; leading and trailing `/` ignored). None for the root
    /// itself: exporting `/` is no restriction.
    pub fn resolve(fs: &Famfs, path: &[u8]) -> Result<Option<Export>, ExportError> {
        let shown = || crate::meta::path::escape(path).into_owned();
        let start = path.iter().position(|&b| b != b'/').unwrap_or(path.len());
        let end = path
            .iter()
            .rposition(|&b| b != b'/')
            .map_or(start, |i| i + 1);
        let rel = &path[start..end.max(start)];
        if rel.is_empty() {
            return Ok(None);
        }
        RelPath::new(rel).map_err(|e| ExportError::BadPath(shown(), e.to_string()))?;
        let _ = fs.refresh();
        let node = fs
            .with_ns(|ns| ns.resolve(rel).cloned())
            .ok_or_else(|| ExportError::Missing(shown()))?;
        if !matches!(node.kind, NodeKind::Dir) {
            return Err(ExportError::NotDir(shown()));
        }
        Ok(Some(Export::of(node.ino)))
    }

    /// The export of the directory with node id `root`.
    pub fn of(root: Ino) -> Export {
        Export {
            root,
            known: RwLock::new(HashMap::from([(root, true)])),
            counted: Mutex::new(None),
        }
    }

    /// The exported directory's famfs node id.
    pub fn root(&self) -> Ino {
        self.root
    }

    /// The famfs node id behind guest node id `id`: the root node id is
    /// the exported directory; the exported directory's own famfs id is
    /// no id the guest was ever given. Not yet checked to lie inside.
    pub fn to_famfs(&self, id: u64) -> Ino {
        match id {
            ROOT_INO => self.root,
            id if id == self.root => NO_NODE,
            id => id,
        }
    }

    /// The guest node id of famfs node `ino` (which lies inside).
    pub fn to_guest(&self, ino: Ino) -> u64 {
        if ino == self.root {
            ROOT_INO
        } else {
            ino
        }
    }

    /// Whether famfs node `ino` is the exported directory or lies under
    /// it. False for nodes that do not exist.
    pub fn contains(&self, ns: &Namespace, ino: Ino) -> bool {
        if let Some(&inside) = self.read_known().get(&ino) {
            return inside;
        }
        let mut walked = Vec::new();
        let mut cur = ino;
        let inside = loop {
            if let Some(&inside) = self.read_known().get(&cur) {
                break inside;
            }
            let Some(n) = ns.get(cur) else {
                // Not a node (yet): remember nothing about it.
                return false;
            };
            walked.push(cur);
            // A parent chain is never longer than a path may be deep; a
            // longer one would be a loop in a corrupt tree.
            if cur == ROOT_INO || walked.len() > crate::meta::format::MAX_PATHLEN {
                // Reached the file system root without meeting the export.
                break false;
            }
            cur = n.parent;
        };
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        known.extend(walked.into_iter().map(|n| (n, inside)));
        inside
    }

    fn read_known(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Ino, bool>> {
        self.known.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The export's own usage in `ns`: a walk of the subtree when the
    /// tree grew since the last call, the figures of that walk otherwise.
    pub fn usage(&self, ns: &Namespace) -> Usage {
        let generation = ns.files() + ns.dirs();
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, u)) = *counted {
            if g == generation {
                return u;
            }
        }
        let mut u = Usage::default();
        let mut todo = vec![self.root];
        while let Some(dir) = todo.pop() {
            u.dirs += 1;
            for child in ns.children_after(dir, 0) {
                if child.is_dir() {
                    todo.push(child.ino);
                } else {
                    u.files += 1;
                    u.bytes += child.allocated();
                }
            }
        }
        *counted = Some((generation, u));
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_swapped_and_the_real_id_hidden() {
        let e = Export::of(4096);
        assert_eq!(e.to_famfs(ROOT_INO), 4096);
        assert_eq!(e.to_famfs(4096), NO_NODE);
        assert_eq!(e.to_famfs(128), 128);
        assert_eq!(e.to_guest(4096), ROOT_INO);
        assert_eq!(e.to_guest(128), 128);
    }
}
