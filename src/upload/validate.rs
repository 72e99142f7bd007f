//! Checks on what clients send, turning wire fields into domain values.

use super::content_hash::ContentHash;
use super::error::UploadError;
use crate::api::CreateUpload;

/// Longest filename accepted, in bytes.
const MAX_FILENAME_BYTES: usize = 255;
/// Longest media type accepted, in bytes.
const MAX_CONTENT_TYPE_BYTES: usize = 255;

/// A create request whose fields are known good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ValidCreate {
    pub sha256: ContentHash,
    pub size: u64,
    pub chunk_size: Option<u64>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// Checks every field of a create request.
pub(super) fn create_request(request: CreateUpload) -> Result<ValidCreate, UploadError> {
    if request.chunk_size == Some(0) {
        return Err(invalid("chunk_size", "must be at least 1"));
    }
    Ok(ValidCreate {
        sha256: sha256(&request.sha256)?,
        size: request.size,
        chunk_size: request.chunk_size,
        filename: request.filename.map(filename).transpose()?,
        content_type: request.content_type.map(content_type).transpose()?,
    })
}

/// Parses the `sha256` field or path segment.
pub fn sha256(text: &str) -> Result<ContentHash, UploadError> {
    ContentHash::parse(text).map_err(|e| invalid("sha256", &e.to_string()))
}

/// Accepts a filename that can stand as one URL path segment and one header value.
pub fn filename(name: String) -> Result<String, UploadError> {
    if name.is_empty() || name.len() > MAX_FILENAME_BYTES {
        return Err(invalid("filename", "must be 1 to 255 bytes"));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(invalid(
            "filename",
            "must not be . or .. nor hold slashes or control characters",
        ));
    }
    Ok(name)
}

/// Accepts a syntactically valid media type such as `video/mp4`.
pub fn content_type(value: String) -> Result<String, UploadError> {
    let valid = value.len() <= MAX_CONTENT_TYPE_BYTES
        && value.is_ascii()
        && !value.chars().any(|c| c.is_ascii_control())
        && value.parse::<mime_guess::mime::Mime>().is_ok();
    if valid {
        Ok(value)
    } else {
        Err(invalid(
            "content_type",
            "must be a media type such as video/mp4",
        ))
    }
}

fn invalid(field: &'static str, reason: &str) -> UploadError {
    UploadError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_filename_with_spaces_is_accepted() {
        assert!(filename("课程 第1讲.mp4".into()).is_ok());
    }

    #[test]
    fn a_filename_with_a_slash_is_rejected() {
        assert!(filename("../etc/passwd".into()).is_err());
    }

    #[test]
    fn a_filename_with_a_newline_is_rejected() {
        assert!(filename("a\r\nSet-Cookie: x".into()).is_err());
    }

    #[test]
    fn an_empty_filename_is_rejected() {
        assert!(filename(String::new()).is_err());
    }

    #[test]
    fn a_media_type_with_parameters_is_accepted() {
        assert!(content_type("text/plain; charset=utf-8".into()).is_ok());
    }

    #[test]
    fn a_word_that_is_no_media_type_is_rejected() {
        assert!(content_type("video".into()).is_err());
        assert!(content_type("video/mp4\r\nX: y".into()).is_err());
    }

    #[test]
    fn a_zero_chunk_size_is_rejected_naming_the_field() {
        let request = CreateUpload {
            sha256: "0".repeat(64),
            size: 1,
            chunk_size: Some(0),
            filename: None,
            content_type: None,
        };
        match create_request(request) {
            Err(UploadError::InvalidField { field, .. }) => assert_eq!(field, "chunk_size"),
            other => panic!("expected an invalid chunk_size, got {other:?}"),
        }
    }
}
