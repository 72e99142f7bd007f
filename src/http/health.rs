//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use ferry_proto::ErrorCode;
use serde_json::json;

use super::resource;
use crate::error::ApiError;
use crate::upload::Uploads;

/// Registers `/healthz`.
pub(super) fn configure_liveness(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", "GET").route(web::get().to(healthz)));
}

/// Registers `/readyz`.
pub(super) fn configure_readiness(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/readyz", "GET").route(web::get().to(readyz)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(uploads: web::Data<Uploads>) -> Result<HttpResponse, ApiError> {
    uploads
        .ready()
        .await
        .map_err(|not_ready| ApiError::new(ErrorCode::Unavailable, not_ready.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
