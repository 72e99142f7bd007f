//! The HTTP layer: thin actix handlers that parse, call the upload domain
//! and answer. Each area registers its own routes.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use ferry_proto::ErrorCode;

use crate::error::ApiError;

mod access_log;
mod body;
mod body_gate;
mod chunks;
mod connection;
mod cors;
mod docs;
mod downloads;
mod files;
mod form;
mod form_request;
mod framing;
mod health;
mod incoming;
mod json_object;
mod metrics;
mod normalize_path;
mod owned_files;
mod owner;
mod page;
mod per_address;
mod request_head;
mod request_id;
mod tus;
mod unread_body;
mod uploads;

pub use access_log::{AccessBody, log_access};
pub use body_gate::BodyGate;
pub use connection::{ConnectionLimits, Watched};
pub use cors::cors;
pub use downloads::DownloadGate;
pub use incoming::BodyTimeout;
pub use metrics::measure;
pub use normalize_path::normalize_path;
pub use owner::{Gatekeeper, Owner};
pub use page::configure as configure_page;
pub use per_address::{Admitted, PerAddress};
pub use request_head::{MAX_HEAD_BYTES, MAX_HEADER_BYTES, guard_head};
pub use request_id::{REQUEST_ID, tag_request};
pub use unread_body::{Holding, close_unread_body};

/// Registers every route of the API, without the probes and the metrics.
/// Downloads come first: the router tries routes in order, and a CDN asks
/// for files far more often than anything else.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/files/{sha256}", "GET, HEAD, PUT, DELETE")
            .route(web::get().to(downloads::download))
            .route(web::head().to(downloads::download))
            .route(web::put().to(files::put_file))
            .route(web::delete().to(owned_files::delete_file)),
    )
    .service(
        resource("/v1/files/{sha256}/{filename}", "GET, HEAD")
            .route(web::get().to(downloads::download))
            .route(web::head().to(downloads::download)),
    );
    uploads::configure(cfg);
    chunks::configure(cfg);
    files::configure(cfg);
    tus::configure(cfg);
    docs::configure(cfg);
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|error, _| ApiError::invalid("path", error.to_string()).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|error, _| ApiError::invalid("query", error.to_string()).into()),
    );
}

/// Registers the liveness probe `/healthz`.
pub fn configure_liveness(cfg: &mut web::ServiceConfig) {
    health::configure_liveness(cfg);
}

/// Registers what operators and orchestrators ask of an instance besides
/// liveness: `/readyz` and `/metrics`.
pub fn configure_operations(cfg: &mut web::ServiceConfig) {
    health::configure_readiness(cfg);
    metrics::configure(cfg);
}

/// The JSON 404 for paths no route knows.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {} {}", request.method(), request.path()),
    ))
}

/// A resource that answers the methods in `allow`; any other method gets
/// the JSON 405 with the `Allow` header RFC 9110 asks for.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |request: HttpRequest| async move {
        Err::<HttpResponse, _>(
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed on {}", request.method(), request.path()),
            )
            .with_header(actix_web::http::header::ALLOW, allow.to_owned()),
        )
    }))
}

/// The time a request is handled at.
fn now() -> DateTime<Utc> {
    Utc::now()
}
