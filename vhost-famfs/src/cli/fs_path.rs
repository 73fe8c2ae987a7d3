// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Paths inside the file system as typed on the command line.
//!
//! They are taken as the bytes the shell passed (famfs names are byte
//! strings, UTF-8 or not), relative to the file system root; a leading
//! `/` is accepted and ignored.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// The path's bytes without its leading `/`s (the root is empty).
pub fn relative(p: &OsStr) -> &[u8] {
    let b = p.as_bytes();
    &b[b.iter().position(|&c| c != b'/').unwrap_or(b.len())..]
}

/// The path's bytes without leading or trailing `/`s: for paths that may
/// name a directory ("data/" is "data").
pub fn trimmed(p: &OsStr) -> &[u8] {
    let b = relative(p);
    &b[..b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_are_trimmed_bytes_are_kept() {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_owned();
        assert_eq!(relative(&os(b"/caf\xe9/")), b"caf\xe9/");
        assert_eq!(trimmed(&os(b"//d\xff/x//")), b"d\xff/x");
        assert_eq!(trimmed(&os(b"/")), b"");
        assert_eq!(relative(&os(b"")), b"");
        assert_eq!(trimmed(&os(b"a\nb")), b"a\nb");
    }
}
