// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Relative paths as famfs stores them in log entries: "dir/sub/file",
//! relative to the file system root, at most 79 bytes.
//!
//! Paths are byte strings, as in famfs and Linux: any byte but `/` and
//! NUL may be part of a name, UTF-8 or not. Only printing escapes them.

use std::borrow::Cow;
use std::fmt::Write;

use super::error::{MetaError, Result, PATH_TOO_LONG};
use super::format::MAX_PATHLEN;

/// A validated path relative to the file system root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(Box<[u8]>);

impl RelPath {
    /// Validates a path for a new entry (from the CLI or a guest): famfs's
    /// rules, and the root's `.meta` is reserved.
    pub fn new(path: &(impl AsRef<[u8]> + ?Sized)) -> Result<Self> {
        let path = path.as_ref();
        if path.split(|&b| b == b'/').next() == Some(RESERVED_ROOT_NAME.as_bytes()) {
            return Err(MetaError::BadPath {
                path: path.to_vec(),
                reason: "the root's .meta is reserved for famfs",
            });
        }
        Self::parse(path)
    }

    /// Validates `path`. Never trusts its source: the same rules apply to
    /// paths from the CLI, from a guest and from the device.
    fn parse(path: &[u8]) -> Result<Self> {
        let bad = |reason| MetaError::BadPath {
            path: path.to_vec(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("empty"));
        }
        if path.len() >= MAX_PATHLEN {
            return Err(bad(PATH_TOO_LONG));
        }
        if path.contains(&0) {
            return Err(bad("contains NUL"));
        }
        if path.starts_with(b"/") {
            return Err(bad("absolute, must be relative to the file system root"));
        }
        for comp in path.split(|&b| b == b'/') {
            validate_name(comp).map_err(|_| bad(name_problem(comp)))?;
        }
        Ok(RelPath(path.into()))
    }

    /// Decodes a path field from the device: any bytes up to the first
    /// NUL, under the same rules as a new path.
    pub fn from_field(field: &[u8]) -> Result<Self> {
        let raw = super::format::from_cstr_field(field).ok_or(MetaError::BadPath {
            path: field.to_vec(),
            reason: "not NUL-terminated",
        })?;
        // What is logged already exists: no name is reserved here.
        Self::parse(raw)
    }

    /// Joins a validated parent (None for the root) and a validated name.
    pub fn join(parent: Option<&RelPath>, name: &(impl AsRef<[u8]> + ?Sized)) -> Result<Self> {
        match parent {
            None => Self::new(name),
            Some(p) => Self::new(&[&p.0[..], b"/", name.as_ref()].concat()),
        }
    }

    /// The path's bytes, as the log stores them (without NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path's components, root first.
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b'/')
    }

    /// The parent's path (None for a top-level name) and the last component.
    pub fn split_last(&self) -> (Option<&[u8]>, &[u8]) {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => (Some(&self.0[..i]), &self.0[i + 1..]),
            None => (None, &self.0),
        }
    }
}

impl AsRef<[u8]> for RelPath {
    fn as_ref(&self) -> &[u8] {
        &self.0
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
/// `\r`, else `\ooo` octal per byte), and so does every byte that is not
/// part of valid UTF-8; everything else is kept.
pub fn escape<T: AsRef<[u8]> + ?Sized>(name: &T) -> Cow<'_, str> {
    let name = name.as_ref();
    if let Ok(s) = std::str::from_utf8(name) {
        if !s.chars().any(|c| c == '\\' || c.is_control()) {
            return s.into();
        }
    }
    let mut out = String::with_capacity(name.len() + 8);
    let octal = |out: &mut String, bytes: &[u8]| {
        for b in bytes {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:03o}");
        }
    };
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => octal(&mut out, c.encode_utf8(&mut [0u8; 4]).as_bytes()),
                c => out.push(c),
            }
        }
        octal(&mut out, chunk.invalid());
    }
    out.into()
}

