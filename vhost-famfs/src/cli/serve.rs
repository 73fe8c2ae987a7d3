// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `serve`: run the daemon until SIGINT/SIGTERM, then remove the sockets.
//! Once the device and sockets are open the daemon confines itself: an
//! unprivileged user (`--user`), then the seccomp filter (`--seccomp`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use vhost_famfs::control::ControlSocket;
use vhost_famfs::daemon::{remove_sockets, Daemon, DaemonError, SocketSpec};
use vhost_famfs::listen::Listeners;
use vhost_famfs::meta::Famfs;
use vhost_famfs::{privileges, seccomp};

use super::args::RuntimeArgs;

pub fn run(
    fs: Arc<Famfs>,
    sockets: &[SocketSpec],
    listeners: Listeners,
    request_queues: usize,
    runtime: &RuntimeArgs,
) -> Result<()> {
    // Resolved and built now: user lookups read files the filter forbids,
    // and a bad option should fail before any socket exists.
    let identity = privileges::resolve(runtime.user.as_deref(), runtime.group.as_deref())?;
    seccomp::programs(runtime.seccomp)?;

    // Block the stop signals before any thread starts, so that every
    // thread inherits the mask and only the waiter below receives them.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGINT);
    stop.add(Signal::SIGTERM);
    stop.thread_block().context("blocking SIGINT/SIGTERM")?;

    let sb = fs.superblock();
    // Guests get [meta_size, device size) mapped by their VMM: refuse now
    // a device DAX whose alignment cannot map that, not at the first INIT.
    fs.device()
        .check_submap(sb.meta_size(), fs.geometry().dev_size)?;
    log::info!(
        "serving famfs {} on {} ({} MiB, host role {})",
        sb.fs_uuid,
        fs.device().path().display(),
        fs.device().size() >> 20,
        fs.role()
    );
    let daemon = Arc::new(Daemon::new(fs, sockets, request_queues)?.with_listeners(listeners));
    let control = match &runtime.control_socket {
        Some(p) => {
            let c = ControlSocket::bind(p)?;
            log::info!("status on control socket {}", p.display());
            let d = daemon.clone();
            Some(c.serve(move || d.status()))
        }
        None => None,
    };
    let waiter = {
        let d = daemon.clone();
        std::thread::spawn(move || {
            if let Ok(sig) = stop.wait() {
                log::info!("{sig:?}: shutting down");
            }
            d.shutdown();
        })
    };
    let confine = || -> Result<(), DaemonError> {
        if let Some(id) = &identity {
            let mut owned = daemon.socket_paths();
            owned.extend(runtime.control_socket.clone());
            let owned: Vec<&Path> = owned.iter().map(|p| p.as_path()).collect();
            privileges::drop_to(id, &owned).map_err(|e| DaemonError::Sandbox(e.to_string()))?;
        }
        seccomp::install(runtime.seccomp).map_err(|e| DaemonError::Sandbox(e.to_string()))
    };
    let result = daemon.run_with(confine);
    if let Some(c) = control {
        c.stop();
    }
    remove_sockets(&daemon.socket_paths());
    if result.is_err() {
        // The waiter only ends on a signal; don't wait for one.
        drop(waiter);
    } else {
        let _ = waiter.join();
    }
    result.map_err(Into::into)
}
