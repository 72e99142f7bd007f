//! Requests to a bucket that `object_store` does not make: the server-side
//! copy of a byte range into a part (UploadPartCopy) and the multipart calls
//! around it. Each is signed by `object_store`'s own SigV4 signer with the
//! bucket's own credentials, and sent with reqwest.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{HttpRequest, HttpRequestBody};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Characters of a key sent as they are; every other is percent-encoded.
const KEY_CHARACTERS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// How long a request that copies bytes inside the bucket may take: a
/// part of up to 5 GiB.
const COPY_TIMEOUT: Duration = Duration::from_secs(900);

/// How long any other request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Attempts of a request that fails for a reason that may pass.
const ATTEMPTS: u32 = 4;

/// Where a bucket answers and how its requests are signed.
#[derive(Debug, Clone)]
pub(super) struct BucketRequests {
    client: reqwest::Client,
    /// The bucket's address, `<endpoint>/<bucket>` or `<bucket>.<endpoint>`.
    bucket_url: String,
    bucket: String,
    region: String,
    credentials: AwsCredentialProvider,
}

/// One request: its method, the key (from the bucket's root) it is about,
/// its query, headers and body.
pub(super) struct Request<'a> {
    pub(super) method: Method,
    pub(super) key: Option<&'a str>,
    pub(super) query: Vec<(&'a str, String)>,
    pub(super) headers: Vec<(HeaderName, String)>,
    pub(super) body: Body,
    /// Whether the request copies bytes inside the bucket, and may take long.
    pub(super) copies: bool,
}

/// The body of a request.
pub(super) enum Body {
    /// Bytes in memory, signed with their digest.
    Bytes(Bytes),
    /// Bytes streamed as they come, of a length known ahead, unsigned.
    Streamed(reqwest::Body, u64),
}

