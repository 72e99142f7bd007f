//! One-request uploads of small files: raw `PUT` and multipart `POST`.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::body::{content_length, header_text, path_hash, utf8_target};
use super::form_request::RequestForm;
use super::incoming::Body;
use super::{Owner, resource};
use ferry_proto::{ContentHash, ErrorCode, File, FileName, MediaType};

use crate::error::ApiError;
use crate::upload::{self, Received, Stored, Uploads};
use crate::webhooks::WouldBe;

/// Media types that say nothing about a raw body's content.
const UNINFORMATIVE_TYPES: [&str; 2] = [
    "application/octet-stream",
    "application/x-www-form-urlencoded",
];

/// Room allowed for the multipart framing and text fields around a file.
const FORM_OVERHEAD: u64 = 64 << 10;

/// Registers the one-request upload routes and the listing of the
/// caller's files.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/files", "GET, POST")
            .route(web::get().to(super::owned_files::list_files))
            .route(web::post().to(post_file)),
    );
}

/// Optional naming of a raw one-request upload.
#[derive(Debug, Deserialize)]
pub(super) struct PutQuery {
    filename: Option<String>,
    content_type: Option<String>,
}

#[tracing::instrument(skip_all, fields(sha256 = %path))]
pub(super) async fn put_file(
    owner: Owner,
    path: web::Path<String>,
    query: web::Query<PutQuery>,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    utf8_target(&request)?;
    let sha256 = path_hash(&path)?;
    let query = query.into_inner();
    let filename = query.filename.map(upload::filename).transpose()?;
    let content_type = match query.content_type {
        Some(value) => Some(value),
        None => header_text(&request, &CONTENT_TYPE)?
            .filter(|value| !UNINFORMATIVE_TYPES.contains(&value.trim()))
            .map(str::to_owned),
    };
    let content_type = content_type.map(upload::content_type).transpose()?;
    let declared = content_length(&request)?;
    uploads.check_direct_length(declared)?;
    uploads
        .admit(&WouldBe {
            owner: owner.id(),
            sha256: Some(&sha256),
            size: declared,
            filename: filename.as_ref(),
            content_type: content_type.as_ref(),
            client_address: request.peer_addr().map(|peer| peer.ip()),
        })
        .await?;
    let existing = uploads
        .existing_file(
            owner.id(),
            &sha256,
            filename.as_ref(),
            content_type.as_ref(),
        )
        .await?;
    if let Some(file) = existing {
        return Ok(HttpResponse::Ok().json(file));
    }
    let watch = body.watch();
    let received = uploads
        .receive_direct(body)
        .await
        .map_err(|error| watch.explain(error))?;
    let (stored, file) = uploads
        .publish_direct(
            owner.id(),
            received,
            &sha256,
            filename.as_ref(),
            content_type,
        )
        .await?;
    Ok(answer(stored, file))
}

#[tracing::instrument(skip_all)]
async fn post_file(
    owner: Owner,
    request: HttpRequest,
    body: Body,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let declared = content_length(&request)?.map(|len| len.saturating_sub(FORM_OVERHEAD));
    uploads.check_direct_length(declared)?;
    let limit = uploads.direct_upload_max().saturating_add(FORM_OVERHEAD);
    let mut form = RequestForm::open(&request, body, limit, ErrorCode::FileTooLarge)?;
    let (received, fields) = match read_file_form(&uploads, &mut form).await {
        Ok(read) => read,
        Err((error, received)) => {
            if let Some(received) = received {
                uploads.discard_direct(&received).await;
            }
            return Err(error);
        }
    };
    let checked = fields.check();
    let (sha256, filename, content_type) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            uploads.discard_direct(&received).await;
            return Err(error);
        }
    };
    let asked = uploads
        .admit(&WouldBe {
            owner: owner.id(),
            sha256: Some(&sha256),
            size: Some(received.size()),
            filename: filename.as_ref(),
            content_type: content_type.as_ref(),
            client_address: request.peer_addr().map(|peer| peer.ip()),
        })
        .await;
    if let Err(refused) = asked {
        uploads.discard_direct(&received).await;
        return Err(refused.into());
    }
    let (stored, file) = uploads
        .publish_direct(
            owner.id(),
            received,
            &sha256,
            filename.as_ref(),
            content_type,
        )
        .await?;
    Ok(answer(stored, file))
}

/// The text fields of a one-request form.
#[derive(Debug, Default)]
struct FileFields {
    sha256: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
}

impl FileFields {
    fn check(self) -> Result<(ContentHash, Option<FileName>, Option<MediaType>), ApiError> {
        let sha256 = self
            .sha256
            .ok_or_else(|| ApiError::invalid("sha256", "the form has no sha256 field"))?;
        Ok((
            path_hash(sha256.trim())?,
            self.filename.map(upload::filename).transpose()?,
            self.content_type.map(upload::content_type).transpose()?,
        ))
    }
}

type FormFailure = (ApiError, Option<Received>);

async fn read_file_form(
    uploads: &Uploads,
    form: &mut RequestForm,
) -> Result<(Received, FileFields), FormFailure> {
    let mut received = None;
    let mut fields = FileFields::default();
    loop {
        let part = match form.next_part().await {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(error) => return Err((error, received)),
        };
        if part.name == "file" {
            if received.is_some() {
                return Err((
                    ApiError::invalid("file", "only one file part is allowed"),
                    received,
                ));
            }
            match uploads.receive_direct(form.content()).await {
                Ok(file) => received = Some(file),
                Err(error) => return Err((form.explain(error), None)),
            }
            continue;
        }
        let slot = match part.name.as_str() {
            "sha256" => &mut fields.sha256,
            "filename" => &mut fields.filename,
            "content_type" => &mut fields.content_type,
            _ => continue,
        };
        match form.read_field(&part.name).await {
            Ok(text) => *slot = Some(text),
            Err(error) => return Err((error, received)),
        }
    }
    match received {
        Some(received) => Ok((received, fields)),
        None => Err((
            ApiError::invalid("file", "the form has no part named file"),
            None,
        )),
    }
}

fn answer(stored: Stored, file: File) -> HttpResponse {
    match stored {
        Stored::New => HttpResponse::Created().json(file),
        Stored::Existing => HttpResponse::Ok().json(file),
    }
}
