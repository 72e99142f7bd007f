//! Composing one object in a bucket from chunk objects, by the bucket's own
//! copies: a multipart upload whose parts are copied from the chunks
//! (UploadPartCopy) where they are large enough, and streamed through ferry
//! where they are not; one copy (CopyObject) for a file of one chunk. The
//! upload is noted under `multipart/` like every other, so that a process
//! killed half-way leaves it for the leftover sweep to abort.

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use http::Method;
use http::header::{CONTENT_TYPE, HeaderName};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutOptions, PutPayload};
use parking_lot::Mutex;
use serde::Deserialize;
use std::sync::Arc;

use super::parts::PartsError;
use super::s3_plan::{PlannedPart, Segment, plan};
use super::s3_requests::{Body, Request, RequestError, parse};
use super::tracked::{Note, TrackedBucket};
use super::{BlobError, path};
use crate::ids::ObjectKey;

/// Parts copied or streamed at once.
const PARALLEL_PARTS: usize = 8;

static COPY_SOURCE: HeaderName = HeaderName::from_static("x-amz-copy-source");
static COPY_SOURCE_RANGE: HeaderName = HeaderName::from_static("x-amz-copy-source-range");
static METADATA_DIRECTIVE: HeaderName = HeaderName::from_static("x-amz-metadata-directive");

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Initiated {
    upload_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CopiedPart {
    #[serde(rename = "ETag")]
    e_tag: String,
}

impl TrackedBucket {
    /// Writes `key` (under the prefix) as the bytes of `sources` (keys
    /// under the prefix, with their sizes) one after another, copied by the
    /// bucket wherever it can; answers the bytes ferry streamed itself. On
    /// failure nothing is left: no object, no multipart upload.
    pub(super) async fn compose(
        &self,
        sources: &[(ObjectKey, u64)],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<u64, PartsError> {
        let parts = plan(sources, self.min_part_size);
        let streamed = parts.iter().map(PlannedPart::streamed_bytes).sum();
        let written = match parts.as_slice() {
            [] => self
                .put_empty(key, content_type)
                .await
                .map_err(PartsError::from),
            [PlannedPart::Copy(segment)] if segment.whole => {
                self.copy_object(segment, key, content_type).await
            }
            _ => self.compose_parts(&parts, key, content_type).await,
        };
        match written {
            Err(PartsError::Store(error)) if error.is_permanent() => Err(self
                .short_source(sources)
                .await
                .unwrap_or(PartsError::Store(error))),
            Err(error) => Err(error),
            Ok(()) => {
                let expected: u64 = sources.iter().map(|(_, size)| size).sum();
                let stored = self.notes.head(&path(key)).await.map_err(BlobError)?.size;
                if stored == expected {
                    return Ok(streamed);
                }
                let _ = self.notes.delete(&path(key)).await;
                let error = std::io::Error::other(format!(
                    "the composed object is {stored} bytes, not {expected}"
                ));
                let error = PartsError::Store(BlobError::io("S3", error));
                Err(self.short_source(sources).await.unwrap_or(error))
            }
        }
    }

    /// The first of `sources` that is gone or shorter than said, as a
    /// missing part: why the bucket refused to compose them.
    async fn short_source(&self, sources: &[(ObjectKey, u64)]) -> Option<PartsError> {
        for (source, size) in sources {
            if self.falls_short(source, *size).await {
                return Some(PartsError::MissingPart(source.clone()));
            }
        }
        None
    }

    /// Whether `source` is gone or holds fewer than `end` bytes.
    async fn falls_short(&self, source: &ObjectKey, end: u64) -> bool {
        match self.notes.head(&path(source)).await {
            Ok(meta) => meta.size < end,
            Err(object_store::Error::NotFound { .. }) => true,
            Err(_) => false,
        }
    }

    async fn put_empty(
        &self,
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<(), BlobError> {
        let mut options = PutOptions::default();
        if let Some(content_type) = content_type {
            options.attributes.insert(
                object_store::Attribute::ContentType,
                content_type.to_owned().into(),
            );
        }
        self.notes
            .put_opts(&path(key), PutPayload::default(), options)
            .await?;
        Ok(())
    }

    async fn copy_object(
        &self,
        segment: &Segment,
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<(), PartsError> {
        let target = self.full_path(key.as_str());
        let source = self
            .requests
            .copy_source(self.full_path(segment.key.as_str()).as_ref());
        let mut headers = vec![(COPY_SOURCE.clone(), source)];
        if let Some(content_type) = content_type {
            headers.push((METADATA_DIRECTIVE.clone(), "REPLACE".to_owned()));
            headers.push((CONTENT_TYPE, content_type.to_owned()));
        }
        let copied = self
            .requests
            .send_retrying(|| Request {
                method: Method::PUT,
                key: Some(target.as_ref()),
                query: Vec::new(),
                headers: headers.clone(),
                body: Body::Bytes(Bytes::new()),
                copies: true,
            })
            .await;
        match copied {
            Ok(_) => Ok(()),
            Err(error) => Err(self.copy_failure(error, segment).await),
        }
    }

    async fn compose_parts(
        &self,
        parts: &[PlannedPart],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<(), PartsError> {
        let target = self.full_path(key.as_str());
        let headers: Vec<_> = content_type
            .map(|content_type| (CONTENT_TYPE, content_type.to_owned()))
            .into_iter()
            .collect();
        let answer = self
            .requests
            .send_retrying(|| Request {
                method: Method::POST,
                key: Some(target.as_ref()),
                query: vec![("uploads", String::new())],
                headers: headers.clone(),
                body: Body::Bytes(Bytes::new()),
                copies: false,
            })
            .await
            .map_err(store_failure)?;
        let upload_id = parse::<Initiated>(&answer.body)
            .map_err(store_failure)?
            .upload_id;
        let note = Note {
            key: key.to_string(),
            upload_id: upload_id.clone(),
        };
        let note_path = match self.note(&note).await {
            Ok(note_path) => note_path,
            Err(error) => {
                let _ = self.bucket.abort_multipart(&target, &upload_id).await;
                return Err(PartsError::Store(error.into()));
            }
        };
        let sent = self.send_parts(parts, &target, &upload_id).await;
        let completed = match sent {
            Ok(etags) => self.complete(&target, &upload_id, &etags).await,
            Err(error) => Err(error),
        };
        match completed {
            Ok(()) => {
                if let Err(error) = self.forget_note(&note_path).await {
                    tracing::warn!(%error, "could not remove the note of a composed object");
                }
                Ok(())
            }
            Err(error) => {
                if let Err(abort) = self.abandon(&note_path, &note).await {
                    tracing::warn!(error = %abort, "could not abort a failed compose; the leftover sweep will");
                }
                Err(error)
            }
        }
    }

    /// A failed copy of `segment`: its source is missing when the bucket
    /// says so, or refuses the copy (a 404 that says nothing more, a range
    /// it cannot satisfy) and the source is indeed gone or short.
    async fn copy_failure(&self, error: RequestError, segment: &Segment) -> PartsError {
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
    async fn send_parts(
        &self,
        parts: &[PlannedPart],
        target: &Path,
        upload_id: &str,
    ) -> Result<Vec<String>, PartsError> {
        let sends = parts.iter().enumerate().map(|(index, part)| async move {
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
            Ok::<_, PartsError>((index, etag))
        });
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

    async fn complete(
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

fn store_failure(error: RequestError) -> PartsError {
    PartsError::Store(BlobError(error.into_store_error()))
}

impl super::BlobStore {
    /// A URL that lets its holder GET the object `key` straight from the
    /// bucket for `ttl`, signed with the bucket's credentials; `None` when
    /// the store is not a bucket.
    pub async fn presigned_get(
        &self,
        key: &ObjectKey,
        ttl: std::time::Duration,
    ) -> Result<Option<url::Url>, BlobError> {
        use object_store::signer::Signer;
        match &self.backend {
            super::Backend::Bucket { bucket, .. } => {
                let full = bucket.full_path(key.as_str());
                Ok(Some(
                    bucket.bucket.signed_url(Method::GET, &full, ttl).await?,
                ))
            }
            _ => Ok(None),
        }
    }

    /// Writes `key` as the bytes of `sources` (keys with their sizes) one
    /// after another, copied by the bucket itself wherever it can; answers
    /// the bytes ferry streamed itself, or `None` when the store is not a
    /// bucket. On failure nothing is left: no object, no multipart upload.
    pub async fn compose_in_bucket(
        &self,
        sources: &[(ObjectKey, u64)],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<Option<u64>, PartsError> {
        match &self.backend {
            super::Backend::Bucket { bucket, .. } => {
                Ok(Some(bucket.compose(sources, key, content_type).await?))
            }
            _ => Ok(None),
        }
    }
}
