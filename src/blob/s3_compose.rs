//! Composing one object in a bucket from chunk objects, by the bucket's own
//! copies: a multipart upload whose parts are copied from the chunks
//! (UploadPartCopy) where they are large enough, and streamed through ferry
//! where they are not; one copy (CopyObject) for a file of one chunk, and
//! one streamed write for a file too small for more than one part. The
//! upload is noted under `multipart/` like every other, so that a process
//! killed half-way leaves it for the leftover sweep to abort; a compose
//! dropped half-way (a merge handed back as its instance stops) aborts it
//! at once, in the background, where the store's `settle` waits for it.

use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderName};
use object_store::ObjectStore;
use object_store::multipart::MultipartStore;
use serde::Deserialize;

use super::compose::{ComposePart, Composed};
use super::parts::PartsError;
use super::s3_multipart::{COPY_SOURCE, store_failure};
use super::s3_plan::{PlannedPart, Segment, plan};
use super::s3_requests::{Body, Request, parse};
use super::s3_unfinished::{Begun, Unfinished};
use super::tracked::{Note, TrackedBucket};
use super::writer::PendingAborts;
use super::{BlobError, path};
use crate::ids::ObjectKey;

static METADATA_DIRECTIVE: HeaderName = HeaderName::from_static("x-amz-metadata-directive");

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Initiated {
    upload_id: String,
}

impl TrackedBucket {
    /// Writes `key` (under the prefix) as the bytes of `sources` (keys
    /// under the prefix) one after another, in the `parts` planned for
    /// them, copied by the bucket wherever it can; answers the bytes ferry
    /// streamed itself. On failure nothing is left: no object, no
    /// multipart upload.
    async fn compose(
        &self,
        sources: &[ComposePart],
        parts: &[PlannedPart],
        key: &ObjectKey,
        content_type: Option<&str>,
        aborts: &PendingAborts,
    ) -> Result<Composed, PartsError> {
        let streamed = parts.iter().map(PlannedPart::streamed_bytes).sum();
        let written = match parts {
            [PlannedPart::Copy(segment)] if segment.whole => {
                self.copy_object(segment, key, content_type).await
            }
            _ => self.compose_parts(parts, key, content_type, aborts).await,
        };
        match written {
            Err(PartsError::Store(error)) if error.is_permanent() => Err(self
                .short_source(sources)
                .await
                .unwrap_or(PartsError::Store(error))),
            Err(error) => Err(error),
            Ok(()) => {
                let expected: u64 = sources.iter().map(|source| source.size).sum();
                let stored = self.notes.head(&path(key)).await.map_err(BlobError)?.size;
                if stored == expected {
                    return Ok(Composed {
                        streamed_bytes: streamed,
                    });
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
    async fn short_source(&self, sources: &[ComposePart]) -> Option<PartsError> {
        for source in sources {
            if self.falls_short(&source.key, source.size).await {
                return Some(PartsError::MissingPart(source.key.clone()));
            }
        }
        None
    }

    /// Whether `source` is gone or holds fewer than `end` bytes.
    pub(super) async fn falls_short(&self, source: &ObjectKey, end: u64) -> bool {
        match self.notes.head(&path(source)).await {
            Ok(meta) => meta.size < end,
            Err(object_store::Error::NotFound { .. }) => true,
            Err(_) => false,
        }
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

    /// Starts the multipart upload of `key` and notes it, answering its
    /// id and note.
    pub(super) async fn begin_noted(
        &self,
        key: &ObjectKey,
        headers: Vec<(HeaderName, String)>,
    ) -> Result<Begun, PartsError> {
        let target = self.full_path(key.as_str());
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
        match self.note(&note).await {
            Ok(note_path) => Ok(Begun {
                upload_id,
                note_path,
                note,
            }),
            Err(error) => {
                let _ = self.bucket.abort_multipart(&target, &upload_id).await;
                Err(PartsError::Store(error.into()))
            }
        }
    }

    async fn compose_parts(
        &self,
        parts: &[PlannedPart],
        key: &ObjectKey,
        content_type: Option<&str>,
        aborts: &PendingAborts,
    ) -> Result<(), PartsError> {
        let target = self.full_path(key.as_str());
        let headers: Vec<_> = content_type
            .map(|content_type| (CONTENT_TYPE, content_type.to_owned()))
            .into_iter()
            .collect();
        let begun = self.begin_shielded(key, headers, aborts).await?;
        let Begun {
            upload_id,
            note_path,
            note,
        } = begun.clone();
        let mut unfinished = Unfinished::new(self, begun, aborts);
        let sent = self.send_parts(parts, &target, &upload_id).await;
        let completed = match sent {
            Ok(etags) => self.complete(&target, &upload_id, &etags).await,
            Err(error) => Err(error),
        };
        match completed {
            Ok(()) => {
                unfinished.settle();
                if let Err(error) = self.forget_note(&note_path).await {
                    tracing::warn!(%error, "could not remove the note of a composed object");
                }
                Ok(())
            }
            Err(error) => {
                if let Err(abort) = self.abandon(&note_path, &note).await {
                    tracing::warn!(error = %abort, "could not abort a failed compose; the leftover sweep will");
                }
                unfinished.settle();
                Err(error)
            }
        }
    }
}

impl super::BlobStore {
    /// Composes `key` in `bucket` from `sources`, copied by the bucket
    /// wherever it can (see [`TrackedBucket::compose`]); a file that makes
    /// at most one part is streamed through the store as one write.
    pub(super) async fn compose_in_bucket(
        &self,
        bucket: &TrackedBucket,
        sources: &[ComposePart],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<Composed, PartsError> {
        let parts = plan(sources, bucket.min_part_size);
        match parts.as_slice() {
            [] | [PlannedPart::Stream(_)] => {
                self.compose_streaming(sources, key, content_type).await
            }
            _ => {
                bucket
                    .compose(sources, &parts, key, content_type, &self.aborts)
                    .await
            }
        }
    }

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
}
