//! Proof of possession for instant upload: the server asks for the SHA-256
//! of a few byte ranges of the file, derived from a secret, the owner and
//! the file's key, so that knowing a file's hash is not enough to claim it.
//! The ranges depend only on what the caller sent, never on whether the
//! file exists, so the challenge itself reveals nothing.

use ferry_proto::{ContentHash, ProofChallenge};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::OwnerId;

/// How many ranges a challenge asks for.
const RANGES: usize = 3;
/// How long each range is, at most.
const RANGE_LEN: u64 = 256;

/// The secret challenges are derived from; every instance must share it.
#[derive(Clone)]
pub struct ProofKey(Vec<u8>);

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofKey(…)")
    }
}

impl ProofKey {
    /// A key over `secret`.
    pub fn new(secret: &[u8]) -> Self {
        ProofKey(secret.to_vec())
    }

    /// The ranges `owner` must hash to prove it holds the `size`-byte file
    /// `sha256`: the same ranges every time for the same three.
    pub fn challenge(&self, owner: &OwnerId, sha256: &ContentHash, size: u64) -> ProofChallenge {
        if size == 0 {
            return ProofChallenge { ranges: Vec::new() };
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(owner.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(sha256.as_bytes());
        mac.update(&size.to_be_bytes());
        let seed = mac.finalize().into_bytes();
        let len = size.min(RANGE_LEN);
        let ranges = seed
            .chunks_exact(8)
            .take(RANGES)
            .map(|bytes| {
                let value = u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8]));
                let start = value % (size - len + 1);
                [start, start + len - 1]
            })
            .collect();
        ProofChallenge { ranges }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(seed: u8) -> ContentHash {
        ContentHash::from_digest([seed; 32])
    }

    #[test]
    fn the_same_caller_and_file_get_the_same_ranges_within_the_file() {
        let key = ProofKey::new(b"a proof secret of some length....");
        let owner = OwnerId::parse("alice").unwrap();
        let first = key.challenge(&owner, &hash(1), 10_000);
        assert_eq!(first, key.challenge(&owner, &hash(1), 10_000));
        assert_eq!(first.ranges.len(), 3);
        for [start, end] in first.ranges {
            assert!(start <= end && end < 10_000);
            assert_eq!(end - start + 1, RANGE_LEN);
        }
    }

    #[test]
    fn another_owner_or_secret_gets_other_ranges() {
        let key = ProofKey::new(b"one secret");
        let alice = OwnerId::parse("alice").unwrap();
        let bob = OwnerId::parse("bob").unwrap();
        let ranges = key.challenge(&alice, &hash(1), 1 << 30);
        assert_ne!(ranges, key.challenge(&bob, &hash(1), 1 << 30));
        assert_ne!(
            ranges,
            ProofKey::new(b"another").challenge(&alice, &hash(1), 1 << 30)
        );
    }

    #[test]
    fn a_small_file_is_challenged_whole_and_an_empty_one_not_at_all() {
        let key = ProofKey::new(b"k");
        let owner = OwnerId::anonymous();
        let small = key.challenge(&owner, &hash(2), 10);
        assert!(small.ranges.iter().all(|range| *range == [0, 9]));
        assert!(key.challenge(&owner, &hash(2), 0).ranges.is_empty());
    }
}
