// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The in-memory tree built by replaying the log.
//!
//! Inode numbers are derived from log positions, so every process that
//! replays the same log gives every file the same number, across restarts:
//! the node created by entry `i` is `(i + 1) << 6`; a missing parent
//! directory created implicitly while applying entry `i` at depth `d` is
//! `((i + 1) << 6) | (d + 1)`. Numbers therefore grow in creation order,
//! which makes them usable as resumable directory cookies.

use std::collections::{BTreeSet, HashMap};

use super::entry::{DirRecord, FileRecord, LogRecord};
use super::fmap::{Extent, Fmap};
use super::path::RelPath;

pub type Ino = u64;

/// The root directory's inode number.
pub const ROOT_INO: Ino = 1;
const INO_SHIFT: u32 = 6;

/// Inode number of the node created by log entry `index`.
pub fn ino_of_entry(index: u64) -> Ino {
    (index + 1) << INO_SHIFT
}

/// File type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;

/// What a node is. A directory's children live in the `Namespace`, so
/// that cloning a node stays cheap however large the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File { size: u64, flags: u32, fmap: Fmap },
}

/// One file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub ino: Ino,
    pub parent: Ino,
    /// The name's bytes as logged (any but `/` and NUL).
    pub name: Box<[u8]>,
    pub uid: u32,
    pub gid: u32,
    /// Full mode including the file type bits.
    pub mode: u32,
    pub kind: NodeKind,
    /// The log entry that created this node, explicitly or (for a missing
    /// parent directory) implicitly; None for the root.
    pub log_index: Option<u64>,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir)
    }
    pub fn size(&self) -> u64 {
        match &self.kind {
            NodeKind::File { size, .. } => *size,
            NodeKind::Dir => 0,
        }
    }
    /// Bytes of device memory the node occupies.
    pub fn allocated(&self) -> u64 {
        match &self.kind {
            NodeKind::File { fmap, .. } => fmap.ranges().iter().map(|e| e.len).sum(),
            NodeKind::Dir => 0,
        }
    }
    /// The file's data extents in file order (empty for directories).
    pub fn extents(&self) -> Vec<Extent> {
        match &self.kind {
            NodeKind::File { size, fmap, .. } => fmap.expand(*size),
            NodeKind::Dir => Vec::new(),
        }
    }
}

/// A directory's children: by name for lookup, by inode number (creation
/// order) for readdir; the name itself is stored once, in the node.
#[derive(Debug, Default)]
struct Children {
    by_name: HashMap<Box<[u8]>, Ino>,
    by_ino: BTreeSet<Ino>,
    subdirs: u32,
}

/// The tree.
#[derive(Debug)]
pub struct Namespace {
    nodes: HashMap<Ino, Node>,
    children: HashMap<Ino, Children>,
    files: u64,
    dirs: u64,
}

impl Namespace {
    /// An empty tree with a root owned by `uid`/`gid`.
    pub fn new(uid: u32, gid: u32, mode: u32) -> Self {
        let root = Node {
            ino: ROOT_INO,
            parent: ROOT_INO,
            name: Box::default(),
            uid,
            gid,
            mode: S_IFDIR | (mode & 0o7777),
            kind: NodeKind::Dir,
            log_index: None,
        };
        Namespace {
            nodes: HashMap::from([(ROOT_INO, root)]),
            children: HashMap::from([(ROOT_INO, Children::default())]),
            files: 0,
            dirs: 1,
        }
    }

    pub fn get(&self, ino: Ino) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub fn files(&self) -> u64 {
        self.files
    }
    pub fn dirs(&self) -> u64 {
        self.dirs
    }

