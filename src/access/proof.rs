//! Proof of possession for instant upload: the server asks for the SHA-256
//! of byte ranges of the file, drawn from a secret and the upload session,
//! so that knowing a file's hash is not enough to claim it. Each session
//! gets its own ranges (its id is random), and there are enough of them
//! that a caller holding only part of a file rarely passes by chance:
//! holding 90% of it, one session in about 850, while an owner may start
//! only a few sessions of one file a day (`upload::proof`). The ranges
//! depend only on what the caller sent and the session, never on whether
//! the file exists, so the challenge itself reveals nothing.

use ferry_proto::{ContentHash, ProofChallenge};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::ids::{OwnerId, UploadId};

/// How many ranges a challenge asks for.
const RANGES: usize = 64;
/// How long each range is, at most.
const RANGE_LEN: u64 = 64;

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

    /// The ranges `owner` must hash to prove, in its session `session`,
    /// that it holds the `size`-byte file `sha256`: the same ranges every
    /// time for the same four, other ranges for another session.
    pub fn challenge(
        &self,
        session: &UploadId,
        owner: &OwnerId,
        sha256: &ContentHash,
        size: u64,
    ) -> ProofChallenge {
        if size == 0 {
            return ProofChallenge { ranges: Vec::new() };
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(session.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(owner.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(sha256.as_bytes());
        mac.update(&size.to_be_bytes());
        let seed = mac.finalize().into_bytes();
        let len = size.min(RANGE_LEN);
        let ranges = (0u64..)
            .flat_map(|block| {
                let words = Sha256::new()
                    .chain_update(seed)
                    .chain_update(block.to_be_bytes())
                    .finalize();
                let words: Vec<u64> = words
                    .chunks_exact(8)
                    .map(|bytes| u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])))
                    .collect();
                words
            })
            .take(RANGES)
            .map(|value| {
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

    /// The `n`th of a fixed series of session ids, so that counts over
    /// many sessions are the same every run.
    fn session(n: u64) -> UploadId {
        UploadId::parse(format!("00000000-0000-4000-8000-{n:012x}")).unwrap()
    }

    #[test]
    fn the_same_session_gets_the_same_ranges_within_the_file() {
        let key = ProofKey::new(b"a proof secret of some length....");
        let owner = OwnerId::parse("alice").unwrap();
        let id = UploadId::generate();
        let first = key.challenge(&id, &owner, &hash(1), 10_000);
        assert_eq!(first, key.challenge(&id, &owner, &hash(1), 10_000));
        assert_eq!(first.ranges.len(), RANGES);
        for [start, end] in first.ranges {
            assert!(start <= end && end < 10_000);
            assert_eq!(end - start + 1, RANGE_LEN);
        }
    }

    #[test]
    fn another_session_owner_or_secret_gets_other_ranges() {
        let key = ProofKey::new(b"one secret");
        let alice = OwnerId::parse("alice").unwrap();
        let bob = OwnerId::parse("bob").unwrap();
        let id = UploadId::generate();
        let ranges = key.challenge(&id, &alice, &hash(1), 1 << 30);
        assert_ne!(
            ranges,
            key.challenge(&UploadId::generate(), &alice, &hash(1), 1 << 30)
        );
        assert_ne!(ranges, key.challenge(&id, &bob, &hash(1), 1 << 30));
        assert_ne!(
            ranges,
            ProofKey::new(b"another").challenge(&id, &alice, &hash(1), 1 << 30)
        );
    }

    #[test]
    fn holding_the_first_nine_tenths_of_a_file_rarely_passes_a_session() {
        let key = ProofKey::new(b"k");
        let owner = OwnerId::parse("mallory").unwrap();
        let size = 10 << 20;
        let held = size / 10 * 9;
        let sessions = 2_000;
        let passed = (0..sessions)
            .filter(|n| {
                key.challenge(&session(*n), &owner, &hash(3), size)
                    .ranges
                    .iter()
                    .all(|[_, last]| *last < held)
            })
            .count();
        assert!(passed <= 10, "{passed} of {sessions} sessions passed");
    }

    #[test]
    fn the_ranges_spread_over_the_whole_file() {
        let key = ProofKey::new(b"k");
        let owner = OwnerId::parse("alice").unwrap();
        let size = 1 << 20;
        let ranges = key.challenge(&session(1), &owner, &hash(4), size).ranges;
        let tenths: std::collections::BTreeSet<u64> =
            ranges.iter().map(|[first, _]| first * 10 / size).collect();
        assert!(tenths.len() >= 8, "ranges fell in {tenths:?}");
    }

    #[test]
    fn a_small_file_is_challenged_whole_and_an_empty_one_not_at_all() {
        let key = ProofKey::new(b"k");
        let owner = OwnerId::anonymous();
        let id = UploadId::generate();
        let small = key.challenge(&id, &owner, &hash(2), 10);
        assert!(small.ranges.iter().all(|range| *range == [0, 9]));
        assert!(key.challenge(&id, &owner, &hash(2), 0).ranges.is_empty());
    }
}
