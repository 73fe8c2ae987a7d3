// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `--print-capabilities`: what a management tool may pass to `serve`,
//! in the JSON form vhost-user backends print (QEMU's
//! docs/interop/vhost-user.json, VHostUserBackendCapabilities: the backend
//! type, then a list of features, each an optional command-line option).

/// The backend type, as in vmm-config/qemu/50-vhost-famfs.json. QEMU's
/// schema has no entry for it yet (see docs/user-guide.md).
pub const BACKEND_TYPE: &str = "famfs";

/// Optional `serve` options beyond the ones every backend has
/// (`--socket-path`, `--fd`, `--print-capabilities`).
pub const FEATURES: &[&str] = &[
    "socket-group",
    "socket-options",
    "request-queues",
    "lock-wait-ms",
    "log-level",
    "syslog",
];

/// The capabilities document, one JSON object.
pub fn json() -> String {
    let features: Vec<String> = FEATURES.iter().map(|f| format!("    \"{f}\"")).collect();
    format!(
        "{{\n  \"type\": \"{BACKEND_TYPE}\",\n  \"features\": [\n{}\n  ]\n}}\n",
        features.join(",\n")
    )
}
