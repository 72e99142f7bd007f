//! Standard resumable uploads whose hash is learned at the end: tus 1.0.0
//! at `POST /v1/tus` (uploads at `/v1/tus/{id}`), and the IETF resumable
//! uploads draft on the same URLs, chosen by `Upload-Draft-Interop-Version`.
//! Every answer carries `Tus-Resumable: 1.0.0`; errors are ferry's JSON.

use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, LOCATION};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, ErrorCode, UploadStatus};

use super::body::content_length;
use super::incoming::Body;
use super::{Owner, now, resource};
use crate::error::ApiError;
use crate::ids::UploadId;
use crate::upload::{AppendRequest, AppendedUpload, Concat, NewAppended, UploadError, Uploads};

mod headers;
mod ietf;

use headers::{Protocol, TUS_VERSION};

/// The tus extensions ferry implements.
const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation";

/// The media type of a tus append.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// Registers the tus and IETF routes.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let tus_resumable = || DefaultHeaders::new().add(("Tus-Resumable", TUS_VERSION));
    cfg.service(
        resource("/v1/tus", "OPTIONS, POST")
            .wrap(tus_resumable())
            .route(web::method(Method::OPTIONS).to(options))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v1/tus/{id}", "HEAD, PATCH, DELETE, POST")
            .wrap(tus_resumable())
            .route(web::head().to(head))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete))
            .route(web::post().to(overridden)),
    );
}

/// What the server offers: tus versions, extensions, limits.
async fn options(uploads: web::Data<Uploads>) -> HttpResponse {
    let max = uploads.appended_max_size();
    HttpResponse::NoContent()
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", EXTENSIONS))
        .insert_header(("Tus-Max-Size", max.to_string()))
        .insert_header(("Tus-Checksum-Algorithm", "sha1,md5,sha256"))
        .insert_header(("Accept-Patch", "application/partial-upload"))
        .insert_header(("Upload-Limit", format!("max-size={max}")))
        .finish()
}

#[tracing::instrument(skip_all)]
async fn create(
    owner: Owner,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let protocol = headers::protocol(&request)?;
    if let Protocol::Ietf(version) = protocol {
        return ietf::create(&owner, &request, body, &uploads, version).await;
    }
    let metadata = headers::metadata(&request)?;
    let template = NewAppended {
        length: None,
        metadata: metadata.raw.clone(),
        filename: metadata.filename.clone(),
        content_type: metadata.content_type.clone(),
        claimed: agreeing(headers::repr_digest(&request)?, metadata.sha256)?,
        concat: Concat::None,
    };
    let concat = headers::text(&request, "upload-concat")?.map(str::trim);
    if let Some(parts) = concat.and_then(|concat| concat.strip_prefix("final;")) {
        let parts = final_parts(parts)?;
        let upload = uploads
            .concatenate(owner.id(), &parts, template, now())
            .await?;
        note(&uploads, protocol, "created", &upload);
        return created(&uploads, &upload).await;
    }
    let kind = match concat {
        None => Concat::None,
        Some("partial") => Concat::Partial,
        Some(_) => {
            return Err(ApiError::invalid(
                "upload-concat",
                "must be partial or final;<urls>",
            ));
        }
    };
    let length = headers::number(&request, "upload-length")?;
    let deferred = headers::text(&request, "upload-defer-length")?.map(str::trim);
    match (length, deferred) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::invalid(
                "upload-length",
                "send Upload-Length or Upload-Defer-Length: 1, not both",
            ));
        }
        (None, Some(value)) if value != "1" => {
            return Err(ApiError::invalid("upload-defer-length", "must be 1"));
        }
        _ => {}
    }
    let with_upload = media_type(&request)? == Some(OFFSET_OCTET_STREAM);
    let body_length = content_length(&request)?;
    if !with_upload && body_length.is_some_and(|len| len > 0) {
        return Err(unsupported_media_type(OFFSET_OCTET_STREAM));
    }
    let new = NewAppended {
        length,
        concat: kind,
        ..template
    };
    let upload = uploads.create_appended(owner.id(), new, now()).await?;
    note(&uploads, protocol, "created", &upload);
    if !with_upload && length != Some(0) {
        return created(&uploads, &upload).await;
    }
    let append = AppendRequest {
        offset: 0,
        length: None,
        body_length,
        checksum: headers::checksum(&request)?,
        ends_here: false,
    };
    let watch = body.watch();
    let upload = uploads
        .append_to(owner.id(), &upload.id, append, body, now())
        .await
        .map_err(|error| watch.explain(error))?;
    note(&uploads, protocol, "appended", &upload);
    created(&uploads, &upload).await
}

