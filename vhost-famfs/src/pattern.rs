// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The seeded test pattern of `creat --seed` and `verify --seed`.
//!
//! It is the same byte stream famfs's `creat -S` / `verify -S` use, so a
//! file filled by either tool verifies with the other: the seed (truncated
//! to 32 bits, never 0) initialises xoroshiro128+ through splitmix64, and
//! each step yields the low 32 bits of its output as 4 little-endian bytes.

/// A position in the pattern stream, starting at file offset 0.
#[derive(Clone, Debug)]
pub struct Pattern {
    s0: u64,
    s1: u64,
    /// Bytes of the last step not handed out yet.
    spare: [u8; 4],
    nspare: usize,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Pattern {
    /// The stream for `seed`; `None` for a seed whose low 32 bits are 0,
    /// which famfs reserves for "no pattern".
    pub fn new(seed: u64) -> Option<Self> {
        let mut state = u64::from(seed as u32);
        if state == 0 {
            return None;
        }
        let s0 = splitmix64(&mut state);
        let s1 = splitmix64(&mut state);
        Some(Pattern {
            s0,
            s1,
            spare: [0; 4],
            nspare: 0,
        })
    }

    fn step(&mut self) -> [u8; 4] {
        let (s0, mut s1) = (self.s0, self.s1);
        let r = s0.wrapping_add(s1);
        s1 ^= s0;
        self.s0 = s0.rotate_left(55) ^ s1 ^ (s1 << 14);
        self.s1 = s1.rotate_left(36);
        (r as u32).to_le_bytes()
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut i = 0;
        while i < buf.len() && self.nspare > 0 {
            buf[i] = self.spare[4 - self.nspare];
            self.nspare -= 1;
            i += 1;
        }
        let mut words = buf[i..].chunks_exact_mut(4);
        for w in &mut words {
            w.copy_from_slice(&self.step());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let v = self.step();
            tail.copy_from_slice(&v[..tail.len()]);
            self.spare = v;
            self.nspare = 4 - tail.len();
        }
    }

    /// Compares `buf` with the next bytes of the stream; the index of the
    /// first difference, if any.
    pub fn check(&mut self, buf: &[u8]) -> Option<usize> {
        let mut want = vec![0u8; buf.len()];
        self.fill(&mut want);
        buf.iter().zip(&want).position(|(a, b)| a != b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_does_not_change_the_stream() {
        let mut whole = vec![0u8; 1000];
        Pattern::new(42).unwrap().fill(&mut whole);
        let mut p = Pattern::new(42).unwrap();
        let mut parts = Vec::new();
        for n in [1, 3, 7, 4, 985] {
            let mut b = vec![0u8; n];
            p.fill(&mut b);
            parts.extend(b);
        }
        assert_eq!(parts, whole);
        let mut p = Pattern::new(42).unwrap();
        let mut bad = whole.clone();
        bad[999] ^= 0x80;
        assert_eq!(p.check(&bad), Some(999));
    }

    #[test]
    fn seed_is_32_bits_and_zero_means_none() {
        assert!(Pattern::new(0).is_none());
        assert!(Pattern::new(1 << 32).is_none());
        let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
        Pattern::new(5).unwrap().fill(&mut a);
        Pattern::new(5 | (7 << 32)).unwrap().fill(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn known_first_word() {
        // seed 1: splitmix64 gives s0 = 0x910a2dec89025cc1 and
        // s1 = 0xbeeb8da1658eec67; the first output is their sum's low half.
        let mut b = [0u8; 4];
        Pattern::new(1).unwrap().fill(&mut b);
        let s0: u64 = 0x910a_2dec_8902_5cc1;
        let s1: u64 = 0xbeeb_8da1_658e_ec67;
        assert_eq!(u32::from_le_bytes(b), s0.wrapping_add(s1) as u32);
    }
}
