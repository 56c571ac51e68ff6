//! XXH64, as specified by the xxHash project, computed incrementally.

/// The five primes of XXH64.
const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;

/// The bytes consumed by one step of the four accumulators.
const STRIPE: usize = 32;

/// The XXH64 state: the input is given in any number of parts, and the
/// hash is the same as that of the parts put end to end.
#[derive(Clone, Debug)]
pub(super) struct Xxh64 {
    seed: u64,
    /// The four accumulators, one per 8-byte lane of a stripe.
    lanes: [u64; 4],
    /// The start of a stripe not yet complete; `buffered < STRIPE` between
    /// calls.
    stripe: [u8; STRIPE],
    buffered: usize,
    /// The length of the whole input so far.
    len: u64,
}

impl Xxh64 {
    /// A state for `seed`, before any input.
    pub(super) const fn new(seed: u64) -> Self {
        Self {
            seed,
            lanes: [
                seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
                seed.wrapping_add(PRIME_2),
                seed,
                seed.wrapping_sub(PRIME_1),
            ],
            stripe: [0; STRIPE],
            buffered: 0,
            len: 0,
        }
    }

    /// Appends `data` to the input.
    pub(super) fn update(&mut self, mut data: &[u8]) {
        // A usize always fits in a u64 on the platforms Rust supports.
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            // `buffered < STRIPE`, so the range is in bounds; `take` is at
            // most the length of both sides.
            let free = &mut self.stripe[self.buffered..];
            let take = free.len().min(data.len());
            let (head, rest) = data.split_at(take);
            free[..take].copy_from_slice(head);
            self.buffered += take;
            data = rest;
            if self.buffered < STRIPE {
                return;
            }
            let stripe = self.stripe;
            self.consume(&stripe);
            self.buffered = 0;
        }
        while let Some((stripe, rest)) = data.split_first_chunk::<STRIPE>() {
            self.consume(stripe);
            data = rest;
        }
        // Fewer than STRIPE bytes are left, and the buffer is empty.
        self.stripe[..data.len()].copy_from_slice(data);
        self.buffered = data.len();
    }

    /// The hash of the input so far.
    pub(super) fn finish(&self) -> u64 {
        let mut acc = if self.len >= STRIPE as u64 {
            let [v1, v2, v3, v4] = self.lanes;
            let mut acc = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            for lane in self.lanes {
                acc = merge(acc, lane);
            }
            acc
        } else {
            self.seed.wrapping_add(PRIME_5)
        };
        acc = acc.wrapping_add(self.len);
        // `buffered < STRIPE`: the range is in bounds.
        let mut tail = &self.stripe[..self.buffered];
        while let Some((lane, rest)) = tail.split_first_chunk::<8>() {
            acc ^= round(0, u64::from_le_bytes(*lane));
            acc = acc
                .rotate_left(27)
                .wrapping_mul(PRIME_1)
                .wrapping_add(PRIME_4);
            tail = rest;
        }
        if let Some((lane, rest)) = tail.split_first_chunk::<4>() {
            acc ^= u64::from(u32::from_le_bytes(*lane)).wrapping_mul(PRIME_1);
            acc = acc
                .rotate_left(23)
                .wrapping_mul(PRIME_2)
                .wrapping_add(PRIME_3);
            tail = rest;
        }
        for &byte in tail {
            acc ^= u64::from(byte).wrapping_mul(PRIME_5);
            acc = acc.rotate_left(11).wrapping_mul(PRIME_1);
        }
        avalanche(acc)
    }

    /// Feeds one whole stripe to the four accumulators.
    fn consume(&mut self, stripe: &[u8; STRIPE]) {
        let mut rest: &[u8] = stripe;
        for acc in &mut self.lanes {
            if let Some((lane, tail)) = rest.split_first_chunk::<8>() {
                *acc = round(*acc, u64::from_le_bytes(*lane));
                rest = tail;
            }
        }
    }
}

/// One round of an accumulator over an 8-byte lane.
const fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

/// Merges an accumulator into the converged one.
const fn merge(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane))
        .wrapping_mul(PRIME_1)
        .wrapping_add(PRIME_4)
}

/// The final mix, so every input bit affects every output bit.
const fn avalanche(mut acc: u64) -> u64 {
    acc ^= acc >> 33;
    acc = acc.wrapping_mul(PRIME_2);
    acc ^= acc >> 29;
    acc = acc.wrapping_mul(PRIME_3);
    acc ^ (acc >> 32)
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::Xxh64;
    use crate::placement::xxh64;

    /// The buffer of xxHash's own sanity check (`XSUM_fillTestBuffer`).
    fn sanity_buffer(len: usize) -> Vec<u8> {
        const PRIME32: u64 = 2_654_435_761;
        const PRIME64: u64 = 11_400_714_785_074_694_797;
        let mut generator = PRIME32;
        (0..len)
            .map(|_| {
                let byte = (generator >> 56) as u8;
                generator = generator.wrapping_mul(PRIME64);
                byte
            })
            .collect()
    }

    #[test]
    fn agrees_with_the_published_values() {
        // xxHash's sanity check: XSUM_XXH64_testdata in cli/xsum_sanity_check.c.
        const PRIME32: u64 = 2_654_435_761;
        let cases: [(usize, u64, u64); 9] = [
            (0, 0, 0xEF46_DB37_51D8_E999),
            (0, PRIME32, 0xAC75_FDA2_929B_17EF),
            (1, 0, 0xE934_A84A_DB05_2768),
            (1, PRIME32, 0x5014_6076_43A9_B4C3),
            (4, 0, 0x9136_A0DC_A574_57EE),
            (14, 0, 0x8282_DCC4_994E_35C8),
            (14, PRIME32, 0xC3BD_6BF6_3DEB_6DF0),
            (222, 0, 0xB641_AE8C_B691_C174),
            (222, PRIME32, 0x20CB_8AB7_AE10_C14A),
        ];
        let buffer = sanity_buffer(222);
        for (len, seed, hash) in cases {
            assert_eq!(xxh64(&buffer[..len], seed), hash, "len {len}, seed {seed}");
        }
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_hash() {
        let buffer = sanity_buffer(100);
        for len in 0..=buffer.len() {
            let data = &buffer[..len];
            let whole = xxh64(data, 7);
            // In two parts, at every point.
            for cut in 0..=len {
                let mut state = Xxh64::new(7);
                state.update(&data[..cut]);
                state.update(&data[cut..]);
                assert_eq!(state.finish(), whole, "len {len}, cut {cut}");
            }
            // Byte by byte, with empty parts between.
            let mut state = Xxh64::new(7);
            for byte in data {
                state.update(&[]);
                state.update(core::slice::from_ref(byte));
            }
            assert_eq!(state.finish(), whole, "len {len}, byte by byte");
        }
    }
}
