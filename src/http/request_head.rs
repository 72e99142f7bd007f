//! Checks on a request's head before any handler reads it: framing that two
//! parsers could read two ways, and headers larger than any client of ferry
//! sends.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::header::{CONTENT_LENGTH, HeaderMap, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use ferry_proto::ErrorCode;

use crate::error::ApiError;

/// The largest header, name and value together.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The largest sum of all headers of one request.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Middleware that answers a request whose head is refused, and closes its
/// connection, since its body cannot be told apart from the next request.
pub async fn guard_head(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(refusal) = refusal(request.headers()) {
        let mut answer = refusal.error_response();
        answer.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(request.into_response(answer).map_into_right_body());
    }
    Ok(next.call(request).await?.map_into_left_body())
}

fn refusal(headers: &HeaderMap) -> Option<ApiError> {
    if headers.contains_key(CONTENT_LENGTH) && headers.contains_key(TRANSFER_ENCODING) {
        return Some(ApiError::invalid(
            "transfer-encoding",
            "a request may declare Content-Length or Transfer-Encoding, not both",
        ));
    }
    let mut total = 0;
    for (name, value) in headers {
        let size = name.as_str().len() + value.len();
        if size > MAX_HEADER_BYTES {
            return Some(ApiError::new(
                ErrorCode::HeadersTooLarge,
                format!("the header {name} is larger than {MAX_HEADER_BYTES} bytes"),
            ));
        }
        total += size;
    }
    (total > MAX_HEAD_BYTES).then(|| {
        ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the request's headers are larger than {MAX_HEAD_BYTES} bytes together"),
        )
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn head(headers: &[(&str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn an_ordinary_head_passes() {
        let headers = head(&[
            ("content-length", "5".into()),
            ("authorization", format!("Bearer {}", "x".repeat(4000))),
        ]);
        assert!(refusal(&headers).is_none());
    }

    #[test]
    fn a_length_beside_chunked_framing_is_refused() {
        let headers = head(&[
            ("content-length", "5".into()),
            ("transfer-encoding", "chunked".into()),
        ]);
        assert_eq!(refusal(&headers).unwrap().code(), ErrorCode::InvalidRequest);
    }

    #[test]
    fn one_oversized_header_is_refused() {
        let headers = head(&[("x-padding", "a".repeat(MAX_HEADER_BYTES))]);
        assert_eq!(
            refusal(&headers).unwrap().code(),
            ErrorCode::HeadersTooLarge
        );
    }

    #[test]
    fn many_headers_that_add_up_are_refused() {
        let headers: Vec<(&str, String)> = (0..5)
            .map(|_| ("x-padding", "a".repeat(7 * 1024)))
            .collect();
        assert_eq!(
            refusal(&head(&headers)).unwrap().code(),
            ErrorCode::HeadersTooLarge
        );
    }
}