#[tracing::instrument(skip_all, fields(id = %path))]
async fn head(
    owner: Owner,
    path: web::Path<String>,
    request: HttpRequest,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let protocol = headers::protocol(&request)?;
    let upload = uploads
        .appended(owner.id(), &upload_id(&path)?, now())
        .await?;
    if let Protocol::Ietf(_) = protocol {
        return ietf::describe(&uploads, &upload, HttpResponse::NoContent()).await;
    }
    let mut answer = HttpResponse::Ok();
    answer.insert_header((CACHE_CONTROL, "no-store"));
    match upload.length {
        Some(length) => answer.insert_header(("Upload-Length", length.to_string())),
        None => answer.insert_header(("Upload-Defer-Length", "1")),
    };
    if let Some(metadata) = &upload.metadata {
        answer.insert_header(("Upload-Metadata", metadata.as_str()));
    }
    match upload.concat {
        Concat::Partial => {
            answer.insert_header(("Upload-Concat", "partial"));
        }
        Concat::Final => {
            answer.insert_header(("Upload-Concat", "final"));
        }
        Concat::None => {}
    }
    Ok(describe(&uploads, &upload, answer).await?.finish())
}

#[tracing::instrument(skip_all, fields(id = %path))]
async fn patch(
    owner: Owner,
    path: web::Path<String>,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let id = upload_id(&path)?;
    let protocol = headers::protocol(&request)?;
    if let Protocol::Ietf(version) = protocol {
        return ietf::append(&owner, &id, &request, body, &uploads, version).await;
    }
    if media_type(&request)? != Some(OFFSET_OCTET_STREAM) {
        return Err(unsupported_media_type(OFFSET_OCTET_STREAM));
    }
    let append = AppendRequest {
        offset: required_offset(&request)?,
        length: headers::number(&request, "upload-length")?,
        body_length: content_length(&request)?,
        checksum: headers::checksum(&request)?,
        ends_here: false,
    };
    let watch = body.watch();
    let upload = uploads
        .append_to(owner.id(), &id, append, body, now())
        .await
        .map_err(|error| watch.explain(error))?;
    note(&uploads, protocol, "appended", &upload);
    Ok(describe(&uploads, &upload, HttpResponse::NoContent())
        .await?
        .finish())
}

