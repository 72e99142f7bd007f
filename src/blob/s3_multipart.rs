//! The parts of a multipart upload that composes an object in a bucket:
//! copied by the bucket from one source (UploadPartCopy, by range where a
//! part takes only some of it), or read from several sources and streamed
//! back through ferry (UploadPart), a few at once; and the completion that
//! joins them.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use http::Method;
use http::header::HeaderName;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use parking_lot::Mutex;
use serde::Deserialize;

use super::parts::PartsError;
use super::s3_plan::{PlannedPart, Segment};
use super::s3_requests::{Body, Request, RequestError, parse};
use super::tracked::TrackedBucket;
use super::{BlobError, path};
use crate::ids::ObjectKey;

/// Parts copied or streamed at once.
const PARALLEL_PARTS: usize = 8;

/// The header naming the source of a copy.
pub(super) static COPY_SOURCE: HeaderName = HeaderName::from_static("x-amz-copy-source");
static COPY_SOURCE_RANGE: HeaderName = HeaderName::from_static("x-amz-copy-source-range");

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CopiedPart {
    #[serde(rename = "ETag")]
    e_tag: String,
}

impl TrackedBucket {
    /// A failed copy of `segment`: its source is missing when the bucket
    /// says so, or refuses the copy (a 404 that says nothing more, a range
    /// it cannot satisfy) and the source is indeed gone or short.
    pub(super) async fn copy_failure(&self, error: RequestError, segment: &Segment) -> PartsError {
        let missing = match (error.code(), error.status()) {
            (Some("NoSuchKey"), _) => true,
            (Some("NoSuchUpload"), _) => false,
            (_, Some(status)) if status.is_client_error() => {
                self.falls_short(&segment.key, segment.range.end).await
            }
            _ => false,
        };
        if missing {
            return PartsError::MissingPart(segment.key.clone());
        }
        store_failure(error)
    }

    /// Sends every part, a few at once, stopping at the first failure;
    /// answers their entity-tags in order.
    pub(super) async fn send_parts(
        &self,
        parts: &[PlannedPart],
        target: &Path,
        upload_id: &str,
    ) -> Result<Vec<String>, PartsError> {
        let sends: Vec<BoxFuture<'_, Result<(usize, String), PartsError>>> = parts
            .iter()
            .enumerate()
            .map(|(index, part)| {
                async move {
                    let number = index + 1;
                    let etag = match part {
                        PlannedPart::Copy(segment) => {
                            self.copy_part(segment, target, upload_id, number).await?
                        }
                        PlannedPart::Stream(segments) => {
                            self.stream_part(segments, target, upload_id, number)
                                .await?
                        }
                    };
                    Ok((index, etag))
                }
                .boxed()
            })
            .collect();
        let mut etags: Vec<(usize, String)> = stream::iter(sends)
            .buffer_unordered(PARALLEL_PARTS)
            .try_collect()
            .await?;
        etags.sort_unstable_by_key(|(index, _)| *index);
        Ok(etags.into_iter().map(|(_, etag)| etag).collect())
    }

