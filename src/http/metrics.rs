//! `GET /metrics` for Prometheus, and the measuring of every request by
//! its route pattern, method and status.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CACHE_CONTROL;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};

use super::resource;
use crate::metrics::{CONTENT_TYPE, UNMATCHED_ROUTE};
use crate::upload::Uploads;

/// Registers `/metrics`.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics", "GET").route(web::get().to(metrics)));
}

async fn metrics(uploads: web::Data<Uploads>) -> HttpResponse {
    let metrics = uploads.metrics();
    metrics.database_connections_in_use(uploads.database_connections_in_use());
    metrics.memory_held(uploads.body_buffers_in_use(), uploads.hash_window_bytes());
    metrics.chunks_arriving(uploads.chunks_arriving());
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(metrics.encode())
}

/// The route pattern a request matched, as `measure` read it, kept on the
/// request for the access line.
#[derive(Debug, Clone)]
pub(super) struct MatchedRoute(pub(super) Arc<str>);

/// Counts each request under the route pattern it matched, with the time
/// until its answer's head. The pattern is read once the request was
/// routed, when the router has it at hand, and kept on the request.
pub async fn measure(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let uploads = request.app_data::<web::Data<Uploads>>().cloned();
    let answer = next.call(request).await;
    let (route, status) = match &answer {
        Ok(response) => (response.request().match_pattern(), response.status()),
        Err(error) => (None, error.as_response_error().status_code()),
    };
    let route: Arc<str> = route.map_or_else(|| UNMATCHED_ROUTE.into(), Into::into);
    if let Ok(response) = &answer {
        response
            .request()
            .extensions_mut()
            .insert(MatchedRoute(route.clone()));
    }
    if let Some(uploads) = uploads {
        uploads
            .metrics()
            .request(&route, method.as_str(), status.as_u16(), started.elapsed());
    }
    answer
}
