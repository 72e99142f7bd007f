//! Reading what requests carry: small bodies, lengths, hashes, indices.

use actix_web::HttpRequest;
use actix_web::http::header::{CONTENT_LENGTH, HeaderName};
use actix_web::web::{Bytes, BytesMut};
use futures::StreamExt;
use percent_encoding::percent_decode_str;

use ferry_proto::ContentHash;

use super::incoming::{Body, BodyError, stalled};
use crate::error::ApiError;

/// Reads a body that must be small (JSON), refusing more than `limit`.
pub(super) async fn read_small(mut incoming: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(piece) = incoming.next().await {
        let piece = piece.map_err(|error| match error {
            BodyError::Stalled(idle) => stalled(idle),
            error => ApiError::invalid("body", error.to_string()),
        })?;
        if body.len() + piece.len() > limit {
            return Err(ApiError::invalid(
                "body",
                format!("the body must be at most {limit} bytes"),
            ));
        }
        body.extend_from_slice(&piece);
    }
    Ok(body.freeze())
}

/// The declared `Content-Length`, if any.
pub(super) fn content_length(request: &HttpRequest) -> Result<Option<u64>, ApiError> {
    header_text(request, &CONTENT_LENGTH)?
        .map(|text| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid("content-length", "must be a whole number"))
        })
        .transpose()
}

/// A header's value as text; a value that is not visible ASCII is refused.
pub(super) fn header_text<'r>(
    request: &'r HttpRequest,
    name: &HeaderName,
) -> Result<Option<&'r str>, ApiError> {
    request
        .headers()
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid(name.as_str(), "must be visible ASCII"))
        })
        .transpose()
}

/// The `{sha256}` path segment.
pub(super) fn path_hash(text: &str) -> Result<ContentHash, ApiError> {
    Ok(crate::upload::sha256(text)?)
}

/// Refuses a path or query that percent-decodes to bytes that are not
/// UTF-8: the extractors would read them as U+FFFD and take a name the
/// client never sent.
pub(super) fn utf8_target(request: &HttpRequest) -> Result<(), ApiError> {
    let uri = request.uri();
    let decodes = |text: &str| percent_decode_str(text).decode_utf8().is_ok();
    if !decodes(uri.path()) {
        return Err(ApiError::invalid(
            "path",
            "the path must be UTF-8 once percent-decoded",
        ));
    }
    if !uri.query().is_none_or(decodes) {
        return Err(ApiError::invalid(
            "query",
            "the query must be UTF-8 once percent-decoded",
        ));
    }
    Ok(())
}