    /// The child `name` of directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &(impl AsRef<[u8]> + ?Sized)) -> Option<&Node> {
        self.nodes
            .get(self.children.get(&parent)?.by_name.get(name.as_ref())?)
    }

    /// Number of subdirectories of `dir` (0 for files).
    pub fn subdirs(&self, dir: Ino) -> u32 {
        self.children.get(&dir).map_or(0, |c| c.subdirs)
    }

    /// The node at `path` ("" or "/" is the root).
    pub fn resolve(&self, path: &(impl AsRef<[u8]> + ?Sized)) -> Option<&Node> {
        let mut cur = self.nodes.get(&ROOT_INO)?;
        for comp in path
            .as_ref()
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
        {
            cur = self.lookup(cur.ino, comp)?;
        }
        Some(cur)
    }

    /// Children of `dir` with an inode number above `cookie`, in creation
    /// order. Resuming with the last returned number never skips or
    /// repeats an entry, even while entries are being added.
    pub fn children_after(&self, dir: Ino, cookie: u64) -> impl Iterator<Item = &Node> {
        self.children
            .get(&dir)
            .into_iter()
            .flat_map(move |c| c.by_ino.range(cookie.saturating_add(1)..))
            .filter_map(|ino| self.nodes.get(ino))
    }

    /// The path of a node ("" for the root); bytes, escape to print.
    pub fn path_of(&self, ino: Ino) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut cur = ino;
        while cur != ROOT_INO {
            match self.nodes.get(&cur) {
                Some(n) => {
                    parts.push(&n.name[..]);
                    cur = n.parent;
                }
                None => break,
            }
        }
        parts.reverse();
        parts.join(&b'/')
    }

    /// Every file node.
    pub fn iter_files(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter(|n| !n.is_dir())
    }

    /// Applies log entry `index`. An entry that cannot be applied (its name
    /// exists, its parent is a file) is reported and leaves the tree as is.
    pub fn apply(&mut self, index: u64, rec: &LogRecord) -> Result<(), String> {
        match rec {
            LogRecord::File(f) => self.add_file(index, f),
            LogRecord::Mkdir(d) => self.add_dir(index, d),
            LogRecord::AddDaxdev(_) => Ok(()),
        }
    }

    fn add_file(&mut self, index: u64, f: &FileRecord) -> Result<(), String> {
        let (parent, name) = self.prepare(index, &f.path, f.uid, f.gid)?;
        self.insert(Node {
            ino: ino_of_entry(index),
            parent,
            name,
            uid: f.uid,
            gid: f.gid,
            mode: S_IFREG | (f.mode & 0o7777),
            kind: NodeKind::File {
                size: f.size,
                flags: f.flags,
                fmap: f.fmap.clone(),
            },
            log_index: Some(index),
        });
        self.files += 1;
        Ok(())
    }

    fn add_dir(&mut self, index: u64, d: &DirRecord) -> Result<(), String> {
        let (parent, name) = self.prepare(index, &d.path, d.uid, d.gid)?;
        self.insert(new_dir(
            ino_of_entry(index),
            parent,
            name,
            d.uid,
            d.gid,
            d.mode,
            Some(index),
        ));
        self.dirs += 1;
        Ok(())
    }

    /// Finds (or creates, as famfs replay does) the parent directory of
    /// `path` and checks that its last component is free.
    fn prepare(
        &mut self,
        index: u64,
        path: &RelPath,
        uid: u32,
        gid: u32,
    ) -> Result<(Ino, Box<[u8]>), String> {
        let comps: Vec<&[u8]> = path.components().collect();
        let (name, dirs) = comps.split_last().ok_or("empty path")?;
        let mut cur = ROOT_INO;
        for (depth, comp) in dirs.iter().enumerate() {
            cur = match self.lookup(cur, comp) {
                Some(n) if n.is_dir() => n.ino,
                Some(_) => {
                    let comp = super::path::escape(comp);
                    return Err(format!("{path}: {comp} is not a directory"));
                }
                None => {
                    let ino = ino_of_entry(index) | (depth as u64 + 1);
                    // It carries the entry that created it, hence that
                    // entry's generation.
                    let dir = new_dir(ino, cur, (*comp).into(), uid, gid, 0o755, Some(index));
                    self.insert(dir);
                    self.dirs += 1;
                    ino
                }
            };
        }
        if self.lookup(cur, name).is_some() {
            return Err(format!("{path}: already exists"));
        }
        Ok((cur, (*name).into()))
    }

    fn insert(&mut self, node: Node) {
        if let Some(c) = self.children.get_mut(&node.parent) {
            c.by_name.insert(node.name.clone(), node.ino);
            c.by_ino.insert(node.ino);
            if node.is_dir() {
                c.subdirs += 1;
            }
        }
        if node.is_dir() {
            self.children.insert(node.ino, Children::default());
        }
        self.nodes.insert(node.ino, node);
    }
}

