//! The headers of tus 1.0 and the IETF resumable uploads draft, parsed:
//! which protocol a request speaks, offsets and lengths, `Upload-Metadata`,
//! `Upload-Checksum`, `Upload-Complete` and `Repr-Digest`.

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use base64::Engine;
use base64::alphabet::STANDARD as ALPHABET;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ferry_proto::{ContentHash, ErrorCode, FileName, MediaType, parse_content_digest};

use super::super::body::header_text;
use crate::error::ApiError;
use crate::upload::{Checksum, ChecksumAlgorithm};

/// Base64 as tus clients write it: padded or not, its last bits as they come.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The tus version ferry speaks.
pub(super) const TUS_VERSION: &str = "1.0.0";

/// The IETF draft interop versions ferry answers: draft -03 (5), -04 and
/// -05 (6), and -06 to -11 (7 and 8), the latest.
pub(super) const INTEROP_VERSIONS: [u8; 4] = [5, 6, 7, 8];

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// tus 1.0.0.
    Tus,
    /// The IETF draft, at this interop version.
    Ietf(u8),
}

/// The protocol of `request`: the IETF draft when it names an interop
/// version ferry knows, tus when it names tus 1.0.0; anything else is
/// refused (412 with the versions ferry speaks).
pub(super) fn protocol(request: &HttpRequest) -> Result<Protocol, ApiError> {
    if let Some(text) = text(request, "upload-draft-interop-version")? {
        return match text.trim().parse::<u8>() {
            Ok(version) if INTEROP_VERSIONS.contains(&version) => Ok(Protocol::Ietf(version)),
            _ => Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                format!("interop versions {INTEROP_VERSIONS:?} are spoken here"),
            )),
        };
    }
    match text(request, "tus-resumable")? {
        Some(version) if version.trim() == TUS_VERSION => Ok(Protocol::Tus),
        _ => Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "Tus-Resumable: 1.0.0 (or Upload-Draft-Interop-Version) is required",
        )
        .with_header(
            HeaderName::from_static("tus-version"),
            TUS_VERSION.to_owned(),
        )),
    }
}

/// A header's text, if sent.
pub(super) fn text<'r>(
    request: &'r HttpRequest,
    name: &'static str,
) -> Result<Option<&'r str>, ApiError> {
    header_text(request, &HeaderName::from_static(name))
}

/// A header holding a whole number, if sent.
pub(super) fn number(request: &HttpRequest, name: &'static str) -> Result<Option<u64>, ApiError> {
    text(request, name)?
        .map(|text| {
            let text = text.trim();
            match text.parse::<u64>() {
                Ok(number) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(number),
                _ => Err(ApiError::invalid(name, "must be a whole number")),
            }
        })
        .transpose()
}

/// `Upload-Complete` (a structured boolean `?0` or `?1`), if sent.
pub(super) fn complete(request: &HttpRequest) -> Result<Option<bool>, ApiError> {
    text(request, "upload-complete")?
        .map(|text| match text.trim() {
            "?1" => Ok(true),
            "?0" => Ok(false),
            _ => Err(ApiError::invalid("upload-complete", "must be ?0 or ?1")),
        })
        .transpose()
}

/// `Upload-Checksum: <algorithm> <base64>`, if sent; an algorithm ferry
/// does not compute is refused (400).
pub(super) fn checksum(request: &HttpRequest) -> Result<Option<Checksum>, ApiError> {
    let Some(value) = text(request, "upload-checksum")? else {
        return Ok(None);
    };
    let (name, digest) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::invalid("upload-checksum", "must be <algorithm> <base64>"))?;
    let algorithm = ChecksumAlgorithm::parse(name).ok_or_else(|| {
        ApiError::invalid(
            "upload-checksum",
            "the algorithm is not one of sha1, md5, sha256",
        )
    })?;
    let digest = BASE64
        .decode(digest.trim())
        .map_err(|_| ApiError::invalid("upload-checksum", "the digest is not base64"))?;
    Ok(Some(Checksum { algorithm, digest }))
}

/// The whole file's SHA-256 in `Repr-Digest: sha-256=:<base64>:`, if sent.
pub(super) fn repr_digest(request: &HttpRequest) -> Result<Option<ContentHash>, ApiError> {
    text(request, "repr-digest")?
        .map(|value| {
            parse_content_digest(value)
                .map_err(|error| ApiError::invalid("repr-digest", error.to_string()))
        })
        .transpose()
        .map(Option::flatten)
}

