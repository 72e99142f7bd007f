//! A SHA-256 taken in a piece at a time, across requests and instances.
//!
//! Between pieces its state is at most 103 bytes (the eight state words,
//! the length so far, and the bytes past the last whole 64-byte block), so
//! it is kept in the database beside each chunk: the chunks of a file,
//! hashed in order as they arrive, add up to the file's SHA-256 without
//! reading the file again.

use ferry_proto::ContentHash;
use sha2::digest::generic_array::GenericArray;

/// Bytes in one SHA-256 block.
const BLOCK: usize = 64;

/// The state words before any input (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Bytes of [`RunningSha256::to_bytes`] before the tail.
const FIXED: usize = 32 + 8;

/// The state of a SHA-256 part way through its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningSha256 {
    state: [u32; 8],
    length: u64,
    tail: Vec<u8>,
}

impl Default for RunningSha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl RunningSha256 {
    /// The state before any input.
    pub fn new() -> Self {
        RunningSha256 {
            state: INITIAL,
            length: 0,
            tail: Vec::with_capacity(BLOCK),
        }
    }

    /// Bytes taken in so far.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether nothing was taken in yet.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Takes in the next bytes of the input.
    pub fn update(&mut self, mut data: &[u8]) {
        self.length += data.len() as u64;
        if !self.tail.is_empty() {
            let take = (BLOCK - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < BLOCK {
                return;
            }
            compress(&mut self.state, &self.tail);
            self.tail.clear();
        }
        let whole = data.len() - data.len() % BLOCK;
        compress(&mut self.state, &data[..whole]);
        self.tail.extend_from_slice(&data[whole..]);
    }

    /// The SHA-256 of everything taken in.
    pub fn finish(mut self) -> ContentHash {
        let bits = self.length.wrapping_mul(8);
        self.tail.push(0x80);
        while self.tail.len() % BLOCK != BLOCK - 8 {
            self.tail.push(0);
        }
        self.tail.extend_from_slice(&bits.to_be_bytes());
        let mut state = self.state;
        compress(&mut state, &self.tail);
        let mut digest = [0u8; 32];
        for (word, out) in state.iter().zip(digest.chunks_exact_mut(4)) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        ContentHash::from_digest(digest)
    }

    /// The state as bytes to store: the state words and the length, big
    /// endian, then the bytes past the last whole block.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(FIXED + self.tail.len());
        for word in self.state {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(&self.length.to_be_bytes());
        bytes.extend_from_slice(&self.tail);
        bytes
    }

    /// Reads back what [`to_bytes`](Self::to_bytes) wrote; `None` for any
    /// other bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (fixed, tail) = bytes.split_at_checked(FIXED)?;
        let mut state = [0u32; 8];
        for (word, raw) in state.iter_mut().zip(fixed.chunks_exact(4)) {
            *word = u32::from_be_bytes(raw.try_into().ok()?);
        }
        let length = u64::from_be_bytes(fixed[32..].try_into().ok()?);
        if tail.len() as u64 != length % BLOCK as u64 {
            return None;
        }
        let mut kept = Vec::with_capacity(BLOCK);
        kept.extend_from_slice(tail);
        Some(RunningSha256 {
            state,
            length,
            tail: kept,
        })
    }
}

/// Runs the compression function over `blocks`, a whole number of blocks.
fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    for block in blocks.chunks_exact(BLOCK) {
        sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn sha256(data: &[u8]) -> ContentHash {
        ContentHash::from_digest(Sha256::digest(data).into())
    }

    #[test]
    fn pieces_of_any_length_add_up_to_the_whole_hash() {
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 128, 1000, 4096 + 7] {
            let data = bytes(len);
            for cut in [0, 1, 63, 64, 65, len / 2, len] {
                let cut = cut.min(len);
                let mut running = RunningSha256::new();
                running.update(&data[..cut]);
                running.update(&data[cut..]);
                assert_eq!(running.len(), len as u64);
                assert_eq!(
                    running.finish(),
                    sha256(&data),
                    "length {len}, cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_stored_state_goes_on_where_it_stopped() {
        let data = bytes(3 * 64 + 17);
        for cut in [0, 5, 64, 100, 3 * 64, 3 * 64 + 17] {
            let mut first = RunningSha256::new();
            first.update(&data[..cut]);
            let stored = first.to_bytes();
            assert!(stored.len() <= 103);
            let mut second = RunningSha256::from_bytes(&stored).unwrap();
            assert_eq!(second, first);
            second.update(&data[cut..]);
            assert_eq!(second.finish(), sha256(&data));
        }
    }

    #[test]
    fn bytes_that_are_no_stored_state_are_refused() {
        let mut running = RunningSha256::new();
        running.update(&bytes(70));
        let stored = running.to_bytes();
        assert_eq!(RunningSha256::from_bytes(&stored[..39]), None);
        assert_eq!(RunningSha256::from_bytes(&stored[..stored.len() - 1]), None);
        let mut longer = stored.clone();
        longer.push(0);
        assert_eq!(RunningSha256::from_bytes(&longer), None);
        assert_eq!(RunningSha256::from_bytes(&[]), None);
    }
}