fn new_dir(
    ino: Ino,
    parent: Ino,
    name: Box<[u8]>,
    uid: u32,
    gid: u32,
    mode: u32,
    log_index: Option<u64>,
) -> Node {
    Node {
        ino,
        parent,
        name,
        uid,
        gid,
        mode: S_IFDIR | (mode & 0o7777),
        kind: NodeKind::Dir,
        log_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> LogRecord {
        LogRecord::File(FileRecord {
            path: RelPath::new(path).unwrap(),
            size: 1,
            flags: 0,
            uid: 0,
            gid: 0,
            mode: 0o644,
            fmap: Fmap::Simple(vec![Extent {
                offset: 12 << 20,
                len: 2 << 20,
            }]),
        })
    }

    fn dir(path: &str) -> LogRecord {
        LogRecord::Mkdir(DirRecord {
            path: RelPath::new(path).unwrap(),
            uid: 0,
            gid: 0,
            mode: 0o700,
        })
    }

    #[test]
    fn builds_tree_with_stable_inodes() {
        let mut ns = Namespace::new(0, 0, 0o755);
        ns.apply(0, &dir("d")).unwrap();
        ns.apply(1, &file("d/f")).unwrap();
        ns.apply(2, &file("top")).unwrap();
        let f = ns.resolve("d/f").unwrap();
        assert_eq!(f.ino, ino_of_entry(1));
        assert_eq!(f.mode, S_IFREG | 0o644);
        assert_eq!(ns.resolve("d").unwrap().mode, S_IFDIR | 0o700);
        assert_eq!(ns.path_of(f.ino), b"d/f");
        assert_eq!((ns.files(), ns.dirs()), (2, 2));
    }

    #[test]
    fn duplicate_and_file_parent_are_refused() {
        let mut ns = Namespace::new(0, 0, 0o755);
        ns.apply(0, &file("a")).unwrap();
        assert!(ns.apply(1, &file("a")).is_err());
        assert!(ns.apply(2, &dir("a")).is_err());
        assert!(ns.apply(3, &file("a/b")).is_err());
        assert_eq!(ns.files(), 1);
    }

    #[test]
    fn missing_parents_are_created_implicitly() {
        let mut ns = Namespace::new(0, 0, 0o755);
        ns.apply(4, &file("x/y/z")).unwrap();
        let x = ns.resolve("x").unwrap();
        let y = ns.resolve("x/y").unwrap();
        assert_eq!(x.ino, ino_of_entry(4) | 1);
        assert_eq!(y.ino, ino_of_entry(4) | 2);
        assert!(x.is_dir() && y.is_dir());
        // They carry the entry that made them: its generation is theirs.
        assert_eq!((x.log_index, y.log_index), (Some(4), Some(4)));
        assert_eq!(ns.resolve("x/y/z").unwrap().ino, ino_of_entry(4));
        assert_eq!(ns.get(ROOT_INO).unwrap().log_index, None);
    }

    #[test]
    fn readdir_cookies_resume_in_creation_order() {
        let mut ns = Namespace::new(0, 0, 0o755);
        for (i, n) in ["c", "a", "b"].iter().enumerate() {
            ns.apply(i as u64, &file(n)).unwrap();
        }
        let names: Vec<_> = ns
            .children_after(ROOT_INO, 0)
            .map(|n| n.name.to_vec())
            .collect();
        assert_eq!(names, [b"c", b"a", b"b"]);
        let first = ns.children_after(ROOT_INO, 0).next().unwrap().ino;
        // A file added after the first page still shows up when resuming.
        ns.apply(3, &file("new")).unwrap();
        let rest: Vec<_> = ns
            .children_after(ROOT_INO, first)
            .map(|n| n.name.to_vec())
            .collect();
        assert_eq!(rest, [&b"a"[..], b"b", b"new"]);
        assert_eq!(ns.children_after(ROOT_INO, u64::MAX).count(), 0);
        assert_eq!(ns.children_after(ino_of_entry(0), 0).count(), 0);
    }
}
