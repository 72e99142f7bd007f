//! The HTTP client of the API: typed calls that answer the wire types of
//! [`crate::api`] or a [`ClientError`] built from the server's error body, and
//! the retry loop that wraps them.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap,
    HeaderValue, IF_RANGE, RANGE,
};
use reqwest::{Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::retry::RetryPolicy;
use crate::api::{CONTENT_DIGEST, ChunkReceipt, CreateUpload, Upload, codes};

mod error;

pub use error::ClientError;
use error::{failure, network, refusal_without_body};

/// Longest wait to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a small JSON call, or for the head of a download answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for `complete`, which the server may hold while it merges.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest time a transfer may make no progress before it is given up.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Size of the pieces a chunk body is handed to the connection in.
const PIECE: usize = 64 << 10;

/// Answer of `complete`.
#[derive(Debug)]
pub enum Completion {
    /// 200: published.
    Done(Upload),
    /// 202: the merge goes on.
    Pending(Upload),
}

/// What `HEAD` says about a published file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHead {
    /// Its size in bytes.
    pub size: u64,
    /// Its entity tag, quotes included.
    pub etag: String,
    /// Its `Content-Disposition`, if any.
    pub disposition: Option<String>,
}

/// Answer to a ranged `GET` with `If-Range`.
#[derive(Debug)]
pub enum RangeAnswer {
    /// 206 with exactly the range asked for; the body is still to be read.
    Partial(Response),
    /// 200: the representation is no longer the one named by the ETag.
    Changed,
}

/// A client of one ferry server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    policy: RetryPolicy,
}

impl Client {
    /// A client of the server at `base`, sending `token` as a bearer token
    /// and trying failed requests again as `policy` says.
    pub fn new(
        base: &Url,
        token: Option<&SecretString>,
        policy: RetryPolicy,
    ) -> Result<Self, ClientError> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::Setup(format!(
                "the server URL must be http:// or https://, not {base}"
            )));
        }
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    ClientError::Setup("the token has characters a header cannot hold".into())
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| ClientError::Setup(format!("cannot set up HTTP: {error}")))?;
        Ok(Client { http, base, policy })
    }

    /// The retry policy of this client.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The absolute URL of a path of the API such as `/v1/files/…`.
    pub fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|error| {
                ClientError::Setup(format!("cannot form a URL from {path:?}: {error}"))
            })
    }

    /// `POST /v1/uploads`: creates or resumes the session.
    pub async fn create(&self, request: &CreateUpload) -> Result<Upload, ClientError> {
        let url = self.url("v1/uploads")?;
        let answer = self
            .http
            .post(url)
            .json(request)
            .timeout(CALL_TIMEOUT)
            .send()
            .await;
        Ok(json_answer(answer).await?.1)
    }

    /// `GET /v1/uploads/{sha256}`: the session's progress.
    pub async fn progress(&self, sha256: &str) -> Result<Upload, ClientError> {
        let url = self.url(&format!("v1/uploads/{sha256}"))?;
        let answer = self.http.get(url).timeout(CALL_TIMEOUT).send().await;
        Ok(json_answer(answer).await?.1)
    }

    /// `POST /v1/uploads/{sha256}/complete`: merge, verify, publish.
    pub async fn complete(&self, sha256: &str) -> Result<Completion, ClientError> {
        let url = self.url(&format!("v1/uploads/{sha256}/complete"))?;
        let answer = self.http.post(url).timeout(COMPLETE_TIMEOUT).send().await;
        match json_answer(answer).await? {
            (StatusCode::ACCEPTED, upload) => Ok(Completion::Pending(upload)),
            (_, upload) => Ok(Completion::Done(upload)),
        }
    }

    /// `PUT /v1/uploads/{sha256}/chunks/{index}`, once. `on_sent` hears of
    /// every piece of the body as the connection takes it; a transfer that
    /// makes no progress for [`STALL_TIMEOUT`] is given up.
    pub async fn put_chunk(
        &self,
        sha256: &str,
        index: u64,
        body: Bytes,
        digest: &str,
        on_sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<ChunkReceipt, ClientError> {
        let url = self.url(&format!("v1/uploads/{sha256}/chunks/{index}"))?;
        let length = body.len();
        let taken = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&taken);
        let pieces = (0..length).step_by(PIECE).map(move |start| {
            let piece = body.slice(start..length.min(start + PIECE));
            counter.fetch_add(piece.len() as u64, Ordering::SeqCst);
            on_sent(piece.len() as u64);
            Ok::<_, std::io::Error>(piece)
        });
        let request = self
            .http
            .put(url)
            .header(CONTENT_LENGTH, length)
            .header(CONTENT_DIGEST, digest)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
            .send();
        let answer = watch_for_stall(request, &taken).await?;
        Ok(json_answer(answer).await?.1)
    }

    /// `HEAD` of a download URL: size, ETag and Content-Disposition.
    pub async fn head_file(&self, url: &Url) -> Result<FileHead, ClientError> {
        let response = self
            .http
            .head(url.clone())
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(refusal_without_body(
                status,
                codes::FILE_NOT_FOUND,
                "no published file has this sha256",
            ));
        }
        if !status.is_success() {
            return Err(failure(status, url, &[]));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let size = header(CONTENT_LENGTH)
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                ClientError::Unexpected(format!("{url} answered HEAD without a Content-Length"))
            })?;
        let etag = header(ETAG).ok_or_else(|| {
            ClientError::Unexpected(format!("{url} answered HEAD without an ETag"))
        })?;
        Ok(FileHead {
            size,
            etag,
            disposition: header(CONTENT_DISPOSITION),
        })
    }

    /// `GET` of `range` of a download URL, `If-Range` the entity tag `etag`.
    pub async fn get_range(
        &self,
        url: &Url,
        range: Range<u64>,
        etag: &str,
    ) -> Result<RangeAnswer, ClientError> {
        let request = self
            .http
            .get(url.clone())
            .header(RANGE, format!("bytes={}-{}", range.start, range.end - 1))
            .header(IF_RANGE, etag)
            .send();
        let response = tokio::time::timeout(CALL_TIMEOUT, request)
            .await
            .map_err(|_| ClientError::Network(format!("{url}: no answer within {CALL_TIMEOUT:?}")))?
            .map_err(network)?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let served = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(content_range_span);
                if served != Some(range.clone()) {
                    return Err(ClientError::Unexpected(format!(
                        "asked for bytes {}-{} of {url}, got Content-Range {served:?}",
                        range.start,
                        range.end - 1
                    )));
                }
                Ok(RangeAnswer::Partial(response))
            }
            StatusCode::OK => Ok(RangeAnswer::Changed),
            status => {
                let body = response.bytes().await.unwrap_or_default();
                Err(failure(status, url, &body))
            }
        }
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out,
    /// pausing between attempts as the policy says. Transient failures are
    /// tried again.
    pub async fn retrying<T, Fut>(&self, op: impl FnMut() -> Fut) -> Result<T, ClientError>
    where
        Fut: Future<Output = Result<T, ClientError>>,
    {
        self.retrying_if(ClientError::is_transient, op).await
    }

    /// Like [`Client::retrying`], trying again whenever `again` says so.
    pub async fn retrying_if<T, Fut>(
        &self,
        again: impl Fn(&ClientError) -> bool,
        mut op: impl FnMut() -> Fut,
    ) -> Result<T, ClientError>
    where
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut failures = 0;
        loop {
            match op().await {
                Err(error) if again(&error) => {
                    failures += 1;
                    match self.policy.pause(failures, rand::random::<f64>()) {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => return Err(error),
                    }
                }
                answer => return answer,
            }
        }
    }
}

