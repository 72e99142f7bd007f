//! What an answer is trusted with. A success is taken; a redirect is not
//! followed but named; a 401 says what to do about the token; any other
//! failure is read from its error body. A body read whole is capped and
//! must arrive within a deadline, so a server sending without end cannot
//! make the client allocate without bound or wait forever.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{failure, network};
use super::{CALL_TIMEOUT, Client, ClientError};
use ferry_proto::ErrorCode;

/// Largest JSON answer or error body read, in bytes.
pub const MAX_JSON_BODY: usize = 1 << 20;

impl Client {
    /// `response` when its status is a success; otherwise the error it stands for.
    pub(super) async fn accept(&self, response: Response) -> Result<Response, ClientError> {
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.refusal(response).await)
        }
    }

    /// The error a failed answer stands for.
    pub(super) async fn refusal(&self, response: Response) -> ClientError {
        let status = response.status();
        let url = response.url().clone();
        if status.is_redirection() {
            return redirect(status, &url, response.headers());
        }
        if status == StatusCode::UNAUTHORIZED {
            return self.unauthorized(&url);
        }
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let body = read_capped(response, MAX_JSON_BODY, CALL_TIMEOUT)
            .await
            .unwrap_or_default();
        failure(status, &url, &body, retry_after)
    }

    /// Reads a JSON answer: the value and status on success, the error
    /// otherwise. Its body must arrive within `limit` of its head.
    pub(super) async fn json_answer<T: DeserializeOwned>(
        &self,
        answer: Result<Response, reqwest::Error>,
        limit: Duration,
    ) -> Result<(StatusCode, T), ClientError> {
        let response = self.accept(answer.map_err(network)?).await?;
        let status = response.status();
        let url = response.url().clone();
        let body = read_capped(response, MAX_JSON_BODY, limit).await?;
        serde_json::from_slice(&body)
            .map(|value| (status, value))
            .map_err(|error| {
                ClientError::Unexpected(format!(
                    "{url} answered {status} with unexpected JSON: {error}"
                ))
            })
    }

    /// A 401 from `url`, explained by what was sent there.
    fn unauthorized(&self, url: &Url) -> ClientError {
        let message = match (&self.token, self.is_server(url)) {
            (Some(_), true) => {
                "the token was not accepted: it has expired or is not valid for this server; \
                 get a new one"
                    .to_owned()
            }
            (Some(_), false) => format!(
                "{url} asks for a token, and ferry sends the token only to the server of --server"
            ),
            (None, _) => "a token is missing: give it with --token or FERRY_TOKEN".to_owned(),
        };
        ClientError::Refused {
            status: StatusCode::UNAUTHORIZED,
            code: Some(ErrorCode::Unauthorized),
            message,
            retry_after: None,
        }
    }
}

/// A redirect, which ferry does not follow: API calls go to the server
/// named, and nowhere a server points them.
fn redirect(status: StatusCode, url: &Url, headers: &HeaderMap) -> ClientError {
    let to = headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(|location| format!(" to {location}"))
        .unwrap_or_default();
    ClientError::Unexpected(format!(
        "{url} answered {status}, a redirect{to}; ferry follows no redirects: \
         give the server's own address"
    ))
}

/// Reads a body whole, refusing one over `cap` bytes (as declared or as it
/// arrives) and giving up when it takes longer than `limit`.
pub(super) async fn read_capped(
    mut response: Response,
    cap: usize,
    limit: Duration,
) -> Result<Vec<u8>, ClientError> {
    let url = response.url().clone();
    let too_large = || {
        ClientError::Unexpected(format!(
            "{url} sent an answer over {} KiB, more than any answer of the API",
            cap >> 10
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(too_large());
    }
    let read = async {
        let mut body = Vec::new();
        while let Some(piece) = response.chunk().await.map_err(network)? {
            if body.len() + piece.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&piece);
        }
        Ok(body)
    };
    tokio::time::timeout(limit, read).await.map_err(|_| {
        ClientError::Network(format!(
            "{url}: the body of the answer did not come within {limit:?}"
        ))
    })?
}

/// The wait a `Retry-After` header asks for, in seconds or as an HTTP
/// date (counted from `now`).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(retry: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_str(retry).expect("value"));
        map
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            retry_after(&headers(" 120 "), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-5"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
