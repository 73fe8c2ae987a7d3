// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What a guest may put in the metadata it creates: set-id bits and
//! owners, per socket; and the subtree it sees (`export.rs`). A guest's root is not the host's root: by default
//! setuid/setgid bits are stripped, and owners can be mapped or squashed
//! as virtiofsd's --translate-uid/--translate-gid do.

/// Whoever an id maps to when no range covers it (the kernel's overflow
/// id, shown for unmapped ids in user namespaces too).
pub const OVERFLOW_ID: u32 = 65534;

/// Most ranges per map.
pub const MAX_RANGES: usize = 16;

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;

/// Guest ids `guest..guest + count` are host ids `host..host + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub guest: u32,
    pub host: u32,
    pub count: u32,
}

impl std::str::FromStr for IdRange {
    type Err = String;

    /// `GUEST:HOST:COUNT`
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected GUEST:HOST:COUNT");
        let mut n = s.split(':').map(|p| p.parse::<u32>().map_err(|_| bad()));
        let (Some(guest), Some(host), Some(count), None) = (n.next(), n.next(), n.next(), n.next())
        else {
            return Err(bad());
        };
        let r = IdRange {
            guest: guest?,
            host: host?,
            count: count?,
        };
        let fits = |start: u32| start.checked_add(r.count - 1).is_some();
        if r.count == 0 || !fits(r.guest) || !fits(r.host) {
            return Err(format!("{s:?}: COUNT must be 1 or more and fit 32 bits"));
        }
        Ok(r)
    }
}

impl IdRange {
    fn overlaps(&self, o: &IdRange) -> bool {
        let meet = |a: u32, b: u32| a <= b + (o.count - 1) && b <= a + (self.count - 1);
        meet(self.guest, o.guest) || meet(self.host, o.host)
    }
}

/// A uid or gid translation: ranges that overlap on neither side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap(Vec<IdRange>);

impl IdMap {
    /// Adds a range; `what` names the map in errors.
    pub fn push(&mut self, r: IdRange, what: &str) -> Result<(), String> {
        if self.0.len() == MAX_RANGES {
            return Err(format!("{what}: at most {MAX_RANGES} ranges"));
        }
        if let Some(o) = self.0.iter().find(|o| o.overlaps(&r)) {
            return Err(format!(
                "{what}: {}:{}:{} overlaps {}:{}:{}",
                r.guest, r.host, r.count, o.guest, o.host, o.count
            ));
        }
        self.0.push(r);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The host id of guest id `id`: unchanged without ranges, the
    /// overflow id when no range covers it.
    pub fn to_host(&self, id: u32) -> u32 {
        self.translate(id, |r| (r.guest, r.host))
    }

    /// The guest id of host id `id`, as `to_host` the other way.
    pub fn to_guest(&self, id: u32) -> u32 {
        self.translate(id, |r| (r.host, r.guest))
    }

    fn translate(&self, id: u32, ends: impl Fn(&IdRange) -> (u32, u32)) -> u32 {
        if self.0.is_empty() {
            return id;
        }
        self.0
            .iter()
            .find_map(|r| {
                let (from, to) = ends(r);
                (id >= from && id - from < r.count).then(|| to + (id - from))
            })
            .unwrap_or(OVERFLOW_ID)
    }
}

/// One socket's rules for guest-created metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestPolicy {
    /// Keep setuid/setgid bits (`suid=on`).
    pub suid: bool,
    pub uids: IdMap,
    pub gids: IdMap,
    /// Every guest-created entry gets this host owner (`squash=UID:GID`).
    pub squash: Option<(u32, u32)>,
    /// The directory the guest sees as its root (`subtree=/PATH`, bytes
    /// relative to the file system root); None: the whole file system.
    pub subtree: Option<Vec<u8>>,
}

impl GuestPolicy {
    /// The permission bits a guest-created entry is stored with.
    pub fn mode(&self, mode: u32) -> u32 {
        if self.suid {
            mode
        } else {
            mode & !(S_ISUID | S_ISGID)
        }
    }

    /// The host owner of an entry a guest creates as `uid`:`gid`.
    pub fn owner(&self, uid: u32, gid: u32) -> (u32, u32) {
        self.squash
            .unwrap_or((self.uids.to_host(uid), self.gids.to_host(gid)))
    }

    /// The owner a guest sees for host owner `uid`:`gid`.
    pub fn guest_owner(&self, uid: u32, gid: u32) -> (u32, u32) {
        (self.uids.to_guest(uid), self.gids.to_guest(gid))
    }
}

/// Parses `UID:GID`.
pub fn parse_owner(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: expected UID:GID");
    let (u, g) = s.split_once(':').ok_or_else(bad)?;
    Ok((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_translate_both_ways() {
        let mut m = IdMap::default();
        assert_eq!(m.to_host(0), 0, "no ranges: unchanged");
        m.push("0:100000:1000".parse().unwrap(), "uid-map").unwrap();
        m.push("1000:1000:1".parse().unwrap(), "uid-map").unwrap();
        assert_eq!(m.to_host(0), 100_000);
        assert_eq!(m.to_host(999), 100_999);
        assert_eq!(m.to_host(1000), 1000);
        assert_eq!(m.to_host(1001), OVERFLOW_ID);
        assert_eq!(m.to_guest(100_005), 5);
        assert_eq!(m.to_guest(0), OVERFLOW_ID);
        assert!(m.push("500:5:1".parse().unwrap(), "uid-map").is_err());
        assert!(m.push("5000:100999:2".parse().unwrap(), "uid-map").is_err());
        for bad in ["", "1:2", "1:2:0", "a:1:1", "1:2:3:4", "4294967295:0:2"] {
            assert!(bad.parse::<IdRange>().is_err(), "{bad:?}");
        }
        assert!("4294967295:0:1".parse::<IdRange>().is_ok());
    }

    #[test]
    fn set_id_bits_and_owners() {
        let p = GuestPolicy::default();
        assert_eq!(p.mode(0o6755), 0o755);
        assert_eq!(p.mode(0o1777), 0o1777);
        assert_eq!(p.owner(0, 0), (0, 0));
        let p = GuestPolicy {
            suid: true,
            squash: Some((1000, 100)),
            ..Default::default()
        };
        assert_eq!(p.mode(0o6755), 0o6755);
        assert_eq!(p.owner(0, 0), (1000, 100));
        assert_eq!(parse_owner("7:8"), Ok((7, 8)));
        assert!(parse_owner("7").is_err());
    }
}
