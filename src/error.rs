//! The one boundary where errors become HTTP answers: a contract code, its
//! one status, and a message, as JSON. Server faults are logged with their
//! whole cause chain and answered without details.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use ferry_proto::{ErrorBody, ErrorCode};

use crate::upload::UploadError;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    body: Box<ErrorBody>,
    headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    /// An error with a contract code and a message for a person.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            body: Box::new(ErrorBody::new(code, message)),
            headers: Vec::new(),
        }
    }

    /// Adds a header the answer needs, such as `Content-Range` on a 416.
    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A 400 `invalid-request` naming the field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(ErrorCode::InvalidRequest, message);
        error.body.field = Some(field.to_owned());
        error
    }

    /// The contract code of the answer.
    pub fn code(&self) -> ErrorCode {
        self.body.code
    }

    /// The status of the answer, fixed by its code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.body.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.body.code.status(),
            self.body.code,
            self.body.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status());
        answer.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
        for (name, value) in &self.headers {
            answer.insert_header((name.clone(), value.as_str()));
        }
        answer.json(&self.body)
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        let code = error.code();
        if let UploadError::Busy { retry_after } = error {
            return ApiError::new(code, error.to_string())
                .with_header(RETRY_AFTER, retry_after.as_secs().max(1).to_string());
        }
        if let UploadError::HookUnanswered | UploadError::Deleting = error {
            return ApiError::new(code, error.to_string()).with_header(RETRY_AFTER, "5".to_owned());
        }
        match code {
            ErrorCode::Unavailable => {
                tracing::warn!(error = %chain(&error), "a dependency of the server is unavailable");
                return ApiError::new(code, "the server could not reach its storage; try again");
            }
            ErrorCode::InternalError => {
                tracing::error!(error = %chain(&error), "request failed inside the server");
                return ApiError::new(code, "the server failed; the fault is in its log");
            }
            _ => {}
        }
        let mut answer = ApiError::new(code, error.to_string());
        match error {
            UploadError::InvalidField { field, .. } => answer.body.field = Some(field.to_owned()),
            UploadError::BodyUnreadable(_) => answer.body.field = Some("body".to_owned()),
            UploadError::NotWritable(status) => answer.body.status = Some(status),
            UploadError::ChunksMissing(missing) => answer.body.missing_chunks = Some(missing),
            UploadError::OffsetMismatch { offset } => {
                answer = answer
                    .with_header(HeaderName::from_static("upload-offset"), offset.to_string());
            }
            UploadError::OverLimit { retry_after, .. } => {
                answer = answer.with_header(RETRY_AFTER, retry_after.as_secs().max(1).to_string());
            }
            _ => {}
        }
        answer
    }
}

/// An error and every cause under it, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(reason) = cause {
        line.push_str(": ");
        line.push_str(&reason.to_string());
        cause = reason.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::MetaError;

    #[test]
    fn a_row_that_does_not_decode_is_an_opaque_internal_error() {
        let fault = sqlx::Error::Decode("unknown upload status \"odd\"".into());
        let error = ApiError::from(UploadError::Meta(MetaError::from(fault)));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.code(), ErrorCode::InternalError);
        assert!(
            !error.body.message.contains("odd"),
            "{}",
            error.body.message
        );
    }

    #[test]
    fn a_pool_timeout_is_unavailable_and_worth_retrying() {
        let error = ApiError::from(UploadError::Meta(MetaError::from(
            sqlx::Error::PoolTimedOut,
        )));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), ErrorCode::Unavailable);
    }

    #[test]
    fn a_missing_chunk_refusal_carries_its_ranges() {
        let error = ApiError::from(UploadError::ChunksMissing(vec![[2, 4]]));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.body.missing_chunks, Some(vec![[2, 4]]));
    }
}
