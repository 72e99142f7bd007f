//! Why a request got no useful answer, built from the server's error body
//! or from the transport's failure.

use std::time::Duration;

use reqwest::StatusCode;
use url::Url;

use ferry_proto::{ErrorBody, ErrorCode};

/// Why a request got no useful answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client could not be set up (server URL, token).
    #[error("{0}")]
    Setup(String),
    /// The server refused the request (4xx), saying why.
    #[error("the server refused: {message} ({})", refusal_code(*.code, *.status))]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The contract's code, when the answer carried one this client knows.
        code: Option<ErrorCode>,
        /// The server's message, or one made up from the status.
        message: String,
        /// How long the server asked to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// The server failed (5xx).
    #[error("the server failed: {status}: {message}")]
    Server {
        /// The HTTP status.
        status: StatusCode,
        /// The contract's code, when the answer carried one this client knows.
        code: Option<ErrorCode>,
        /// The server's message, or the status's reason.
        message: String,
        /// How long the server asked to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// No answer: the connection failed, was cut or timed out.
    #[error("network error: {0}")]
    Network(String),
    /// An answer that does not follow the contract.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The contract's error code, for a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } | ClientError::Server { code, .. } => *code,
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Refused { retry_after, .. } | ClientError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed: network
    /// failures, 5xx (but a failed merge, or a file the server's store
    /// lost, which answer the same until someone acts), 408 and 429.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Server { code, .. } => !matches!(
                code,
                Some(ErrorCode::MergeFailed | ErrorCode::FileUnreadable)
            ),
            ClientError::Refused { status, .. } => {
                *status == StatusCode::REQUEST_TIMEOUT || *status == StatusCode::TOO_MANY_REQUESTS
            }
            ClientError::Setup(_) | ClientError::Unexpected(_) => false,
        }
    }
}

/// The code a refusal is shown with: the contract's, or `http-<status>`.
fn refusal_code(code: Option<ErrorCode>, status: StatusCode) -> String {
    code.map_or_else(
        || format!("http-{}", status.as_u16()),
        |code| code.to_string(),
    )
}

/// The error for a non-success status, from its JSON error body when it
/// has one, with the wait the server asked for.
pub(super) fn failure(
    status: StatusCode,
    url: &Url,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ClientError {
    let error = serde_json::from_slice::<ErrorBody>(body).ok();
    if status.is_server_error() {
        let code = error.as_ref().map(|e| e.code);
        let message = error.map_or_else(
            || status.canonical_reason().unwrap_or("").to_owned(),
            |e| e.message,
        );
        return ClientError::Server {
            status,
            code,
            message,
            retry_after,
        };
    }
    if status.is_client_error() {
        return match error {
            Some(error) => ClientError::Refused {
                status,
                code: Some(error.code),
                message: error.message,
                retry_after,
            },
            None => ClientError::Refused {
                status,
                code: None,
                message: format!("{status} from {url}"),
                retry_after,
            },
        };
    }
    ClientError::Unexpected(format!("{url} answered {status}"))
}

/// A refusal whose answer had no body to read, such as a 404 to `HEAD`.
pub(super) fn refusal_without_body(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
) -> ClientError {
    ClientError::Refused {
        status,
        code: Some(code),
        message: message.to_owned(),
        retry_after: None,
    }
}

/// A transport failure as one line, with every cause.
pub(super) fn network(error: reqwest::Error) -> ClientError {
    let mut line = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(reason) = cause {
        line.push_str(": ");
        line.push_str(&reason.to_string());
        cause = reason.source();
    }
    ClientError::Network(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_failures_5xx_408_and_429_are_transient() {
        let refused = |status| refusal_without_body(status, ErrorCode::InvalidRequest, "y");
        assert!(ClientError::Network("reset".into()).is_transient());
        assert!(
            ClientError::Server {
                status: StatusCode::BAD_GATEWAY,
                code: None,
                message: String::new(),
                retry_after: None,
            }
            .is_transient()
        );
        let merge_failed = failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Url::parse("http://h/v1/uploads/ab/complete").unwrap(),
            br#"{"code":"merge-failed","message":"the upload failed"}"#,
            None,
        );
        assert_eq!(merge_failed.code(), Some(ErrorCode::MergeFailed));
        assert!(
            !merge_failed.is_transient(),
            "a failed merge answers the same however often it is asked"
        );
        let unreadable = failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Url::parse("http://h/v1/files/ab").unwrap(),
            br#"{"code":"file-unreadable","message":"lost"}"#,
            None,
        );
        assert!(
            !unreadable.is_transient(),
            "a file the store lost stays lost until its bytes are uploaded again"
        );
        assert!(refused(StatusCode::TOO_MANY_REQUESTS).is_transient());
        assert!(refused(StatusCode::REQUEST_TIMEOUT).is_transient());
        assert!(!refused(StatusCode::CONFLICT).is_transient());
        assert!(!ClientError::Unexpected("odd".into()).is_transient());
    }

    #[test]
    fn an_error_body_becomes_a_refusal_with_its_code() {
        let url = Url::parse("http://h/v1/uploads").expect("url");
        let body = br#"{"code":"size-mismatch","message":"other size"}"#;
        let error = failure(StatusCode::UNPROCESSABLE_ENTITY, &url, body, None);
        assert_eq!(error.code(), Some(ErrorCode::SizeMismatch));
        assert_eq!(
            error.to_string(),
            "the server refused: other size (size-mismatch)"
        );
    }

    #[test]
    fn a_refusal_without_a_json_body_is_named_by_its_status() {
        let url = Url::parse("http://h/x").expect("url");
        let error = failure(StatusCode::FORBIDDEN, &url, b"<html>", None);
        assert_eq!(error.code(), None);
        assert!(error.to_string().ends_with("(http-403)"), "{error}");
    }
}
