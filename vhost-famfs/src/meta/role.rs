// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Master or client: decided as famfs decides it, by comparing this host's
//! system uuid with the one the superblock recorded at mkfs time.

use std::path::Path;

use uuid::Uuid;

use super::error::{MetaError, Result};

/// Where famfs keeps this host's system uuid.
pub const SYSTEM_UUID_FILE: &str = "/opt/famfs/system_uuid";

/// What this host may do with a file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The host that formatted the device: may append to the log.
    Master,
    /// Any other host: reads the log, never writes it.
    Client,
}

impl Role {
    pub fn decide(local: Option<Uuid>, master: Uuid) -> Role {
        if local == Some(master) {
            Role::Master
        } else {
            Role::Client
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Client => "client",
        })
    }
}

/// This host's system uuid: the explicit one if given, else the one in
/// famfs's file, else none (the host can only be a client).
pub fn local_system_uuid(explicit: Option<Uuid>, file: &Path) -> Result<Option<Uuid>> {
    if explicit.is_some() {
        return Ok(explicit);
    }
    match std::fs::read_to_string(file) {
        // famfs writes the 36 characters and a NUL, no newline.
        Ok(s) => parse_uuid(
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace()),
            file,
        )
        .map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MetaError::io(format!("reading {}", file.display()), e)),
    }
}

/// Returns the local system uuid, creating famfs's file with a new random
/// one when there is none yet (as famfs's mkfs does).
pub fn ensure_system_uuid(explicit: Option<Uuid>, file: &Path) -> Result<Uuid> {
    if let Some(u) = local_system_uuid(explicit, file)? {
        return Ok(u);
    }
    let u = Uuid::new_v4();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| MetaError::io(format!("creating {}", dir.display()), e))?;
    }
    // The same bytes famfs writes: the text uuid and a NUL, mode 0444.
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(file)?;
        f.write_all(format!("{u}\0").as_bytes())
    };
    write().map_err(|e| MetaError::io(format!("writing {}", file.display()), e))?;
    log::info!("created system uuid {u} in {}", file.display());
    Ok(u)
}

fn parse_uuid(s: &str, file: &Path) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        MetaError::InvalidArgument(format!("{}: not a uuid ({e}): {s:?}", file.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_follows_system_uuid() {
        let m = Uuid::from_u128(7);
        assert_eq!(Role::decide(Some(m), m), Role::Master);
        assert_eq!(Role::decide(Some(Uuid::from_u128(8)), m), Role::Client);
        assert_eq!(Role::decide(None, m), Role::Client);
    }

    #[test]
    fn reads_creates_and_overrides_the_uuid_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("famfs/system_uuid");
        assert_eq!(local_system_uuid(None, &f).unwrap(), None);
        let u = ensure_system_uuid(None, &f).unwrap();
        assert_eq!(local_system_uuid(None, &f).unwrap(), Some(u));
        let x = Uuid::from_u128(42);
        assert_eq!(local_system_uuid(Some(x), &f).unwrap(), Some(x));
        std::fs::write(&f, "garbage\n").unwrap();
        assert!(local_system_uuid(None, &f).is_err());
    }
}
