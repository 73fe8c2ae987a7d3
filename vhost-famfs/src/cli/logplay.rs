// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! logplay: every log entry, as text for people or JSON for programs.
//!
//! The entries are read straight from the log (each one invalidated in
//! the CPU caches first), not from the replayed tree, so entries replay
//! refused (a name that already existed) and damaged ones show too.

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;
use vhost_famfs::meta::entry::LogRecord;
use vhost_famfs::meta::fmap::{Extent, Fmap};
use vhost_famfs::meta::log::Log;
use vhost_famfs::meta::path::escape;
use vhost_famfs::meta::Famfs;

/// The whole dump (the JSON document).
#[derive(Serialize)]
struct Dump {
    fs_uuid: String,
    log_len: u64,
    slots: u64,
    next_index: u64,
    entries: Vec<Entry>,
    summary: Summary,
}

#[derive(Default, Serialize)]
struct Summary {
    files: u64,
    dirs: u64,
    daxdevs: u64,
    damaged: u64,
}

#[derive(Serialize)]
struct Entry {
    seq: u64,
    #[serde(flatten)]
    body: Body,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Body {
    File {
        path: String,
        /// Set when the name is not UTF-8: `path` is then escaped as `ls
        /// -b` escapes names. A UTF-8 name is given exactly.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        path_escaped: bool,
        size: u64,
        flags: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        /// "simple" or "interleaved".
        layout: &'static str,
        /// Interleaved files only: bytes per chunk.
        #[serde(skip_serializing_if = "Option::is_none")]
        chunk_size: Option<u64>,
        /// The extents, or an interleaved file's strips.
        extents: Vec<Span>,
    },
    Mkdir {
        path: String,
        /// Set when the name is not UTF-8: `path` is then escaped as `ls
        /// -b` escapes names. A UTF-8 name is given exactly.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        path_escaped: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    AddDaxdev {
        size: u64,
        uuid: String,
        index: u32,
    },
    Damaged {
        error: String,
    },
}

#[derive(Serialize)]
struct Span {
    offset: u64,
    len: u64,
}

/// A name for JSON: exact when it is UTF-8 (JSON escapes control
/// characters itself), else escaped, and said so.
fn json_path(b: &[u8]) -> (String, bool) {
    match std::str::from_utf8(b) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (escape(b).into_owned(), true),
    }
}

fn spans(list: &[Extent]) -> Vec<Span> {
    list.iter()
        .map(|e| Span {
            offset: e.offset,
            len: e.len,
        })
        .collect()
}

fn body_of(rec: LogRecord, sum: &mut Summary) -> Body {
    match rec {
        LogRecord::File(f) => {
            sum.files += 1;
            let (layout, chunk_size, extents) = match &f.fmap {
                Fmap::Simple(list) => ("simple", None, spans(list)),
                Fmap::Interleaved { chunk_size, strips } => {
                    ("interleaved", Some(*chunk_size), spans(strips))
                }
            };
            let (path, path_escaped) = json_path(f.path.as_bytes());
            Body::File {
                path,
                path_escaped,
                size: f.size,
                flags: f.flags,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
                layout,
                chunk_size,
                extents,
            }
        }
        LogRecord::Mkdir(d) => {
            sum.dirs += 1;
            let (path, path_escaped) = json_path(d.path.as_bytes());
            Body::Mkdir {
                path,
                path_escaped,
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
            }
        }
        LogRecord::AddDaxdev(d) => {
            sum.daxdevs += 1;
            Body::AddDaxdev {
                size: d.size,
                uuid: d.uuid.to_string(),
                index: d.index,
            }
        }
    }
}

fn read(fs: &Famfs) -> Result<Dump> {
    let log = Log::new(fs.device(), fs.superblock(), fs.geometry());
    let h = log.header().context("reading the log header")?;
    let mut summary = Summary::default();
    let entries = (0..h.next_index)
        .map(|seq| {
            let body = match log.read(seq) {
                Ok(rec) => body_of(rec, &mut summary),
                Err(e) => {
                    summary.damaged += 1;
                    Body::Damaged {
                        error: e.to_string(),
                    }
                }
            };
            Entry { seq, body }
        })
        .collect();
    Ok(Dump {
        fs_uuid: fs.superblock().fs_uuid.to_string(),
        log_len: h.log_len,
        slots: h.slots(),
        next_index: h.next_index,
        entries,
        summary,
    })
}

/// A path for a text line: escaped once, whichever form JSON holds.
fn shown(path: &str, escaped: bool) -> std::borrow::Cow<'_, str> {
    if escaped {
        path.into()
    } else {
        escape(path)
    }
}

/// One line per entry: index, type, escaped path, then key=value fields.
fn text_line(e: &Entry) -> String {
    let owner =
        |mode: u32, uid: u32, gid: u32| format!("mode={:04o} uid={uid} gid={gid}", mode & 0o7777);
    let list = |v: &[Span]| {
        v.iter()
            .map(|s| format!("{:#x}+{:#x}", s.offset, s.len))
            .collect::<Vec<_>>()
            .join(",")
    };
    let seq = e.seq;
    match &e.body {
        Body::File {
            path,
            size,
            mode,
            uid,
            gid,
            path_escaped,
            chunk_size,
            extents,
            ..
        } => {
            let map = match chunk_size {
                None => format!("extents={}", list(extents)),
                Some(c) => format!("chunk_size={c} strips={}", list(extents)),
            };
            format!(
                "{seq:>6} file   {} size={size} {} {map}",
                shown(path, *path_escaped),
                owner(*mode, *uid, *gid)
            )
        }
        Body::Mkdir {
            path,
            path_escaped,
            mode,
            uid,
            gid,
        } => format!(
            "{seq:>6} mkdir  {} {}",
            shown(path, *path_escaped),
            owner(*mode, *uid, *gid)
        ),
        Body::AddDaxdev { size, uuid, index } => {
            format!("{seq:>6} daxdev index={index} uuid={uuid} size={size}")
        }
        Body::Damaged { error } => format!("{seq:>6} DAMAGED {}", escape(error)),
    }
}

/// Prints the log; true if every entry could be read.
pub fn run(fs: &Famfs, json: bool) -> Result<bool> {
    let dump = read(fs)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &dump)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "famfs log of {}: {} of {} entries used",
            dump.fs_uuid, dump.next_index, dump.slots
        )?;
        for e in &dump.entries {
            writeln!(out, "{}", text_line(e))?;
        }
        let s = &dump.summary;
        writeln!(
            out,
            "{} entries: {} files, {} directories, {} daxdevs, {} damaged",
            dump.next_index, s.files, s.dirs, s.daxdevs, s.damaged
        )?;
    }
    out.flush()?;
    Ok(dump.summary.damaged == 0)
}
