//! Proof of possession: the server's challenge answered from the local
//! file, so that a file the server already holds publishes at once when
//! the server asks for proof rather than trusting the hash alone.

use ferry_proto::{ProofChallenge, proof_of};

use crate::client::ClientError;
use crate::error::CliError;
use crate::local::LocalFile;

/// Most ranges a challenge may ask for.
const MAX_RANGES: usize = 64;
/// Most bytes a challenge may ask to read, in all.
const MAX_BYTES: u64 = 1 << 20;

/// The `proof` answering `challenge` for `local`: the SHA-256 of the bytes
/// of its ranges, read in order. A challenge that reaches outside the file,
/// or asks for more than a few ranges or bytes, is refused.
pub(super) async fn answer(
    local: &LocalFile,
    challenge: &ProofChallenge,
) -> Result<String, CliError> {
    check(challenge, local.size()).map_err(ClientError::Unexpected)?;
    let mut pieces = Vec::with_capacity(challenge.ranges.len());
    for [first, last] in &challenge.ranges {
        pieces.push(local.read(*first..*last + 1).await?);
    }
    Ok(proof_of(pieces.iter().map(|piece| piece.as_ref())))
}

/// Checks that `challenge` asks for a few ranges of a `size`-byte file.
fn check(challenge: &ProofChallenge, size: u64) -> Result<(), String> {
    if challenge.ranges.len() > MAX_RANGES {
        return Err(format!(
            "the proof challenge asks for {} ranges, more than {MAX_RANGES}",
            challenge.ranges.len()
        ));
    }
    let mut total = 0u64;
    for &[first, last] in &challenge.ranges {
        if first > last || last >= size {
            return Err(format!(
                "the proof challenge asks for bytes {first}-{last} of a file of {size} bytes"
            ));
        }
        total = total.saturating_add(last - first + 1);
    }
    if total > MAX_BYTES {
        return Err(format!(
            "the proof challenge asks for {total} bytes, more than {MAX_BYTES}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn challenge(ranges: &[[u64; 2]]) -> ProofChallenge {
        ProofChallenge {
            ranges: ranges.to_vec(),
        }
    }

    #[tokio::test]
    async fn the_proof_hashes_the_challenged_bytes_in_order() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"0123456789").expect("write");
        let local = LocalFile::open(file.path()).await.expect("open");
        let proof = answer(&local, &challenge(&[[7, 9], [0, 1], [7, 9]]))
            .await
            .expect("proof");
        assert_eq!(proof, proof_of([&b"789"[..], b"01", b"789"]));
    }

    #[test]
    fn a_challenge_outside_the_file_or_too_large_is_refused() {
        assert_eq!(check(&challenge(&[[0, 9], [3, 3]]), 10), Ok(()));
        assert_eq!(check(&challenge(&[]), 0), Ok(()));
        assert!(check(&challenge(&[[0, 10]]), 10).is_err());
        assert!(check(&challenge(&[[5, 4]]), 10).is_err());
        assert!(check(&challenge(&[[0, u64::MAX]]), u64::MAX).is_err());
        assert!(check(&challenge(&[[0, 0]; 65]), 10).is_err());
        assert!(check(&challenge(&[[0, 1 << 20]]), 1 << 30).is_err());
    }
}
