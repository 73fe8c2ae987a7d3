// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Running the vhost-famfs binary on a device as the master host, for the
//! tests that use the CLI as users do.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The system uuid the tests' devices are formatted for.
pub const MASTER: &str = "6a1f3c9e-0000-4000-8000-000000000001";

/// The binary, pointed at `dev`, as the master host (never reading
/// famfs's own system uuid file).
pub fn cmd(dev: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vhost-famfs"));
    c.env("VHOST_FAMFS_DEVICE", dev)
        .env("VHOST_FAMFS_SYSTEM_UUID", MASTER)
        .env("VHOST_FAMFS_SYSTEM_UUID_FILE", "/nonexistent/system_uuid");
    c
}

pub fn run(dev: &Path, args: &[&str]) -> Output {
    cmd(dev).args(args).output().unwrap()
}

/// Runs a command that must succeed; its standard output.
pub fn ok(dev: &Path, args: &[&str]) -> String {
    let o = run(dev, args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