/// A successful answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) headers: http::HeaderMap,
    pub(super) body: Bytes,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum RequestError {
    /// The bucket answered with an error: an error status, or an `<Error>`
    /// document in a 200 answer to a copy.
    #[error("Server returned non-2xx status code: {status}: {code}: {message}")]
    Refused {
        /// The status, or the one the error's code stands for.
        status: StatusCode,
        /// S3's error code, such as `NoSuchKey`.
        code: String,
        /// S3's message.
        message: String,
    },
    /// The bucket was not reached, or its answer not read.
    #[error("the bucket was not reached: {0}")]
    Transport(#[from] reqwest::Error),
    /// The bucket's credentials could not be had.
    #[error(transparent)]
    Credentials(object_store::Error),
    /// The answer was not the document it should be.
    #[error("the bucket's answer could not be read: {0}")]
    Unreadable(String),
}

impl RequestError {
    /// Whether asking again may succeed.
    pub(super) fn may_pass(&self) -> bool {
        match self {
            RequestError::Refused { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || *status == StatusCode::TOO_MANY_REQUESTS
            }
            RequestError::Transport(_) => true,
            RequestError::Credentials(_) | RequestError::Unreadable(_) => false,
        }
    }

    /// Whether the bucket refuses this kind of request outright: not
    /// implemented (501), or a client error such as a policy that does not
    /// allow it.
    pub(super) fn is_unsupported(&self) -> bool {
        self.status().is_some_and(|status| {
            status == StatusCode::NOT_IMPLEMENTED || (status.is_client_error() && !self.may_pass())
        })
    }

    /// The S3 error code the bucket answered with, if it answered one.
    pub(super) fn code(&self) -> Option<&str> {
        match self {
            RequestError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The status the bucket answered with, if it answered.
    pub(super) fn status(&self) -> Option<StatusCode> {
        match self {
            RequestError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The failure as the object store error the rest of ferry classifies.
    pub(super) fn into_store_error(self) -> object_store::Error {
        match self {
            RequestError::Credentials(error) => error,
            other => object_store::Error::Generic {
                store: "S3",
                source: Box::new(other),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    code: String,
    #[serde(default)]
    message: String,
}

/// Reads an S3 XML answer into `T`.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, RequestError> {
    let text = std::str::from_utf8(body).map_err(|e| RequestError::Unreadable(e.to_string()))?;
    quick_xml::de::from_str(text).map_err(|e| RequestError::Unreadable(e.to_string()))
}

/// The status an S3 error code stands for, when it comes inside a 200.
fn status_of(code: &str) -> StatusCode {
    match code {
        "InternalError" => StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceUnavailable" | "SlowDown" => StatusCode::SERVICE_UNAVAILABLE,
        "RequestTimeout" => StatusCode::REQUEST_TIMEOUT,
        "NoSuchKey" | "NoSuchUpload" | "NoSuchBucket" => StatusCode::NOT_FOUND,
        "AccessDenied" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Percent-encodes a key for a URL or a copy source.
pub(super) fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_CHARACTERS).to_string()
}

impl BucketRequests {
    /// Requests to `bucket`, answering at `bucket_url`, in `region`, signed
    /// with what `credentials` provides.
    pub(super) fn new(
        bucket: &str,
        bucket_url: String,
        region: String,
        credentials: AwsCredentialProvider,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(BucketRequests {
            client,
            bucket_url: bucket_url.trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            region,
            credentials,
        })
    }

    /// The `x-amz-copy-source` naming `key` (from the bucket's root).
    pub(super) fn copy_source(&self, key: &str) -> String {
        format!("/{}/{}", encode_key(&self.bucket), encode_key(key))
    }

    /// Sends a request whose body is in memory, again while it fails for a
    /// reason that may pass.
    pub(super) async fn send_retrying<'a>(
        &self,
        make: impl Fn() -> Request<'a>,
    ) -> Result<Answer, RequestError> {
        let mut attempt = 0;
        loop {
            match self.send(make()).await {
                Err(error) if error.may_pass() && attempt + 1 < ATTEMPTS => {
                    tracing::debug!(%error, attempt, "a bucket request failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                answered => return answered,
            }
        }
    }

    /// Sends one request, once.
    pub(super) async fn send(&self, request: Request<'_>) -> Result<Answer, RequestError> {
        let mut url = match request.key {
            Some(key) => format!("{}/{}", self.bucket_url, encode_key(key)),
            None => self.bucket_url.clone(),
        };
        if !request.query.is_empty() {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(name, value)| {
                    format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC))
                })
                .collect();
            url = format!("{url}?{}", query.join("&"));
        }
        let mut signed = HttpRequest::new(HttpRequestBody::empty());
        *signed.method_mut() = request.method.clone();
        *signed.uri_mut() = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| RequestError::Unreadable(e.to_string()))?;
        for (name, value) in &request.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|e| RequestError::Unreadable(e.to_string()))?;
            signed.headers_mut().insert(name.clone(), value);
        }
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(RequestError::Credentials)?;
        let (digest, body, length) = match request.body {
            Body::Bytes(bytes) => (
                Some(Sha256::digest(&bytes).to_vec()),
                reqwest::Body::from(bytes.clone()),
                bytes.len() as u64,
            ),
            Body::Streamed(body, length) => (None, body, length),
        };
        let authorizer = AwsAuthorizer::new(&credential, "s3", &self.region);
        match &digest {
            Some(digest) => authorizer.authorize(&mut signed, Some(digest)),
            None => authorizer
                .with_sign_payload(false)
                .authorize(&mut signed, None),
        }
        let timeout = if request.copies {
            COPY_TIMEOUT
        } else {
            REQUEST_TIMEOUT
        };
        let answer = self
            .client
            .request(request.method, url)
            .headers(signed.headers().clone())
            .header(http::header::CONTENT_LENGTH, length)
            .body(body)
            .timeout(timeout)
            .send()
            .await?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await?;
        let refused = |document: Option<ErrorDocument>, status: StatusCode| {
            let (code, message) = document
                .map(|error| (error.code, error.message))
                .unwrap_or_default();
            RequestError::Refused {
                status,
                code,
                message,
            }
        };
        if !status.is_success() {
            return Err(refused(parse(&body).ok(), status));
        }
        if body.windows(7).any(|window| window == b"<Error>") {
            let document: ErrorDocument = parse(&body)?;
            let status = status_of(&document.code);
            return Err(refused(Some(document), status));
        }
        Ok(Answer { headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_keeps_its_slashes_and_encodes_the_rest() {
        assert_eq!(encode_key("p q/files/a+b"), "p%20q/files/a%2Bb");
    }

    #[test]
    fn an_error_inside_a_200_tells_a_refusal_from_a_failure_that_may_pass() {
        let refused = |code: &str| RequestError::Refused {
            status: status_of(code),
            code: code.to_owned(),
            message: String::new(),
        };
        assert!(refused("InternalError").may_pass());
        assert!(refused("SlowDown").may_pass());
        assert!(!refused("AccessDenied").may_pass());
        assert!(!refused("EntityTooLarge").may_pass());
        assert!(!refused("InvalidRequest").may_pass());
    }

    #[test]
    fn a_refusal_fails_a_merge_for_good_and_a_server_error_lets_it_retry() {
        let failure = |status: StatusCode, code: &str| {
            crate::blob::BlobError::from(
                RequestError::Refused {
                    status,
                    code: code.to_owned(),
                    message: String::new(),
                }
                .into_store_error(),
            )
        };
        for (status, code) in [
            (StatusCode::FORBIDDEN, "AccessDenied"),
            (StatusCode::BAD_REQUEST, "EntityTooLarge"),
            (StatusCode::BAD_REQUEST, "InvalidRequest"),
        ] {
            let error = failure(status, code);
            assert!(error.is_permanent() && !error.is_transient(), "{code}");
        }
        for (status, code) in [
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            (StatusCode::SERVICE_UNAVAILABLE, "SlowDown"),
        ] {
            let error = failure(status, code);
            assert!(error.is_transient() && !error.is_permanent(), "{code}");
        }
    }

    #[test]
    fn an_error_document_reads_back() {
        let body = Bytes::from_static(
            b"<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code>\
              <Message>gone</Message><Key>k</Key></Error>",
        );
        let document: ErrorDocument = parse(&body).unwrap();
        assert_eq!(
            (document.code.as_str(), document.message.as_str()),
            ("NoSuchKey", "gone")
        );
    }
}
