//! The key of every upload and file: a SHA-256 written as 64 hex digits.

use std::fmt;

/// A SHA-256 digest, parsed from hex in either case and shown in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

/// Why a string is not a content hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sha256 must be 64 hexadecimal digits")]
pub struct InvalidContentHash;

impl ContentHash {
    /// Parses 64 hex digits, upper or lower case.
    pub fn parse(text: &str) -> Result<Self, InvalidContentHash> {
        if text.len() != 64 {
            return Err(InvalidContentHash);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidContentHash)?;
        Ok(ContentHash(bytes))
    }

    /// Wraps a digest computed by the server.
    pub fn from_digest(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as answered on the wire and stored in the database.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for ContentHash {
    type Err = InvalidContentHash;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ContentHash::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn a_hash_in_upper_case_is_answered_in_lower_case() {
        let hash = ContentHash::parse(&EMPTY.to_uppercase()).unwrap();
        assert_eq!(hash.to_string(), EMPTY);
    }

    #[test]
    fn a_hash_with_63_digits_is_rejected() {
        assert_eq!(ContentHash::parse(&EMPTY[..63]), Err(InvalidContentHash));
    }

    #[test]
    fn a_hash_with_a_non_hex_digit_is_rejected() {
        let bad = format!("{}g", &EMPTY[..63]);
        assert_eq!(ContentHash::parse(&bad), Err(InvalidContentHash));
    }

    #[test]
    fn a_hash_of_multibyte_characters_is_rejected_without_panicking() {
        assert_eq!(ContentHash::parse(&"é".repeat(32)), Err(InvalidContentHash));
    }
}
