// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The virtio-famfs feature bits: which ones a socket offers, and which
//! ones the request server may use once the driver has accepted some.

use crate::protocol::{F_ENTRY_FMAP, F_FORGET, F_INTERLEAVE, F_NOTIFY, F_READDIRPLUS};

/// The optional features a socket offers (`readdirplus=`, `entry-fmap=`
/// socket options; FORGET with `isolate=on`). Everything else the device
/// supports is always offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    /// VIRTIO_FAMFS_F_READDIRPLUS: listings with attributes.
    pub readdirplus: bool,
    /// VIRTIO_FAMFS_F_ENTRY_FMAP: small maps inline in LOOKUP and
    /// READDIRPLUS replies.
    pub entry_fmap: bool,
    /// VIRTIO_FAMFS_F_FORGET: only an isolated window unmaps what a
    /// driver forgets, so only it asks to be told.
    pub forget: bool,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            readdirplus: true,
            entry_fmap: true,
            forget: false,
        }
    }
}

impl Offer {
    /// The device feature bits of virtio-famfs this socket offers (the
    /// transport's bits are added by the vhost-user backend). The one
    /// place that decides what is offered.
    pub fn bits(&self) -> u64 {
        let mut bits = (1 << F_NOTIFY) | (1 << F_INTERLEAVE);
        if self.readdirplus {
            bits |= 1 << F_READDIRPLUS;
        }
        if self.entry_fmap {
            bits |= 1 << F_ENTRY_FMAP;
        }
        if self.forget {
            bits |= 1 << F_FORGET;
        }
        bits
    }
}

/// The features in force on a connection: offered by the device and
/// accepted by the driver. The server uses nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// GET_FMAP (and inline maps) may be INTERLEAVED.
    pub interleave: bool,
    /// OP_READDIRPLUS is served.
    pub readdirplus: bool,
    /// LOOKUP replies `entry_out`; entries may carry inline maps.
    pub entry_fmap: bool,
    /// OP_FORGET is served.
    pub forget: bool,
}

impl Negotiated {
    /// What `acked` enables of what was `offered` (a driver cannot turn
    /// on a bit the device did not offer).
    pub fn new(offered: u64, acked: u64) -> Self {
        let on = |bit: u64| offered & acked & (1 << bit) != 0;
        Negotiated {
            interleave: on(F_INTERLEAVE),
            readdirplus: on(F_READDIRPLUS),
            entry_fmap: on(F_ENTRY_FMAP),
            forget: on(F_FORGET),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_every_feature_by_default() {
        let all = Offer::default().bits();
        for bit in [F_NOTIFY, F_INTERLEAVE, F_READDIRPLUS, F_ENTRY_FMAP] {
            assert_ne!(all & (1 << bit), 0, "bit {bit}");
        }
        assert_eq!(all & (1 << F_FORGET), 0);
        let none = Offer {
            readdirplus: false,
            entry_fmap: false,
            forget: false,
        }
        .bits();
        assert_eq!(none, (1 << F_NOTIFY) | (1 << F_INTERLEAVE));
    }

    #[test]
    fn uses_only_what_both_sides_agree_on() {
        let offered = Offer {
            readdirplus: true,
            entry_fmap: false,
            forget: false,
        }
        .bits();
        let n = Negotiated::new(offered, u64::MAX);
        assert!(n.interleave && n.readdirplus && !n.entry_fmap);
        let n = Negotiated::new(offered, 1 << F_INTERLEAVE);
        assert!(n.interleave && !n.readdirplus && !n.entry_fmap);
        assert_eq!(Negotiated::new(offered, 0), Negotiated::default());
    }
}
