// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `serve`: run the daemon until SIGINT/SIGTERM, then remove the sockets.

use std::sync::Arc;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use vhost_famfs::daemon::{remove_sockets, Daemon, SocketSpec};
use vhost_famfs::listen::Listeners;
use vhost_famfs::meta::Famfs;

pub fn run(
    fs: Arc<Famfs>,
    sockets: &[SocketSpec],
    listeners: Listeners,
    request_queues: usize,
) -> Result<()> {
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
    let waiter = {
        let d = daemon.clone();
        std::thread::spawn(move || {
            if let Ok(sig) = stop.wait() {
                log::info!("{sig:?}: shutting down");
            }
            d.shutdown();
        })
    };
    let result = daemon.run();
    remove_sockets(&daemon.socket_paths());
    if result.is_err() {
        // The waiter only ends on a signal; don't wait for one.
        drop(waiter);
    } else {
        let _ = waiter.join();
    }
    result.map_err(Into::into)
}
