//! The IETF resumable uploads draft (interop versions 5 to 8) on the tus
//! URLs: creation with `Upload-Complete`, offset retrieval by `HEAD`,
//! appends by `PATCH`. ferry cannot send `104 Upload Resumption
//! Supported` (actix-web has no informational answers), which the draft
//! allows; clients then create with an empty `Upload-Complete: ?0`
//! request and append.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use ferry_proto::UploadStatus;

use super::super::Owner;
use super::super::body::content_length;
use super::super::incoming::Body;
use super::super::now;
use super::headers::Protocol;
use super::{
    agreeing, headers, location, media_type, note, required_offset, unsupported_media_type,
};
use crate::error::ApiError;
use crate::ids::UploadId;
use crate::upload::{AppendRequest, AppendedUpload, Concat, NewAppended, Uploads};

/// The media type of an append from interop version 6 on.
const PARTIAL_UPLOAD: &str = "application/partial-upload";

/// Creates an upload, with the first (or only) part of its bytes.
pub(super) async fn create(
    owner: &Owner,
    request: &HttpRequest,
    body: Body,
    uploads: &Uploads,
    version: u8,
) -> Result<HttpResponse, ApiError> {
    let complete = headers::complete(request)?.ok_or_else(|| {
        ApiError::invalid("upload-complete", "a creation must send Upload-Complete")
    })?;
    let metadata = headers::metadata(request)?;
    let body_length = content_length(request)?;
    let declared = headers::number(request, "upload-length")?;
    let content_type = match media_type(request)? {
        Some(PARTIAL_UPLOAD) | None => None,
        Some(other) => ferry_proto::MediaType::parse(other).ok(),
    };
    let new = NewAppended {
        length: declared.or(body_length.filter(|_| complete)),
        metadata: metadata.raw,
        filename: metadata.filename,
        content_type: metadata.content_type.or(content_type),
        claimed: agreeing(headers::repr_digest(request)?, metadata.sha256)?,
        concat: Concat::None,
    };
    let upload = uploads.create_appended(owner.id(), new, now()).await?;
    note(uploads, Protocol::Ietf(version), "created", &upload);
    let upload = if complete || body_length.is_none_or(|len| len > 0) {
        let append = AppendRequest {
            offset: 0,
            length: None,
            body_length,
            checksum: None,
            ends_here: complete,
        };
        let watch = body.watch();
        let upload = uploads
            .append_to(owner.id(), &upload.id, append, body, now())
            .await
            .map_err(|error| watch.explain(error))?;
        note(uploads, Protocol::Ietf(version), "appended", &upload);
        upload
    } else {
        upload
    };
    let mut answer = HttpResponse::Created();
    answer.insert_header((LOCATION, location(&upload.id)));
    describe(uploads, &upload, answer).await
}

/// Appends to an upload at `Upload-Offset`.
pub(super) async fn append(
    owner: &Owner,
    id: &UploadId,
    request: &HttpRequest,
    body: Body,
    uploads: &Uploads,
    version: u8,
) -> Result<HttpResponse, ApiError> {
    if version >= 6 && media_type(request)? != Some(PARTIAL_UPLOAD) {
        return Err(unsupported_media_type(PARTIAL_UPLOAD));
    }
    let complete = headers::complete(request)?.ok_or_else(|| {
        ApiError::invalid("upload-complete", "an append must send Upload-Complete")
    })?;
    let append = AppendRequest {
        offset: required_offset(request)?,
        length: headers::number(request, "upload-length")?,
        body_length: content_length(request)?,
        checksum: None,
        ends_here: complete,
    };
    let watch = body.watch();
    let upload = uploads
        .append_to(owner.id(), id, append, body, now())
        .await
        .map_err(|error| watch.explain(error))?;
    note(uploads, Protocol::Ietf(version), "appended", &upload);
    describe(uploads, &upload, HttpResponse::NoContent()).await
}

/// Adds what the draft's answers about an upload say: its offset, whether
/// it is complete, its length and limits; once published, where the file
/// is and its digest.
pub(super) async fn describe(
    uploads: &Uploads,
    upload: &AppendedUpload,
    mut answer: HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    answer.insert_header((CACHE_CONTROL, "no-store"));
    let complete = upload.status == UploadStatus::Complete;
    answer.insert_header(("Upload-Complete", if complete { "?1" } else { "?0" }));
    if let Some(length) = upload.length {
        answer.insert_header(("Upload-Length", length.to_string()));
    }
    answer.insert_header((
        "Upload-Limit",
        format!("max-size={}", uploads.appended_max_size()),
    ));
    Ok(super::describe(uploads, upload, answer).await?.finish())
}
