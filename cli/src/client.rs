//! The HTTP client of the API: typed calls that answer the wire types of
//! [`ferry_proto`] or a [`ClientError`] built from the server's error body, and
//! the retry loop that wraps them.
//!
//! The bearer token goes only to the server's own origin (scheme, host and
//! port of `--server`): a download URL may name any host, and that host must
//! not learn the token. No redirect is followed, so no answer can send a
//! request, or the token, anywhere else.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode, redirect};
use secrecy::SecretString;
use url::Url;

use super::retry::RetryPolicy;
use ferry_proto::{CONTENT_DIGEST, ChunkReceipt, CreateUpload, Upload};

mod answer;
mod content_range;
mod error;
mod files;
mod token;
mod watchdog;

pub use answer::MAX_JSON_BODY;
pub use error::ClientError;
pub use files::{FileHead, RangeAnswer};
use watchdog::{Patience, watch};
pub use watchdog::{STALL_TIMEOUT, next_piece};

/// Longest wait to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a small JSON call, for the head of a download answer,
/// or for the body of a JSON answer once its head arrived.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for `complete`, which the server may hold while it merges.
pub const COMPLETE_TIMEOUT: Duration = Duration::from_secs(180);
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

/// A client of one ferry server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// `Bearer <token>`, marked sensitive so that it is never printed.
    token: Option<HeaderValue>,
    policy: RetryPolicy,
}

