// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Dropping root once the daemon holds what it needs (the device, its
//! sockets): `serve --user/--group`. What stays open keeps working; what
//! would need opening again (another device, a socket path) does not.

use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

/// Errors resolving or taking on the unprivileged identity.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("user {0:?}: no such user")]
    NoUser(String),
    #[error("group {0:?}: no such group")]
    NoGroup(String),
    #[error("looking up {what} {name:?}: {source}")]
    Lookup {
        what: &'static str,
        name: String,
        #[source]
        source: nix::Error,
    },
    #[error("{step}: {source} (dropping privileges needs root or CAP_SETUID/CAP_SETGID)")]
    Switch {
        step: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("handing {path} to the new owner: {source}")]
    Chown {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("still privileged after dropping to uid {uid} gid {gid}")]
    NotDropped { uid: u32, gid: u32 },
}

/// The identity to run as: a user (and by default its primary group), or
/// only a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: Option<Uid>,
    pub gid: Gid,
}

/// Resolves `--user NAME|UID` and `--group NAME|GID`. None when neither
/// is given. A numeric user with no passwd entry needs `--group`.
pub fn resolve(
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Option<Identity>, PrivilegeError> {
    let gid = group.map(lookup_group).transpose()?;
    let Some((uid, user_gid)) = user.map(lookup_user).transpose()? else {
        return Ok(gid.map(|gid| Identity { uid: None, gid }));
    };
    let gid = gid.or(user_gid).ok_or_else(|| {
        PrivilegeError::NoUser(format!(
            "{uid} (no passwd entry to take a group from: give --group)"
        ))
    })?;
    Ok(Some(Identity {
        uid: Some(uid),
        gid,
    }))
}

/// A user's uid and, when it has a passwd entry, its primary group.
fn lookup_user(s: &str) -> Result<(Uid, Option<Gid>), PrivilegeError> {
    let err = |source| PrivilegeError::Lookup {
        what: "user",
        name: s.to_string(),
        source,
    };
    if let Ok(n) = s.parse::<u32>() {
        let uid = Uid::from_raw(n);
        return Ok((uid, User::from_uid(uid).map_err(err)?.map(|u| u.gid)));
    }
    match User::from_name(s).map_err(err)? {
        Some(u) => Ok((u.uid, Some(u.gid))),
        None => Err(PrivilegeError::NoUser(s.to_string())),
    }
}

fn lookup_group(s: &str) -> Result<Gid, PrivilegeError> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(PrivilegeError::NoGroup(s.to_string())),
        Err(source) => Err(PrivilegeError::Lookup {
            what: "group",
            name: s.to_string(),
            source,
        }),
    }
}

/// Gives `owned` (the daemon's sockets, so that it can still wake and
/// remove them) to the new identity, then switches every thread to it:
/// supplementary groups dropped, then the gid, then the uid (after which
/// nothing can be changed back).
pub fn drop_to(id: &Identity, owned: &[&Path]) -> Result<(), PrivilegeError> {
    for p in owned {
        nix::unistd::chown(*p, id.uid, Some(id.gid)).map_err(|source| PrivilegeError::Chown {
            path: p.to_path_buf(),
            source,
        })?;
    }
    let switch = |step| move |source| PrivilegeError::Switch { step, source };
    nix::unistd::setgroups(&[id.gid]).map_err(switch("setgroups"))?;
    nix::unistd::setgid(id.gid).map_err(switch("setgid"))?;
    if let Some(uid) = id.uid {
        nix::unistd::setuid(uid).map_err(switch("setuid"))?;
        // Prove it: a dropped root cannot become root again.
        if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(PrivilegeError::NotDropped {
                uid: uid.as_raw(),
                gid: id.gid.as_raw(),
            });
        }
    }
    log::info!(
        "running as uid {} gid {}",
        nix::unistd::geteuid(),
        nix::unistd::getegid()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(resolve(None, None).unwrap(), None);
        let root = resolve(Some("root"), None).unwrap().unwrap();
        assert_eq!(
            (root.uid, root.gid),
            (Some(Uid::from_raw(0)), Gid::from_raw(0))
        );
        let by_number = resolve(Some("0"), Some("0")).unwrap().unwrap();
        assert_eq!(by_number, root);
        let only_group = resolve(None, Some("12345")).unwrap().unwrap();
        assert_eq!((only_group.uid, only_group.gid.as_raw()), (None, 12345));
        assert!(matches!(
            resolve(Some("no-such-user-vhost-famfs"), None),
            Err(PrivilegeError::NoUser(_))
        ));
        assert!(matches!(
            resolve(None, Some("no-such-group-vhost-famfs")),
            Err(PrivilegeError::NoGroup(_))
        ));
        // A uid without a passwd entry has no group to default to.
        assert!(resolve(Some("4000000000"), None).is_err());
        assert!(resolve(Some("4000000000"), Some("4000000000")).is_ok());
    }
}
