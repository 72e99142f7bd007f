//! Downloads: what `HEAD` says about a published file, and ranged `GET`s
//! that must answer exactly the bytes asked for.

use std::ops::Range;

use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderValue, IF_RANGE, RANGE,
};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::error::{network, refusal_without_body};
use super::{CALL_TIMEOUT, Client, ClientError, content_range};
use ferry_proto::ErrorCode;

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

impl Client {
    /// `HEAD` of a download URL: size, ETag and Content-Disposition.
    pub async fn head_file(&self, url: &Url) -> Result<FileHead, ClientError> {
        let response = self
            .request(Method::HEAD, url)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(refusal_without_body(
                status,
                ErrorCode::FileNotFound,
                "no published file has this sha256",
            ));
        }
        let response = self.accept(response).await?;
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

    /// `GET` of `range` of the `size`-byte file at a download URL, `If-Range`
    /// the entity tag `etag`. A 206 must hold exactly that range of `size` bytes.
    pub async fn get_range(
        &self,
        url: &Url,
        range: Range<u64>,
        size: u64,
        etag: &str,
    ) -> Result<RangeAnswer, ClientError> {
        let request = self
            .request(Method::GET, url)
            .header(
                RANGE,
                format!("bytes={}-{}", range.start, range.end.saturating_sub(1)),
            )
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
                    .and_then(|value| content_range::span(value, size));
                if served != Some(range.clone()) {
                    let got = response.headers().get(CONTENT_RANGE);
                    return Err(ClientError::Unexpected(format!(
                        "asked for bytes {}-{} of the {size} bytes of {url}, got Content-Range {got:?}",
                        range.start,
                        range.end.saturating_sub(1)
                    )));
                }
                Ok(RangeAnswer::Partial(response))
            }
            StatusCode::OK => Ok(RangeAnswer::Changed),
            _ => Err(self.refusal(response).await),
        }
    }
}