/// What ferry reads from `Upload-Metadata`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Metadata {
    /// The header as sent, to echo on HEAD.
    pub(super) raw: Option<String>,
    /// `filename`, else `name`.
    pub(super) filename: Option<FileName>,
    /// `filetype`, else `type`.
    pub(super) content_type: Option<MediaType>,
    /// `sha256`, hex.
    pub(super) sha256: Option<ContentHash>,
}

/// Reads `Upload-Metadata`: comma-separated `key base64value` pairs (a
/// value may be absent). A value that is not base64, or a `sha256` that is
/// no hash, is refused (400); a file name ferry would not serve (a slash,
/// a control character) is left out, as are unknown keys but in the echo.
pub(super) fn metadata(request: &HttpRequest) -> Result<Metadata, ApiError> {
    let Some(raw) = text(request, "upload-metadata")? else {
        return Ok(Metadata::default());
    };
    let mut pairs = Vec::new();
    for pair in raw
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = match pair.split_once(' ') {
            Some((key, value)) => (key, Some(value.trim())),
            None => (pair, None),
        };
        if !is_metadata_key(key) {
            return Err(ApiError::invalid(
                "upload-metadata",
                "a key is visible ASCII without a comma, bracket, brace or backslash",
            ));
        }
        let value = value
            .map(|value| BASE64.decode(value))
            .transpose()
            .map_err(|_| {
                ApiError::invalid(
                    "upload-metadata",
                    format!("the value of {key} is not base64"),
                )
            })?
            .map(|bytes| String::from_utf8(bytes).unwrap_or_default());
        pairs.push((key.to_owned(), value));
    }
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            pairs
                .iter()
                .find(|(key, value)| key == name && value.as_deref().is_some_and(|v| !v.is_empty()))
                .and_then(|(_, value)| value.clone())
        })
    };
    let filename = find(&["filename", "name"]).and_then(|name| match FileName::parse(name) {
        Ok(name) => Some(name),
        Err(error) => {
            tracing::info!(%error, "a tus upload's filename is not one ferry serves; it goes without");
            None
        }
    });
    let content_type = find(&["filetype", "type"]).and_then(|value| MediaType::parse(value).ok());
    let sha256 = find(&["sha256"])
        .map(|hex| {
            ContentHash::parse(hex.trim())
                .map_err(|e| ApiError::invalid("upload-metadata", format!("sha256: {e}")))
        })
        .transpose()?;
    Ok(Metadata {
        raw: Some(raw.to_owned()),
        filename,
        content_type,
        sha256,
    })
}

/// Whether `key` is a metadata key ferry takes: visible ASCII without a
/// comma, a bracket, a brace or a backslash.
fn is_metadata_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b",[]{}\\".contains(&b))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn metadata_names_the_file_and_its_type() {
        let request = TestRequest::default()
            .insert_header((
                "upload-metadata",
                "filename Y2F0LmpwZw==,filetype aW1hZ2UvanBlZw==,empty",
            ))
            .to_http_request();
        let metadata = metadata(&request).unwrap();
        assert_eq!(metadata.filename.unwrap().as_str(), "cat.jpg");
        assert_eq!(metadata.content_type.unwrap().as_str(), "image/jpeg");
    }

    #[test]
    fn metadata_that_is_not_base64_is_refused() {
        let request = TestRequest::default()
            .insert_header(("upload-metadata", "filename not*base64"))
            .to_http_request();
        assert_eq!(
            metadata(&request).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn an_unknown_checksum_algorithm_is_refused() {
        let request = TestRequest::default()
            .insert_header(("upload-checksum", "crc32 AAAA"))
            .to_http_request();
        assert!(checksum(&request).is_err());
    }

    #[test]
    fn a_request_without_a_protocol_is_a_precondition_failure() {
        let request = TestRequest::default().to_http_request();
        assert_eq!(
            protocol(&request).unwrap_err().code(),
            ErrorCode::PreconditionFailed
        );
        let ietf = TestRequest::default()
            .insert_header(("upload-draft-interop-version", "6"))
            .to_http_request();
        assert_eq!(protocol(&ietf).unwrap(), Protocol::Ietf(6));
    }
}