#[tracing::instrument(skip_all, fields(id = %path))]
async fn delete(
    owner: Owner,
    path: web::Path<String>,
    request: HttpRequest,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    headers::protocol(&request)?;
    uploads
        .terminate_appended(owner.id(), &upload_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST` with `X-HTTP-Method-Override`, for clients that cannot send
/// `PATCH` or `DELETE`.
async fn overridden(
    owner: Owner,
    path: web::Path<String>,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let method = headers::text(&request, "x-http-method-override")?.map(str::trim);
    match method.map(str::to_ascii_uppercase).as_deref() {
        Some("PATCH") => patch(owner, path, request, body, uploads).await,
        Some("DELETE") => delete(owner, path, request, uploads).await,
        Some("HEAD") => head(owner, path, request, uploads).await,
        _ => Err(ApiError::invalid(
            "x-http-method-override",
            "POST on an upload needs X-HTTP-Method-Override: PATCH, DELETE or HEAD",
        )),
    }
}

/// Counts `event` of `upload` over `protocol`, and its completion if it
/// completed.
fn note(uploads: &Uploads, protocol: Protocol, event: &'static str, upload: &AppendedUpload) {
    let name = match protocol {
        Protocol::Tus => "tus",
        Protocol::Ietf(_) => "ietf",
    };
    uploads.metrics().appended_upload(name, event);
    if upload.status == UploadStatus::Complete && upload.concat != Concat::Partial {
        uploads.metrics().appended_upload(name, "completed");
    }
}

/// The 201 of a creation: where the upload is, and how far it got.
async fn created(uploads: &Uploads, upload: &AppendedUpload) -> Result<HttpResponse, ApiError> {
    let mut answer = HttpResponse::Created();
    answer.insert_header((LOCATION, location(&upload.id)));
    Ok(describe(uploads, upload, answer).await?.finish())
}

/// Adds what every tus answer about an upload says: its offset, its
/// expiry while it is open, and once published where the file is and
/// its digest.
async fn describe(
    uploads: &Uploads,
    upload: &AppendedUpload,
    mut answer: HttpResponseBuilder,
) -> Result<HttpResponseBuilder, ApiError> {
    answer.insert_header(("Upload-Offset", upload.offset.to_string()));
    if upload.status == UploadStatus::Uploading {
        answer.insert_header(("Upload-Expires", http_date(upload.expires_at)));
    }
    if let Some(file) = uploads.appended_file(upload).await? {
        let sha256 = ContentHash::parse(&file.sha256)
            .map_err(|_| ApiError::new(ErrorCode::InternalError, "a stored hash does not read"))?;
        answer.insert_header(("Repr-Digest", repr_digest(&sha256)));
        answer.insert_header(("Content-Location", file.url));
    }
    Ok(answer)
}

/// `Repr-Digest` of a file: its SHA-256 as RFC 9530 writes it.
fn repr_digest(sha256: &ContentHash) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(sha256.as_bytes());
    format!("sha-256=:{encoded}:")
}

fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// The path of an upload, as `Location` names it.
fn location(id: &UploadId) -> String {
    format!("/v1/tus/{id}")
}

/// The `{id}` path segment; what is no id of ferry's is no upload.
fn upload_id(text: &str) -> Result<UploadId, ApiError> {
    UploadId::parse(text).map_err(|_| UploadError::UploadNotFound.into())
}

/// The ids of the partial uploads a final upload joins, from their URLs.
fn final_parts(text: &str) -> Result<Vec<UploadId>, ApiError> {
    let parts: Vec<UploadId> = text
        .split_whitespace()
        .map(|url| {
            let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            UploadId::parse(id).map_err(|_| {
                ApiError::invalid(
                    "upload-concat",
                    format!("{url} is no upload of this server"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if parts.is_empty() {
        return Err(ApiError::invalid(
            "upload-concat",
            "a final upload joins at least one partial upload",
        ));
    }
    Ok(parts)
}

/// `Upload-Offset`, which an append must send.
fn required_offset(request: &HttpRequest) -> Result<u64, ApiError> {
    headers::number(request, "upload-offset")?
        .ok_or_else(|| ApiError::invalid("upload-offset", "an append must say where it starts"))
}

/// The request's media type without parameters, in lower case.
fn media_type(request: &HttpRequest) -> Result<Option<&str>, ApiError> {
    Ok(super::body::header_text(request, &CONTENT_TYPE)?
        .map(|value| value.split(';').next().unwrap_or("").trim()))
}

fn unsupported_media_type(wanted: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!("the body must be {wanted}"),
    )
    .with_header(HeaderName::from_static("accept-patch"), wanted.to_owned())
}

/// One whole-file digest out of `Repr-Digest` and the `sha256` metadata,
/// refusing two that disagree.
fn agreeing(
    header: Option<ContentHash>,
    metadata: Option<ContentHash>,
) -> Result<Option<ContentHash>, ApiError> {
    match (header, metadata) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(
            "repr-digest",
            "Repr-Digest and the sha256 metadata disagree",
        )),
        (header, metadata) => Ok(header.or(metadata)),
    }
}
