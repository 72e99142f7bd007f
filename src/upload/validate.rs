//! Turning what clients send into domain values, naming the field at fault.

use ferry_proto::{ContentHash, CreateUpload, FileName, MediaType};

use super::error::UploadError;

/// A create request whose fields are known good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ValidCreate {
    pub sha256: ContentHash,
    pub size: u64,
    pub chunk_size: Option<u64>,
    pub filename: Option<FileName>,
    pub content_type: Option<MediaType>,
    pub proof: Option<ContentHash>,
}

/// Checks every field of a create request.
pub(super) fn create_request(request: CreateUpload) -> Result<ValidCreate, UploadError> {
    if request.chunk_size == Some(0) {
        return Err(invalid("chunk_size", "must be at least 1".to_owned()));
    }
    Ok(ValidCreate {
        sha256: sha256(&request.sha256)?,
        size: request.size,
        chunk_size: request.chunk_size,
        filename: request.filename.map(filename).transpose()?,
        content_type: request.content_type.map(content_type).transpose()?,
        proof: request
            .proof
            .map(|proof| ContentHash::parse(&proof).map_err(|e| invalid("proof", e.to_string())))
            .transpose()?,
    })
}

/// Parses the `sha256` field or path segment.
pub fn sha256(text: &str) -> Result<ContentHash, UploadError> {
    ContentHash::parse(text).map_err(|e| invalid("sha256", e.to_string()))
}

/// Parses the `filename` field.
pub fn filename(name: String) -> Result<FileName, UploadError> {
    FileName::parse(name).map_err(|e| invalid("filename", e.to_string()))
}

/// Parses the `content_type` field.
pub fn content_type(value: String) -> Result<MediaType, UploadError> {
    MediaType::parse(value).map_err(|e| invalid("content_type", e.to_string()))
}

fn invalid(field: &'static str, reason: String) -> UploadError {
    UploadError::InvalidField { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_at_fault(result: Result<impl std::fmt::Debug, UploadError>) -> &'static str {
        match result {
            Err(UploadError::InvalidField { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_zero_chunk_size_is_rejected_naming_the_field() {
        let request = CreateUpload {
            sha256: "0".repeat(64),
            size: 1,
            chunk_size: Some(0),
            filename: None,
            content_type: None,
            proof: None,
        };
        assert_eq!(field_at_fault(create_request(request)), "chunk_size");
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_at_fault(sha256("xyz")), "sha256");
        assert_eq!(field_at_fault(filename("a/b".into())), "filename");
        assert_eq!(field_at_fault(content_type("video".into())), "content_type");
    }
}
