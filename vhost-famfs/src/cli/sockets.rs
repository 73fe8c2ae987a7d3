// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `serve`'s socket options: the multi-socket `--socket` form and the
//! single-socket `--socket-path` / `--fd` conventions of vhost-user
//! backends, gathered into one list.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use vhost_famfs::daemon::SocketSpec;
use vhost_famfs::listen::{self, Listeners};

/// What `serve` was asked to listen on.
pub struct SocketArgs<'a> {
    pub sockets: &'a [SocketSpec],
    pub socket_path: Option<&'a PathBuf>,
    pub fd: Option<i32>,
    pub socket_options: Option<&'a str>,
    pub socket_group: Option<&'a str>,
}

/// The sockets to serve and where their listeners come from. An
/// inherited descriptor is checked (and taken) here, before the device is
/// opened, so that a wrong `--fd` fails at once.
pub fn gather(a: &SocketArgs) -> Result<(Vec<SocketSpec>, Listeners)> {
    let opts = a.socket_options.unwrap_or("");
    if a.socket_options.is_some() && a.socket_path.is_none() && a.fd.is_none() {
        bail!("--socket-options applies to --socket-path or --fd; with --socket, put the options after the path");
    }
    let spec = |path: PathBuf| {
        SocketSpec::with_options(path, opts).map_err(|e| anyhow!("--socket-options: {e}"))
    };
    let mut specs = a.sockets.to_vec();
    if let Some(p) = a.socket_path {
        specs.push(spec(p.clone())?);
    }
    let mut inherited = Vec::new();
    if let Some(fd) = a.fd {
        let i = listen::inherit(fd)?;
        specs.push(spec(i.path.clone())?);
        inherited.push(i);
    }
    if a.fd.is_none() {
        if let Some(n) = activation_fds() {
            log::warn!("a service manager passed {n} listening socket(s) (LISTEN_FDS) but --fd was not given: they are not served");
        }
    }
    let group = a.socket_group.map(listen::lookup_group).transpose()?;
    if group.is_some() && specs.len() == inherited.len() {
        log::warn!("--socket-group: the inherited socket keeps the group and mode its service manager gave it");
    }
    Ok((specs, Listeners::new(group, inherited)))
}

/// How many sockets systemd's activation protocol says were passed to
/// this very process (LISTEN_PID is ours), if any.
fn activation_fds() -> Option<u32> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let n: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    (pid == std::process::id() && n > 0).then_some(n)
}