/// Checks one path component (a file name): 1 to 79 bytes, not `.` or
/// `..`, no `/` or NUL; every other byte is allowed.
pub fn validate_name(name: &(impl AsRef<[u8]> + ?Sized)) -> Result<()> {
    let name = name.as_ref();
    if name.is_empty()
        || name == b"."
        || name == b".."
        || name.contains(&b'/')
        || name.contains(&0)
        || name.len() >= MAX_PATHLEN
    {
        return Err(MetaError::BadPath {
            path: name.to_vec(),
            reason: name_problem(name),
        });
    }
    Ok(())
}

fn name_problem(name: &[u8]) -> &'static str {
    match name {
        b"" => "empty component",
        b"." | b".." => "'.' and '..' are not allowed",
        n if n.contains(&b'/') => "contains '/'",
        n if n.contains(&0) => "contains NUL",
        _ => PATH_TOO_LONG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        for p in ["a", "dir/file", "a/b/c.dat", &"x".repeat(79)] {
            assert_eq!(RelPath::new(p).unwrap().as_bytes(), p.as_bytes());
        }
    }

    #[test]
    fn any_byte_but_slash_and_nul_is_a_name() {
        let every: Vec<u8> = (1..=255u8).filter(|&b| b != b'/').collect();
        for chunk in every.chunks(79) {
            assert_eq!(RelPath::new(chunk).unwrap().as_bytes(), chunk);
            validate_name(chunk).unwrap();
        }
        let p = RelPath::new(b"d\xff/caf\xe9").unwrap();
        assert_eq!(p.split_last(), (Some(&b"d\xff"[..]), &b"caf\xe9"[..]));
        let mut f = [0u8; 80];
        f[..6].copy_from_slice(b"\x80\xfe/\n\x01x");
        assert_eq!(RelPath::from_field(&f).unwrap().as_bytes(), &f[..6]);
    }

    #[test]
    fn rejects_bad_paths() {
        for p in [
            &b""[..],
            b"/abs",
            b"a/../b",
            b"..",
            b"a/./b",
            b"a//b",
            b"a/",
            b"a\0b",
            b"\xff/",
            &[b'x'; 80],
        ] {
            assert!(RelPath::new(p).is_err(), "{p:?} accepted");
        }
        for n in [&b"a/b"[..], b"\xff\0", b"."] {
            assert!(validate_name(n).is_err(), "{n:?} accepted");
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
        assert!(RelPath::new(b".meta\xff").is_ok());
        let mut f = [0u8; 80];
        f[..5].copy_from_slice(b".meta");
        assert!(RelPath::from_field(&f).is_ok(), "a logged name is kept");
    }

    #[test]
    fn escape_keeps_lines_whole() {
        assert_eq!(escape("plain name.txt"), "plain name.txt");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("t\tr\r\\"), "t\\tr\\r\\\\");
        assert_eq!(escape("\u{1b}[2J\u{7f}"), "\\033[2J\\177");
        assert_eq!(escape("\u{85}é"), "\\302\\205é");
        let p = RelPath::new("d/evil\nINFO forged").unwrap();
        assert!(!p.to_string().contains('\n'));
    }

    #[test]
    fn escape_shows_invalid_utf8_as_octal() {
        assert_eq!(escape(b"caf\xe9"), "caf\\351");
        assert_eq!(escape(b"\xff\n\xc3\xa9\\"), "\\377\\né\\\\");
        // A truncated sequence: each of its bytes, not a replacement char.
        assert_eq!(escape(b"a\xe2\x82"), "a\\342\\202");
        assert_eq!(RelPath::new(b"d/\xff").unwrap().to_string(), "d/\\377");
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
        assert_eq!(RelPath::from_field(&f).unwrap().as_bytes(), b"a/b");
    }

    #[test]
    fn split_and_join() {
        let p = RelPath::new("a/b/c").unwrap();
        assert_eq!(p.split_last(), (Some(&b"a/b"[..]), &b"c"[..]));
        let parent = RelPath::new("a").unwrap();
        assert_eq!(
            RelPath::join(Some(&parent), b"z\xff").unwrap().as_bytes(),
            b"a/z\xff"
        );
        assert!(RelPath::join(None, "..").is_err());
    }
}
