//! Receiving chunks: raw `PUT`, and multipart `POST` as `wx.uploadFile` sends.

use actix_multipart::{Field, Multipart};
use actix_web::http::header::HeaderName;
use actix_web::{HttpRequest, HttpResponse, web};
use ferry_proto::{CONTENT_DIGEST, ContentHash, ErrorCode, X_CHUNK_SHA256, parse_content_digest};
use futures::{StreamExt, TryStreamExt};

use super::body::{content_length, header_text, path_hash};
use super::{Owner, now, resource};
use crate::error::ApiError;
use crate::upload::{ChunkTarget, StagedChunk, UploadError, Uploads};

/// Room allowed for the multipart framing and small fields around a chunk.
const MULTIPART_OVERHEAD: u64 = 64 << 10;
/// Largest text form field read.
const FIELD_LIMIT: usize = 1 << 10;

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
    payload: web::Payload,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let (sha256, index) = (path_hash(&path.0)?, chunk_index(&path.1)?);
    let digest = header_digest(&request)?;
    let target = uploads
        .chunk_target(owner.id(), &sha256, index, content_length(&request)?, now())
        .await?;
    let staged = uploads.stage_chunk(&target, payload).await?;
    let receipt = uploads.accept_chunk(target, staged, digest, now()).await?;
    Ok(HttpResponse::Ok().json(receipt))
}

#[tracing::instrument(skip_all, fields(sha256 = %path.0, index = %path.1))]
async fn post_chunk(
    owner: Owner,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let (sha256, index) = (path_hash(&path.0)?, chunk_index(&path.1)?);
    let header = header_digest(&request)?;
    let target = uploads
        .chunk_target(owner.id(), &sha256, index, None, now())
        .await?;
    if let Some(len) = content_length(&request)? {
        let limit = target.chunk_size() + MULTIPART_OVERHEAD;
        if len > limit {
            return Err(ApiError::new(
                ErrorCode::ChunkTooLarge,
                format!("a chunk form is at most {limit} bytes"),
            ));
        }
    }
    let form = multipart(&request, payload)?;
    let (staged, field_digest) = match read_chunk_form(&uploads, &target, form).await {
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
    mut form: Multipart,
) -> Result<(StagedChunk, Option<ContentHash>), FormFailure> {
    let mut staged: Option<StagedChunk> = None;
    let mut digest = None;
    loop {
        let field = match form.try_next().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err((form_error(error), staged)),
        };
        match field.name().unwrap_or_default() {
            "file" if staged.is_some() => {
                return Err((
                    ApiError::invalid("file", "only one file part is allowed"),
                    staged,
                ));
            }
            "file" => match uploads.stage_chunk(target, field).await {
                Ok(chunk) => staged = Some(chunk),
                Err(error) => return Err((error.into(), None)),
            },
            "sha256" => {
                let parsed = read_field(field)
                    .await
                    .and_then(|text| hex_digest("sha256", &text));
                match parsed {
                    Ok(parsed) => digest = Some(parsed),
                    Err(error) => return Err((error, staged)),
                }
            }
            _ => {
                if let Err(error) = drain_field(field).await {
                    return Err((error, staged));
                }
            }
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

/// Opens a multipart/form-data body, refusing any other media type.
pub(super) fn multipart(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Multipart, ApiError> {
    let is_form = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_form {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be multipart/form-data",
        ));
    }
    Ok(Multipart::new(request.headers(), payload))
}

/// Reads a small text form field.
pub(super) async fn read_field(mut field: Field) -> Result<String, ApiError> {
    let name = field.name().unwrap_or("field").to_owned();
    let mut text = Vec::new();
    while let Some(piece) = field.next().await {
        let piece = piece.map_err(form_error)?;
        if text.len() + piece.len() > FIELD_LIMIT {
            return Err(ApiError::invalid(&name, format!("{name} is too long")));
        }
        text.extend_from_slice(&piece);
    }
    String::from_utf8(text).map_err(|_| ApiError::invalid(&name, format!("{name} must be UTF-8")))
}

/// Reads past a form field that is not used, keeping none of it.
pub(super) async fn drain_field(mut field: Field) -> Result<(), ApiError> {
    while let Some(piece) = field.next().await {
        piece.map_err(form_error)?;
    }
    Ok(())
}

/// A malformed multipart body.
pub(super) fn form_error(error: actix_multipart::MultipartError) -> ApiError {
    ApiError::invalid("body", format!("malformed multipart body: {error}"))
}

fn chunk_index(text: &str) -> Result<u64, ApiError> {
    if let Ok(index) = text.parse::<u64>() {
        return Ok(index);
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            ErrorCode::ChunkIndexOutOfRange,
            format!("chunk index {text} is not within this upload"),
        ));
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
