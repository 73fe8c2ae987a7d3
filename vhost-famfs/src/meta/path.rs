// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Relative paths as famfs stores them in log entries: "dir/sub/file",
//! relative to the file system root, at most 79 bytes.

use super::error::{MetaError, Result, PATH_TOO_LONG};
use super::format::MAX_PATHLEN;

/// A validated path relative to the file system root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// Validates a path for a new entry (from the CLI or a guest): famfs's
    /// rules, and the root's `.meta` is reserved.
    pub fn new(path: &str) -> Result<Self> {
        if path.split('/').next() == Some(RESERVED_ROOT_NAME) {
            return Err(MetaError::BadPath {
                path: path.to_string(),
                reason: "the root's .meta is reserved for famfs",
            });
        }
        Self::parse(path)
    }

    /// Validates `path`. Never trusts its source: the same rules apply to
    /// paths from the CLI, from a guest and from the device.
    fn parse(path: &str) -> Result<Self> {
        let bad = |reason| MetaError::BadPath {
            path: path.to_string(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("empty"));
        }
        if path.len() >= MAX_PATHLEN {
            return Err(bad(PATH_TOO_LONG));
        }
        if path.contains('\0') {
            return Err(bad("contains NUL"));
        }
        if path.starts_with('/') {
            return Err(bad("absolute, must be relative to the file system root"));
        }
        for comp in path.split('/') {
            validate_name(comp).map_err(|_| bad(name_problem(comp)))?;
        }
        Ok(RelPath(path.to_string()))
    }

    /// Decodes a path field from the device.
    pub fn from_field(field: &[u8]) -> Result<Self> {
        let raw = super::format::from_cstr_field(field).ok_or(MetaError::BadPath {
            path: String::from_utf8_lossy(field).into_owned(),
            reason: "not NUL-terminated",
        })?;
        let s = std::str::from_utf8(raw).map_err(|_| MetaError::BadPath {
            path: String::from_utf8_lossy(raw).into_owned(),
            reason: "not valid UTF-8",
        })?;
        // What is logged already exists: no name is reserved here.
        Self::parse(s)
    }

    /// Joins a validated parent (None for the root) and a validated name.
    pub fn join(parent: Option<&RelPath>, name: &str) -> Result<Self> {
        match parent {
            None => Self::new(name),
            Some(p) => Self::new(&format!("{}/{}", p.0, name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's components, root first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The parent's path (None for a top-level name) and the last component.
    pub fn split_last(&self) -> (Option<&str>, &str) {
        match self.0.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, &self.0),
        }
    }
}

/// Escaped (`escape`): a path printed in a log or by the CLI cannot
/// forge a line or a terminal sequence.
impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape(&self.0))
    }
}

/// The root's name that famfs keeps for its own metadata files
/// (`.meta/.superblock`, `.meta/.log`); vhost-famfs creates nothing there.
pub const RESERVED_ROOT_NAME: &str = ".meta";

/// A name or path made safe to print, as `ls -b` does: backslash,
/// control characters and DEL become C escapes (`\\`, `\n`, `\t`,
/// `\r`, else `\ooo` octal per byte); everything else is kept.
pub fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.chars().any(|c| c == '\\' || c.is_control()) {
        return name.into();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// Checks one path component (a file name).
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\0')
        || name.len() >= MAX_PATHLEN
    {
        return Err(MetaError::BadPath {
            path: name.to_string(),
            reason: name_problem(name),
        });
    }
    Ok(())
}

fn name_problem(name: &str) -> &'static str {
    match name {
        "" => "empty component",
        "." | ".." => "'.' and '..' are not allowed",
        n if n.contains('/') => "contains '/'",
        n if n.contains('\0') => "contains NUL",
        _ => PATH_TOO_LONG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        for p in ["a", "dir/file", "a/b/c.dat", &"x".repeat(79)] {
            assert_eq!(RelPath::new(p).unwrap().as_str(), p);
        }
    }

    #[test]
    fn rejects_bad_paths() {
        for p in [
            "",
            "/abs",
            "a/../b",
            "..",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
            &"x".repeat(80),
        ] {
            assert!(RelPath::new(p).is_err(), "{p:?} accepted");
        }
    }

    #[test]
    fn meta_is_reserved_at_the_root_only() {
        for p in [".meta", ".meta/x"] {
            let e = RelPath::new(p).unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{p}");
        }
        assert!(RelPath::new("d/.meta").is_ok());
        assert!(RelPath::new(".meta2").is_ok());
        let mut f = [0u8; 80];
        f[..5].copy_from_slice(b".meta");
        assert!(RelPath::from_field(&f).is_ok(), "a logged name is kept");
    }

    #[test]
    fn escape_keeps_lines_whole() {
        assert_eq!(escape("plain name.txt"), "plain name.txt");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("t\tr\r\\"), "t\\tr\\r\\\\");
        assert_eq!(escape("\u{1b}[2J\u{7f}"), "\\033[2J\\177");
        assert_eq!(escape("\u{85}é"), "\\302\\205é");
        let p = RelPath::new("d/evil\nINFO forged").unwrap();
        assert!(!p.to_string().contains('\n'));
    }

    #[test]
    fn errno_of_long_path_is_enametoolong() {
        let e = RelPath::new(&"x".repeat(80)).unwrap_err();
        assert_eq!(e.errno(), libc::ENAMETOOLONG);
    }

    #[test]
    fn field_without_nul_is_rejected() {
        assert!(RelPath::from_field(&[b'a'; 80]).is_err());
        let mut f = [0u8; 80];
        f[..3].copy_from_slice(b"a/b");
        assert_eq!(RelPath::from_field(&f).unwrap().as_str(), "a/b");
    }

    #[test]
    fn split_and_join() {
        let p = RelPath::new("a/b/c").unwrap();
        assert_eq!(p.split_last(), (Some("a/b"), "c"));
        let parent = RelPath::new("a").unwrap();
        assert_eq!(RelPath::join(Some(&parent), "z").unwrap().as_str(), "a/z");
        assert!(RelPath::join(None, "..").is_err());
    }
}
