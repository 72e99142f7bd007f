//! Receiving chunks: raw `PUT`, and multipart `POST` as `wx.uploadFile` sends.

use actix_web::http::header::HeaderName;
use actix_web::{HttpRequest, HttpResponse, web};
use ferry_proto::{CONTENT_DIGEST, ContentHash, ErrorCode, X_CHUNK_SHA256, parse_content_digest};

use super::body::{content_length, header_text, path_hash};
use super::form_request::RequestForm;
use super::incoming::Body;
use super::{Owner, now, resource};
use crate::error::ApiError;
use crate::upload::{ChunkTarget, StagedChunk, UploadError, Uploads};

/// Room allowed for the multipart framing and small fields around a chunk.
const MULTIPART_OVERHEAD: u64 = 64 << 10;

/// Registers the chunk routes.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/uploads/{sha256}/chunks/{index}", "PUT, POST")
            .route(web::put().to(put_chunk))
            .route(web::post().to(post_chunk)),
    );
}

#[tracing::instrument(skip_all, fields(sha256 = %path.0, index = %path.1))]
async fn put_chunk(
    owner: Owner,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let (sha256, index) = (path_hash(&path.0)?, chunk_index(&path.1)?);
    let digest = header_digest(&request)?;
    let target = uploads
        .chunk_target(owner.id(), &sha256, index, content_length(&request)?, now())
        .await?;
    let watch = body.watch();
    let staged = uploads
        .stage_chunk(&target, body)
        .await
        .map_err(|error| watch.explain(error))?;
    let receipt = uploads.accept_chunk(target, staged, digest, now()).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

#[tracing::instrument(skip_all, fields(sha256 = %path.0, index = %path.1))]
async fn post_chunk(
    owner: Owner,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let (sha256, index) = (path_hash(&path.0)?, chunk_index(&path.1)?);
    let header = header_digest(&request)?;
    let target = uploads
        .chunk_target(owner.id(), &sha256, index, None, now())
        .await?;
    let limit = target.chunk_size() + MULTIPART_OVERHEAD;
    if content_length(&request)?.is_some_and(|len| len > limit) {
        return Err(ApiError::new(
            ErrorCode::ChunkTooLarge,
            format!("a chunk form is at most {limit} bytes"),
        ));
    }
    let mut form = RequestForm::open(&request, body, limit, ErrorCode::ChunkTooLarge)?;
    let (staged, field_digest) = match read_chunk_form(&uploads, &target, &mut form).await {
        Ok(read) => read,
        Err((error, staged)) => {
            if let Some(staged) = staged {
                uploads.discard(staged).await;
            }
            return Err(error);
        }
    };
    let digest = match agreeing(header, field_digest) {
        Ok(digest) => digest,
        Err(error) => {
            uploads.discard(staged).await;
            return Err(error);
        }
    };
    let receipt = uploads.accept_chunk(target, staged, digest, now()).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

type FormFailure = (ApiError, Option<StagedChunk>);

/// Streams the `file` part to the store and collects the `sha256` field.
async fn read_chunk_form(
    uploads: &Uploads,
    target: &ChunkTarget,
    form: &mut RequestForm,
) -> Result<(StagedChunk, Option<ContentHash>), FormFailure> {
    let mut staged: Option<StagedChunk> = None;
    let mut digest = None;
    loop {
        let part = match form.next_part().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(error) => return Err((error, staged)),
        };
        match part.name.as_str() {
            "file" if staged.is_some() => {
                return Err((
                    ApiError::invalid("file", "only one file part is allowed"),
                    staged,
                ));
            }
            "file" => match uploads.stage_chunk(target, form.content()).await {
                Ok(chunk) => staged = Some(chunk),
                Err(error) => return Err((form.explain(error), None)),
            },
            "sha256" => {
                let parsed = form
                    .read_field("sha256")
                    .await
                    .and_then(|text| hex_digest("sha256", &text));
                match parsed {
                    Ok(parsed) => digest = Some(parsed),
                    Err(error) => return Err((error, staged)),
                }
            }
            _ => {}
        }
    }
    match staged {
        Some(staged) => Ok((staged, digest)),
        None => Err((
            ApiError::invalid("file", "the form has no part named file"),
            None,
        )),
    }
}

/// The `{index}` path segment: decimal digits only. A sign is refused, as
/// `+1` would otherwise pass as 1; a negative or too large number is outside
/// the file.
fn chunk_index(text: &str) -> Result<u64, ApiError> {
    let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let out_of_range = || {
        ApiError::new(
            ErrorCode::ChunkIndexOutOfRange,
            format!("chunk index {text} is not within this upload"),
        )
    };
    if all_digits(text) {
        return text.parse::<u64>().map_err(|_| out_of_range());
    }
    if text.strip_prefix('-').is_some_and(all_digits) {
        return Err(out_of_range());
    }
    Err(ApiError::invalid(
        "index",
        "the chunk index must be a whole number",
    ))
}

/// The digest sent in `Content-Digest` or `X-Chunk-Sha256`, if any; the
/// two must agree when both are sent.
fn header_digest(request: &HttpRequest) -> Result<Option<ContentHash>, ApiError> {
    let content_digest = header_text(request, &HeaderName::from_static(CONTENT_DIGEST))?
        .map(|value| {
            parse_content_digest(value)
                .map_err(|error| ApiError::invalid(CONTENT_DIGEST, error.to_string()))
        })
        .transpose()?
        .flatten();
    let hex = header_text(request, &HeaderName::from_static(X_CHUNK_SHA256))?
        .map(|value| hex_digest(X_CHUNK_SHA256, value))
        .transpose()?;
    agreeing(content_digest, hex)
}

/// A hex SHA-256 sent in `X-Chunk-Sha256` or the `sha256` form field.
fn hex_digest(field: &str, value: &str) -> Result<ContentHash, ApiError> {
    ContentHash::parse(value.trim()).map_err(|error| ApiError::invalid(field, error.to_string()))
}

/// One digest out of two optional ones, refusing two that disagree.
fn agreeing(
    first: Option<ContentHash>,
    second: Option<ContentHash>,
) -> Result<Option<ContentHash>, ApiError> {
    match (first, second) {
        (Some(a), Some(b)) if a != b => Err(UploadError::DigestMismatch.into()),
        (first, second) => Ok(first.or(second)),
    }
}