    async fn copy_part(
        &self,
        segment: &Segment,
        target: &Path,
        upload_id: &str,
        number: usize,
    ) -> Result<String, PartsError> {
        let source = self
            .requests
            .copy_source(self.full_path(segment.key.as_str()).as_ref());
        let mut headers = vec![(COPY_SOURCE.clone(), source)];
        if !segment.whole {
            let range = format!("bytes={}-{}", segment.range.start, segment.range.end - 1);
            headers.push((COPY_SOURCE_RANGE.clone(), range));
        }
        let answer = self
            .requests
            .send_retrying(|| Request {
                method: Method::PUT,
                key: Some(target.as_ref()),
                query: part_query(number, upload_id),
                headers: headers.clone(),
                body: Body::Bytes(Bytes::new()),
                copies: true,
            })
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return Err(self.copy_failure(error, segment).await),
        };
        let copied: CopiedPart = parse(&answer.body).map_err(store_failure)?;
        Ok(copied.e_tag)
    }

    async fn stream_part(
        &self,
        segments: &[Segment],
        target: &Path,
        upload_id: &str,
        number: usize,
    ) -> Result<String, PartsError> {
        let length: u64 = segments.iter().map(|s| s.range.end - s.range.start).sum();
        let mut attempt = 0;
        loop {
            let missing = Arc::new(Mutex::new(None));
            let body = reqwest::Body::wrap_stream(self.read_segments(segments, missing.clone()));
            let sent = self
                .requests
                .send(Request {
                    method: Method::PUT,
                    key: Some(target.as_ref()),
                    query: part_query(number, upload_id),
                    headers: Vec::new(),
                    body: Body::Streamed(body, length),
                    copies: false,
                })
                .await;
            if let Some(key) = missing.lock().take() {
                return Err(PartsError::MissingPart(key));
            }
            match sent {
                Ok(answer) => {
                    let etag = answer.headers.get(http::header::ETAG);
                    let etag = etag.and_then(|etag| etag.to_str().ok()).ok_or_else(|| {
                        store_failure(RequestError::Unreadable("a part without an ETag".into()))
                    })?;
                    return Ok(etag.to_owned());
                }
                Err(error) if error.may_pass() && attempt < 3 => attempt += 1,
                Err(error) => return Err(store_failure(error)),
            }
        }
    }

    /// The bytes of `segments` one after another, read from the bucket;
    /// a source found missing is put in `missing`.
    fn read_segments(
        &self,
        segments: &[Segment],
        missing: Arc<Mutex<Option<ObjectKey>>>,
    ) -> impl futures::Stream<Item = Result<Bytes, object_store::Error>> + Send + 'static {
        let store: Arc<dyn ObjectStore> = self.notes.clone();
        stream::iter(segments.to_vec())
            .then(move |segment| {
                let store = store.clone();
                let missing = missing.clone();
                async move {
                    let options = GetOptions {
                        range: Some(GetRange::Bounded(segment.range.clone())),
                        ..GetOptions::default()
                    };
                    let found = store.get_opts(&path(&segment.key), options).await;
                    let short = match &found {
                        Ok(found) => found.meta.size < segment.range.end,
                        Err(object_store::Error::NotFound { .. }) => true,
                        Err(_) => match store.head(&path(&segment.key)).await {
                            Ok(meta) => meta.size < segment.range.end,
                            Err(error) => matches!(error, object_store::Error::NotFound { .. }),
                        },
                    };
                    if short {
                        *missing.lock() = Some(segment.key.clone());
                        return Err(object_store::Error::NotFound {
                            path: segment.key.to_string(),
                            source: "the source is missing or short".into(),
                        });
                    }
                    found.map(|found| found.into_stream())
                }
            })
            .try_flatten()
    }

    pub(super) async fn complete(
        &self,
        target: &Path,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), PartsError> {
        let mut document = String::from("<CompleteMultipartUpload>");
        for (index, etag) in etags.iter().enumerate() {
            let etag = etag.replace('&', "&amp;").replace('"', "&quot;");
            document.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                index + 1
            ));
        }
        document.push_str("</CompleteMultipartUpload>");
        let document = Bytes::from(document);
        self.requests
            .send_retrying(|| Request {
                method: Method::POST,
                key: Some(target.as_ref()),
                query: vec![("uploadId", upload_id.to_owned())],
                headers: Vec::new(),
                body: Body::Bytes(document.clone()),
                copies: true,
            })
            .await
            .map_err(store_failure)?;
        Ok(())
    }
}

fn part_query(number: usize, upload_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("partNumber", number.to_string()),
        ("uploadId", upload_id.to_owned()),
    ]
}

pub(super) fn store_failure(error: RequestError) -> PartsError {
    PartsError::Store(BlobError(error.into_store_error()))
}
