//! Proof of possession: how a holder of a file answers a [`ProofChallenge`].
//!
//! [`ProofChallenge`]: crate::ProofChallenge

use sha2::{Digest, Sha256};

/// The lower-case hex SHA-256 of the challenged bytes, given in the order of
/// the challenge's ranges: the `proof` a create request carries.
pub fn proof_of<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for piece in pieces {
        hasher.update(piece);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_hashes_the_pieces_in_order() {
        assert_eq!(proof_of([&b"ab"[..], &b"c"[..]]), proof_of([&b"abc"[..]]));
        assert_ne!(proof_of([&b"c"[..], &b"ab"[..]]), proof_of([&b"abc"[..]]));
    }

    #[test]
    fn the_proof_of_no_bytes_is_the_sha256_of_nothing() {
        assert_eq!(
            proof_of([]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
