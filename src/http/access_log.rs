//! One access line per request, as fields an operator can query: method,
//! route pattern, status, bytes sent, milliseconds until the body was out
//! and the peer's address, inside the request's span, which adds its
//! `request_id` and, once known, its `owner`. No path or query is logged:
//! the route pattern names the endpoint, and a query may hold a signature.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Span;

use super::metrics::MatchedRoute;
use crate::ids::OwnerId;
use crate::metrics::UNMATCHED_ROUTE;

/// The request's span, where its owner is recorded once known.
#[derive(Debug, Clone)]
pub(super) struct RequestSpan(pub(super) Span);

/// Records `owner` on the request's span, so that every later line of the
/// request, its access line included, names it.
pub(super) fn note_owner(request: &HttpRequest, owner: &OwnerId) {
    if let Some(RequestSpan(span)) = request.extensions().get::<RequestSpan>() {
        span.record("owner", owner.as_str());
    }
}

/// Logs each request once its answer's body is out, or dropped.
pub async fn log_access(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AccessBody>, actix_web::Error> {
    let line = AccessLine {
        span: Span::current(),
        started: Instant::now(),
        method: request.method().clone(),
        peer: request.peer_addr().map(|peer| peer.ip()),
        route: Arc::from(""),
        status: StatusCode::OK,
        bytes: 0,
    };
    let response = match next.call(request).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            let answer = error.error_response();
            let bytes = match answer.body().size() {
                BodySize::Sized(bytes) => bytes,
                BodySize::None | BodySize::Stream => 0,
            };
            AccessLine {
                route: UNMATCHED_ROUTE.into(),
                status: answer.status(),
                bytes,
                ..line
            }
            .write();
            return Err(error);
        }
    };
    let route = matched_route(response.request());
    let status = response.status();
    Ok(response.map_body(|_, body| AccessBody {
        body,
        line: Some(AccessLine {
            route,
            status,
            ..line
        }),
    }))
}

/// The route pattern `measure` kept on the request, or the router's answer
/// where no `measure` ran.
fn matched_route(request: &HttpRequest) -> Arc<str> {
    if let Some(MatchedRoute(route)) = request.extensions().get::<MatchedRoute>() {
        return route.clone();
    }
    request
        .match_pattern()
        .map_or_else(|| UNMATCHED_ROUTE.into(), Into::into)
}

/// What an access line says, written once the body is done.
struct AccessLine {
    span: Span,
    started: Instant,
    method: Method,
    peer: Option<IpAddr>,
    route: Arc<str>,
    status: StatusCode,
    bytes: u64,
}

impl AccessLine {
    fn write(self) {
        let duration_ms = self.started.elapsed().as_micros() as f64 / 1000.0;
        let _request = self.span.enter();
        tracing::info!(
            target: "ferry::access",
            method = self.method.as_str(),
            route = &*self.route,
            status = self.status.as_u16(),
            bytes = self.bytes,
            duration_ms,
            peer = self.peer.map(tracing::field::display),
            "answered"
        );
    }
}

/// An answer's body that counts the bytes sent and writes the access line
/// when it ends or is dropped.
pub struct AccessBody {
    body: BoxBody,
    line: Option<AccessLine>,
}

impl MessageBody for AccessBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(bytes))) => {
                if let Some(line) = &mut self.line {
                    line.bytes += bytes.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(line) = self.line.take() {
                    line.write();
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }
}

impl Drop for AccessBody {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            line.write();
        }
    }
}
