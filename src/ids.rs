//! The names the server gives things: who owns a session, which session,
//! which merge attempt, and where bytes lie in the object store. Each is its
//! own type so that one can never be passed where another is meant.

use std::fmt;

/// Why a stored or received name is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {reason}")]
pub struct InvalidId {
    what: &'static str,
    reason: &'static str,
}

/// Longest owner id accepted, in bytes.
const MAX_OWNER_BYTES: usize = 255;

/// Who a session belongs to: the token's `sub`, or `anonymous` while
/// authentication is off.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerId(String);

impl OwnerId {
    /// The owner of every request while authentication is off.
    pub fn anonymous() -> Self {
        OwnerId("anonymous".to_owned())
    }

    /// Accepts 1 to 255 bytes with no control character.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidId> {
        let text = text.into();
        if text.is_empty() || text.len() > MAX_OWNER_BYTES {
            return Err(invalid("owner", "must be 1 to 255 bytes"));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("owner", "must not hold control characters"));
        }
        Ok(OwnerId(text))
    }

    /// The id as stored with the owner's sessions.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One upload session; it also names the folder of its staged chunks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// A fresh random id.
    pub fn generate() -> Self {
        UploadId(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts the hyphenated UUID form the server generates.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidId> {
        let text = text.into();
        match uuid::Uuid::try_parse(&text) {
            Ok(id) if id.hyphenated().to_string() == text => Ok(UploadId(text)),
            _ => Err(invalid("upload id", "must be a lower-case hyphenated UUID")),
        }
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One attempt at writing bytes (a merge, a chunk copy, a one-request
/// upload): unique, so that no write overwrites another and a lease holder
/// can prove it is the one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WriteToken(String);

impl WriteToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        WriteToken(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Accepts the 32 lower-case hex digits the server generates.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidId> {
        let text = text.into();
        let valid =
            text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(WriteToken(text))
        } else {
            Err(invalid("write token", "must be 32 lower-case hex digits"))
        }
    }

    /// The token as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an object lies in the object store, such as `files/<sha256>/<token>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Accepts a relative path of non-empty segments without `.` or `..`.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidId> {
        let text = text.into();
        let valid = !text.is_empty()
            && text
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
            && !text.chars().any(char::is_control);
        if valid {
            Ok(ObjectKey(text))
        } else {
            Err(invalid(
                "object key",
                "must be a relative path of named segments",
            ))
        }
    }

    /// The key as the store names it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid(what: &'static str, reason: &'static str) -> InvalidId {
    InvalidId { what, reason }
}

macro_rules! display_as_str {
    ($($name:ident),*) => {
        $(impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        })*
    };
}

display_as_str!(OwnerId, UploadId, WriteToken, ObjectKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_upload_id_parses_back() {
        let id = UploadId::generate();
        assert_eq!(UploadId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn an_upload_id_that_is_no_uuid_is_rejected() {
        assert!(UploadId::parse("../etc").is_err());
        assert!(UploadId::parse("A1B2C3D4-0000-4000-8000-000000000000").is_err());
    }

    #[test]
    fn a_generated_write_token_parses_back() {
        let token = WriteToken::generate();
        assert_eq!(WriteToken::parse(token.as_str()), Ok(token));
        assert!(WriteToken::parse("x".repeat(32)).is_err());
    }

    #[test]
    fn an_owner_with_a_control_character_or_no_name_is_rejected() {
        assert!(OwnerId::parse("").is_err());
        assert!(OwnerId::parse("a\nb").is_err());
        assert_eq!(OwnerId::parse("anonymous"), Ok(OwnerId::anonymous()));
    }

    #[test]
    fn an_object_key_that_climbs_out_of_the_store_is_rejected() {
        assert!(ObjectKey::parse("files/../etc").is_err());
        assert!(ObjectKey::parse("/files/a").is_err());
        assert!(ObjectKey::parse("files//a").is_err());
        assert!(ObjectKey::parse("chunks/ab/3.ff").is_ok());
    }
}