/// Waits for `request`, giving up when `taken` has not moved for [`STALL_TIMEOUT`].
async fn watch_for_stall<F>(
    request: F,
    taken: &AtomicU64,
) -> Result<Result<Response, reqwest::Error>, ClientError>
where
    F: Future<Output = Result<Response, reqwest::Error>>,
{
    tokio::pin!(request);
    let mut seen = taken.load(Ordering::SeqCst);
    loop {
        tokio::select! {
            answer = &mut request => return Ok(answer),
            () = tokio::time::sleep(STALL_TIMEOUT) => {
                let now = taken.load(Ordering::SeqCst);
                if now == seen {
                    return Err(ClientError::Network(format!("no progress for {STALL_TIMEOUT:?}")));
                }
                seen = now;
            }
        }
    }
}

/// Reads a JSON answer: the value on success, the error body otherwise.
async fn json_answer<T: DeserializeOwned>(
    answer: Result<Response, reqwest::Error>,
) -> Result<(StatusCode, T), ClientError> {
    let response = answer.map_err(network)?;
    let status = response.status();
    let url = response.url().clone();
    let body = response.bytes().await.map_err(network)?;
    if !status.is_success() {
        return Err(failure(status, &url, &body));
    }
    serde_json::from_slice(&body)
        .map(|value| (status, value))
        .map_err(|error| {
            ClientError::Unexpected(format!(
                "{url} answered {status} with unexpected JSON: {error}"
            ))
        })
}

/// The span `bytes a-b/n` names, as a half-open range.
fn content_range_span(value: &str) -> Option<Range<u64>> {
    let (span, _) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last).then(|| first..last + 1)
}

/// Reads the next piece of a body, giving up after [`STALL_TIMEOUT`] without one.
pub async fn next_piece(response: &mut Response) -> Result<Option<Bytes>, ClientError> {
    match tokio::time::timeout(STALL_TIMEOUT, response.chunk()).await {
        Ok(piece) => piece.map_err(network),
        Err(_) => Err(ClientError::Network(format!(
            "no data for {STALL_TIMEOUT:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_range_names_a_half_open_span() {
        assert_eq!(content_range_span("bytes 0-99/1000"), Some(0..100));
        assert_eq!(content_range_span("bytes 5-5/6"), Some(5..6));
        assert_eq!(content_range_span("bytes */1000"), None);
        assert_eq!(content_range_span("bytes 9-3/10"), None);
    }

    #[test]
    fn a_server_url_gets_a_trailing_slash_so_that_paths_join_below_it() {
        let base = Url::parse("http://h:1/prefix").expect("url");
        let client = Client::new(&base, None, RetryPolicy::default()).expect("client");
        assert_eq!(
            client.url("/v1/uploads").map(String::from).ok(),
            Some("http://h:1/prefix/v1/uploads".to_owned())
        );
    }

    #[test]
    fn a_server_url_that_is_not_http_is_refused() {
        let base = Url::parse("ftp://h/").expect("url");
        assert!(matches!(
            Client::new(&base, None, RetryPolicy::default()),
            Err(ClientError::Setup(_))
        ));
    }
}
