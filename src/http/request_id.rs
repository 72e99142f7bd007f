//! A request id on every request: the client's `X-Request-Id` when it is a
//! usable one, a fresh one otherwise. It is returned in the answer and
//! carried by every log line of the request, a merge it starts in the
//! background included, so that a request's whole story can be followed.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::access_log::RequestSpan;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 128;

/// Runs the request inside a `request` span named by its id (and, once
/// known, its owner), and answers with the id.
pub async fn tag_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| usable(id))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, owner = tracing::field::Empty);
    request.extensions_mut().insert(RequestSpan(span.clone()));
    let mut response = next.call(request).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Whether a client's id can be logged and echoed as it is.
fn usable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:/+=".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::usable;

    #[test]
    fn ids_that_could_forge_log_lines_or_grow_without_bound_are_replaced() {
        for id in [
            "abc-123",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "trace:01/span=2",
        ] {
            assert!(usable(id), "{id}");
        }
        let long = "a".repeat(129);
        for id in ["", "a b", "a\nb", "ünï", "{\"x\":1}", long.as_str()] {
            assert!(!usable(id), "{id}");
        }
    }
}