impl Client {
    /// A client of the server at `base`, without a token, trying failed
    /// requests again as `policy` says.
    pub fn new(base: &Url, policy: RetryPolicy) -> Result<Self, ClientError> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::Setup(format!(
                "the server URL must be http:// or https://, not {base}"
            )));
        }
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|error| ClientError::Setup(format!("cannot set up HTTP: {error}")))?;
        Ok(Client {
            http,
            base,
            token: None,
            policy,
        })
    }

    /// This client, sending `token` as a bearer token to its server only.
    /// Refused when the server is plain `http` on a host that is not
    /// loopback, unless `allow_plain_http`.
    pub fn with_token(
        mut self,
        token: &SecretString,
        allow_plain_http: bool,
    ) -> Result<Self, ClientError> {
        self.token = Some(token::bearer(&self.base, token, allow_plain_http)?);
        Ok(self)
    }

    /// Whether `url` has the scheme, host and port of the server, and so
    /// may be sent the token.
    pub fn is_server(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host() == self.base.host()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    /// A request for `url`, with the token when `url` is on the server.
    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        let request = self.http.request(method, url.clone());
        match &self.token {
            Some(token) if self.is_server(url) => request.header(AUTHORIZATION, token.clone()),
            _ => request,
        }
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
            .request(Method::POST, &url)
            .json(request)
            .timeout(CALL_TIMEOUT)
            .send()
            .await;
        Ok(self.json_answer(answer, CALL_TIMEOUT).await?.1)
    }

    /// `GET /v1/uploads/{sha256}`: the session's progress.
    pub async fn progress(&self, sha256: &str) -> Result<Upload, ClientError> {
        let url = self.url(&format!("v1/uploads/{sha256}"))?;
        let answer = self
            .request(Method::GET, &url)
            .timeout(CALL_TIMEOUT)
            .send()
            .await;
        Ok(self.json_answer(answer, CALL_TIMEOUT).await?.1)
    }

    /// `POST /v1/uploads/{sha256}/complete`: merge, verify, publish.
    pub async fn complete(&self, sha256: &str) -> Result<Completion, ClientError> {
        let url = self.url(&format!("v1/uploads/{sha256}/complete"))?;
        let answer = self
            .request(Method::POST, &url)
            .timeout(COMPLETE_TIMEOUT)
            .send()
            .await;
        match self.json_answer(answer, CALL_TIMEOUT).await? {
            (StatusCode::ACCEPTED, upload) => Ok(Completion::Pending(upload)),
            (_, upload) => Ok(Completion::Done(upload)),
        }
    }

    /// `PUT /v1/uploads/{sha256}/chunks/{index}`, once. `on_sent` hears of
    /// every piece of the body as the connection takes it. While the body is
    /// being taken, going [`STALL_TIMEOUT`] without progress gives it up;
    /// once it is all taken, the answer gets a minute plus the chunk's time
    /// on a 64 KiB/s uplink.
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
            .request(Method::PUT, &url)
            .header(CONTENT_LENGTH, length)
            .header(CONTENT_DIGEST, digest)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
            .send();
        let length = length as u64;
        let answer = watch(request, &taken, length, Patience::for_chunk(length)).await?;
        Ok(self.json_answer(answer, CALL_TIMEOUT).await?.1)
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out,
    /// pausing between attempts as the policy and the server's `Retry-After`
    /// say. Transient failures (network, 5xx, 408, 429) are tried again.
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
                    let asked = error.retry_after();
                    match self
                        .policy
                        .pause_after(failures, rand::random::<f64>(), asked)
                    {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => return Err(error),
                    }
                }
                answer => return answer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stub::{Reply, Stub};

    fn client_of(base: &str, token: Option<&str>) -> Client {
        let base = Url::parse(base).expect("url");
        let client = Client::new(&base, RetryPolicy::default()).expect("client");
        match token {
            Some(token) => client
                .with_token(&SecretString::from(token.to_owned()), true)
                .expect("token"),
            None => client,
        }
    }

    #[test]
    fn only_urls_with_the_servers_scheme_host_and_port_are_the_server() {
        let client = client_of("http://files.example:8080/prefix", Some("t"));
        let is_server = |url: &str| client.is_server(&Url::parse(url).expect("url"));
        assert!(is_server("http://files.example:8080/v1/files/ab"));
        assert!(is_server("http://FILES.example:8080/elsewhere"));
        assert!(!is_server("http://files.example:8081/v1/files/ab"));
        assert!(!is_server("https://files.example:8080/v1/files/ab"));
        assert!(!is_server("http://cdn.example:8080/v1/files/ab"));
        let default_port = client_of("https://files.example", None);
        assert!(default_port.is_server(&Url::parse("https://files.example:443/x").expect("url")));
    }

    fn head_answer(_: &str) -> Reply {
        Reply::new("200 OK", &[("etag", "\"ab\"")], b"")
    }

    #[tokio::test]
    async fn the_token_is_sent_to_the_server_and_to_no_other_origin() {
        let stub = Stub::start(head_answer).await;
        let file = stub.url.join("v1/files/ab").expect("url");
        let own = client_of(stub.url.as_str(), Some("s3cret"));
        let other = client_of("http://127.0.0.1:9/", Some("s3cret"));
        own.head_file(&file).await.expect("head");
        other.head_file(&file).await.expect("head");
        let heads: Vec<String> = stub.heads().iter().map(|h| h.to_lowercase()).collect();
        assert_eq!(heads.len(), 2);
        assert!(
            heads[0].contains("authorization: bearer s3cret"),
            "{}",
            heads[0]
        );
        assert!(!heads[1].contains("authorization"), "{}", heads[1]);
    }

    #[tokio::test]
    async fn a_json_body_that_stops_coming_is_given_up() {
        let stub = Stub::start(|_| Reply {
            bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"sha".to_vec(),
            hold: true,
        })
        .await;
        let answer = reqwest::get(stub.url.clone()).await;
        let limit = Duration::from_millis(200);
        let client = client_of(stub.url.as_str(), None);
        let read = client.json_answer::<Upload>(answer, limit);
        let outcome = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the read is bounded");
        let error = outcome.expect_err("no body");
        assert!(matches!(error, ClientError::Network(_)), "{error}");
    }

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn uploading() -> String {
        serde_json::json!({
            "sha256": SHA, "size": 10, "chunk_size": 65536, "chunk_count": 1,
            "status": "uploading", "received_chunks": [], "received_bytes": 0,
            "filename": null, "content_type": null,
            "expires_at": "2026-11-22T22:00:00Z", "file": null
        })
        .to_string()
    }

    #[tokio::test]
    async fn a_429_is_tried_again_no_sooner_than_its_retry_after() {
        let asked = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&asked);
        let stub = Stub::start(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::new("429 Too Many Requests", &[("retry-after", "1")], b"")
            } else {
                Reply::new(
                    "200 OK",
                    &[("content-type", "application/json")],
                    uploading().as_bytes(),
                )
            }
        })
        .await;
        let client = client_of(stub.url.as_str(), None);
        let started = std::time::Instant::now();
        let upload = client
            .retrying(|| client.progress(SHA))
            .await
            .expect("progress");
        assert_eq!(upload.sha256, SHA);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_401_is_final_and_says_the_token_is_missing() {
        let stub = Stub::start(|_| Reply::new("401 Unauthorized", &[], b"")).await;
        let client = client_of(stub.url.as_str(), None);
        let error = client
            .retrying(|| client.progress(SHA))
            .await
            .expect_err("unauthorized");
        assert_eq!(error.code(), Some(ferry_proto::ErrorCode::Unauthorized));
        assert!(error.to_string().contains("token is missing"), "{error}");
        assert_eq!(stub.heads().len(), 1);
    }

    #[test]
    fn a_server_url_gets_a_trailing_slash_so_that_paths_join_below_it() {
        let base = Url::parse("http://h:1/prefix").expect("url");
        let client = Client::new(&base, RetryPolicy::default()).expect("client");
        assert_eq!(
            client.url("/v1/uploads").map(String::from).ok(),
            Some("http://h:1/prefix/v1/uploads".to_owned())
        );
    }

    #[test]
    fn a_server_url_that_is_not_http_is_refused() {
        let base = Url::parse("ftp://h/").expect("url");
        assert!(matches!(
            Client::new(&base, RetryPolicy::default()),
            Err(ClientError::Setup(_))
        ));
    }
}
