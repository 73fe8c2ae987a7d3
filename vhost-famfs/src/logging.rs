// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Where log records go: stderr (env_logger) or, with --syslog, the
//! local syslog socket, one datagram per record (RFC 3164 framing, as
//! syslog(3) sends it; journald and rsyslog both read it).

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};
use env_filter::{Builder as FilterBuilder, Filter};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// The syslog socket; VHOST_FAMFS_SYSLOG_SOCKET names another (containers
/// with the host's socket mounted elsewhere, tests).
const SYSLOG_SOCKET: &str = "/dev/log";

/// syslog facility "daemon".
const FACILITY_DAEMON: u8 = 3;

/// Sets up logging: `level` (--log-level) wins over RUST_LOG, which wins
/// over -v's `verbose_default`.
pub fn init(level: Option<LevelFilter>, verbose_default: &str, syslog: bool) -> Result<()> {
    let mut filter = FilterBuilder::new();
    match (level, std::env::var("RUST_LOG")) {
        (Some(l), _) => filter.filter_level(l),
        (None, Ok(spec)) => filter.parse(&spec),
        (None, Err(_)) => filter.parse(verbose_default),
    };
    if !syslog {
        let mut b = env_logger::Builder::new();
        b.format_timestamp_millis();
        match (level, std::env::var("RUST_LOG")) {
            (Some(l), _) => b.filter_level(l),
            (None, Ok(spec)) => b.parse_filters(&spec),
            (None, Err(_)) => b.parse_filters(verbose_default),
        };
        b.init();
        return Ok(());
    }
    let path = std::env::var_os("VHOST_FAMFS_SYSLOG_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSLOG_SOCKET));
    let logger = Syslog::connect(path, filter.build())?;
    log::set_max_level(logger.filter.filter());
    log::set_boxed_logger(Box::new(logger)).context("installing the syslog logger")?;
    Ok(())
}

struct Syslog {
    path: PathBuf,
    sock: Mutex<UnixDatagram>,
    filter: Filter,
    pid: u32,
}

impl Syslog {
    fn connect(path: PathBuf, filter: Filter) -> Result<Self> {
        let sock = Self::open(&path)
            .with_context(|| format!("--syslog: connecting to {}", path.display()))?;
        Ok(Syslog {
            path,
            sock: Mutex::new(sock),
            filter,
            pid: std::process::id(),
        })
    }

    fn open(path: &PathBuf) -> io::Result<UnixDatagram> {
        let s = UnixDatagram::unbound()?;
        s.connect(path)?;
        Ok(s)
    }

    fn line(&self, record: &Record) -> String {
        let severity = match record.level() {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug | Level::Trace => 7,
        };
        format!(
            "<{}>vhost-famfs[{}]: {}",
            FACILITY_DAEMON * 8 + severity,
            self.pid,
            record.args()
        )
    }
}

impl Log for Syslog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.filter.matches(record) {
            return;
        }
        let line = self.line(record);
        let mut sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        if sock.send(line.as_bytes()).is_ok() {
            return;
        }
        // The syslog daemon restarted: reconnect once, else keep the
        // record on stderr rather than lose it.
        if let Ok(s) = Self::open(&self.path) {
            *sock = s;
            if sock.send(line.as_bytes()).is_ok() {
                return;
            }
        }
        eprintln!("{line}");
    }

    fn flush(&self) {}
}
