//! The caller's files: listing them and letting one go.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::body::path_hash;
use super::{Owner, now};
use crate::error::ApiError;
use crate::upload::Uploads;

/// The query of a listing.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u64>,
}

/// `GET /v1/files`: the caller's files, newest first.
#[tracing::instrument(skip_all)]
pub(super) async fn list_files(
    owner: Owner,
    query: web::Query<ListQuery>,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = uploads
        .list_files(owner.id(), query.cursor.as_deref(), query.limit)
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `DELETE /v1/files/{sha256}`: the caller lets its file go.
#[tracing::instrument(skip_all, fields(sha256 = %path))]
pub(super) async fn delete_file(
    owner: Owner,
    path: web::Path<String>,
    uploads: web::Data<Uploads>,
) -> Result<HttpResponse, ApiError> {
    let sha256 = path_hash(&path)?;
    uploads
        .release_file(Some(owner.id()), &sha256, now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
