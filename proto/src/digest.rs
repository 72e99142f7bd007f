//! The digest headers a client may send with a chunk: RFC 9530
//! `Content-Digest: sha-256=:<base64>:` and `X-Chunk-Sha256: <hex>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::ContentHash;

/// Header carrying an RFC 9530 digest of a chunk: `sha-256=:<base64>:`.
pub const CONTENT_DIGEST: &str = "content-digest";
/// Header carrying the hex SHA-256 of a chunk.
pub const X_CHUNK_SHA256: &str = "x-chunk-sha256";

/// Why a `Content-Digest` value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "content-digest must be name=:<base64>: members, sha-256=:<base64 of 32 bytes>: among them"
)]
pub struct InvalidDigest;

/// The `Content-Digest` value naming the SHA-256 `hash`.
pub fn content_digest(hash: &ContentHash) -> String {
    format!("sha-256=:{}:", STANDARD.encode(hash.as_bytes()))
}

/// Reads the SHA-256 out of a `Content-Digest` value such as
/// `sha-256=:<base64>:`; `Ok(None)` when it names only other algorithms.
/// Every member must be `name=:<base64>:` (RFC 9530's dictionary of byte
/// sequences, the name in either case), with spaces or tabs around `=` and
/// `,`; a `sha-256` member must hold exactly 32 bytes, and the first one
/// counts. The OpenAPI document's `ContentDigest` pattern is the same
/// grammar.
pub fn parse_content_digest(value: &str) -> Result<Option<ContentHash>, InvalidDigest> {
    let mut found = None;
    for member in value.split(',') {
        let (name, bytes) = member.split_once('=').ok_or(InvalidDigest)?;
        let name = name.trim_matches(OWS);
        let bytes = bytes
            .trim_matches(OWS)
            .strip_prefix(':')
            .and_then(|rest| rest.strip_suffix(':'))
            .ok_or(InvalidDigest)?;
        let well_formed =
            !name.is_empty() && name.bytes().all(is_name_byte) && bytes.bytes().all(is_base64_byte);
        if !well_formed {
            return Err(InvalidDigest);
        }
        if name.eq_ignore_ascii_case("sha-256") {
            let decoded = STANDARD.decode(bytes).map_err(|_| InvalidDigest)?;
            let decoded: [u8; 32] = decoded.try_into().map_err(|_| InvalidDigest)?;
            found.get_or_insert(ContentHash::from_digest(decoded));
        }
    }
    Ok(found)
}

/// The optional whitespace around a member's parts.
const OWS: [char; 2] = [' ', '\t'];

/// A byte of an algorithm's name.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"*_.-".contains(&byte)
}

/// A byte of a base64 byte sequence, padding included.
fn is_base64_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"+/=".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn empty() -> ContentHash {
        ContentHash::parse(EMPTY_HEX).unwrap()
    }

    #[test]
    fn the_content_digest_of_nothing_is_the_rfc_example() {
        assert_eq!(content_digest(&empty()), format!("sha-256=:{EMPTY_B64}:"));
    }

    #[test]
    fn a_content_digest_yields_the_sha256_it_names() {
        let parsed = parse_content_digest(&format!("sha-256=:{EMPTY_B64}:")).unwrap();
        assert_eq!(parsed, Some(empty()));
    }

    #[test]
    fn a_content_digest_listing_several_algorithms_uses_sha256() {
        let value = format!("sha-512=:AAAA:, SHA-256=:{EMPTY_B64}:");
        assert_eq!(parse_content_digest(&value).unwrap(), Some(empty()));
    }

    #[test]
    fn a_content_digest_without_sha256_asks_for_no_check() {
        assert_eq!(parse_content_digest("sha-512=:AAAA:").unwrap(), None);
    }

    #[test]
    fn a_content_digest_of_the_wrong_length_is_malformed() {
        assert_eq!(parse_content_digest("sha-256=:AAAA:"), Err(InvalidDigest));
        assert_eq!(parse_content_digest("sha-256=AAAA"), Err(InvalidDigest));
        assert_eq!(parse_content_digest("garbage"), Err(InvalidDigest));
    }

    #[test]
    fn every_member_must_be_a_named_byte_sequence() {
        let sha = format!("sha-256=:{EMPTY_B64}:");
        for value in [
            String::new(),
            format!("{sha},"),
            format!("sha-512=AAAA, {sha}"),
            format!("{sha}, sha-512=AAAA"),
            format!("sha 512=:AAAA:, {sha}"),
            format!("=:AAAA:, {sha}"),
            format!("sha-512=:AA AA:, {sha}"),
        ] {
            assert_eq!(parse_content_digest(&value), Err(InvalidDigest), "{value}");
        }
        let spaced = format!(" sha-512 = :AAAA: ,\tSHA-256\t=\t:{EMPTY_B64}: ");
        assert_eq!(parse_content_digest(&spaced), Ok(Some(empty())));
    }

    #[test]
    fn a_sha256_with_trailing_bits_set_is_malformed() {
        let loose = format!("sha-256=:{}F=:", &EMPTY_B64[..42]);
        assert_eq!(parse_content_digest(&loose), Err(InvalidDigest));
    }

    proptest::proptest! {
        #[test]
        fn any_digest_round_trips_through_its_header(bytes: [u8; 32]) {
            let hash = ContentHash::from_digest(bytes);
            proptest::prop_assert_eq!(parse_content_digest(&content_digest(&hash)), Ok(Some(hash)));
        }

        #[test]
        fn no_header_value_makes_the_parser_panic(value in "\\PC{0,80}") {
            let _ = parse_content_digest(&value);
        }

        #[test]
        fn no_value_of_any_bytes_makes_the_parser_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        ) {
            let _ = parse_content_digest(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn a_sha256_member_after_other_algorithms_round_trips(
            bytes: [u8; 32],
            others in proptest::collection::vec(
                ("[a-z][a-z0-9-]{0,9}", "[A-Za-z0-9+/=]{0,24}"),
                0..4,
            ),
        ) {
            proptest::prop_assume!(others.iter().all(|(name, _)| name != "sha-256"));
            let hash = ContentHash::from_digest(bytes);
            let mut members: Vec<String> =
                others.iter().map(|(name, value)| format!("{name}=:{value}:")).collect();
            members.push(content_digest(&hash));
            proptest::prop_assert_eq!(parse_content_digest(&members.join(", ")), Ok(Some(hash)));
        }
    }
}
