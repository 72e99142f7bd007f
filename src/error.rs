//! The one boundary where errors become HTTP answers: a status, a stable
//! kebab-case code and a message, as JSON. Server faults are logged with
//! their cause and answered without details.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::api::{ErrorBody, UploadStatus, codes};
use crate::upload::UploadError;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Box<ErrorBody>,
    headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    /// An error with a status, a contract code and a message for a person.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                status: None,
                missing_chunks: None,
            }),
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
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message);
        error.body.field = Some(field.to_owned());
        error
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn with_status(mut self, status: UploadStatus) -> Self {
        self.body.status = Some(status);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.body.code,
            self.body.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        answer.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
        for (name, value) in &self.headers {
            answer.insert_header((name.clone(), value.as_str()));
        }
        answer.json(&self.body)
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        let message = error.to_string();
        match error {
            UploadError::InvalidField { field, .. } => ApiError::invalid(field, message),
            UploadError::BodyUnreadable(_) => ApiError::invalid("body", message),
            UploadError::FileTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::FILE_TOO_LARGE,
                message,
            ),
            UploadError::SizeMismatch { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::SIZE_MISMATCH,
                message,
            ),
            UploadError::UploadConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, codes::UPLOAD_CONFLICT, message)
            }
            UploadError::UploadNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, codes::UPLOAD_NOT_FOUND, message)
            }
            UploadError::ChunkIndexOutOfRange { .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::CHUNK_INDEX_OUT_OF_RANGE,
                message,
            ),
            UploadError::ChunkSizeMismatch { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::CHUNK_SIZE_MISMATCH, message)
            }
            UploadError::ChunkTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::CHUNK_TOO_LARGE,
                message,
            ),
            UploadError::DigestMismatch => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::DIGEST_MISMATCH, message)
            }
            UploadError::NotWritable(status) => {
                ApiError::new(StatusCode::CONFLICT, codes::UPLOAD_NOT_WRITABLE, message)
                    .with_status(status)
            }
            UploadError::ChunksMissing(missing) => {
                let mut error = ApiError::new(StatusCode::CONFLICT, codes::CHUNKS_MISSING, message);
                error.body.missing_chunks = Some(missing);
                error
            }
            UploadError::HashMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::HASH_MISMATCH,
                message,
            ),
            UploadError::FileNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, codes::FILE_NOT_FOUND, message)
            }
            UploadError::Meta(_) | UploadError::Blob(_) => {
                tracing::error!(error = %error, cause = ?error, "request failed inside the server");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::UNAVAILABLE,
                    "the server could not reach its storage; try again",
                )
            }
        }
    }
}
