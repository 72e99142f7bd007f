//! One object being written: held in memory while it is smaller than a part,
//! then sent part by part, each part but the last exactly one part size
//! (what S3 requires, and R2 more strictly). A multipart upload is always
//! completed or aborted, also when the write is dropped half-way.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use object_store::{Attributes, MultipartUpload, PutOptions, PutPayload};
use parking_lot::Mutex;
use tokio::task::JoinSet;

use super::backend::Backend;

/// Parts sent at once; memory is one part being filled plus these.
const PARTS_IN_FLIGHT: usize = 2;

/// Aborts of multipart uploads whose writes were dropped, still running.
#[derive(Debug, Clone, Default)]
pub(super) struct PendingAborts(Arc<Mutex<JoinSet<()>>>);

impl PendingAborts {
    fn spawn(&self, upload: Box<dyn MultipartUpload>, path: Path) {
        let mut aborts = self.0.lock();
        while aborts.try_join_next().is_some() {}
        aborts.spawn(async move { abort(upload, &path).await });
    }

    /// Waits for every abort started so far.
    pub(super) async fn settle(&self) {
        let mut aborts = std::mem::take(&mut *self.0.lock());
        while aborts.join_next().await.is_some() {}
    }
}

/// A write of one object, streaming.
pub(super) struct ObjectWriter {
    backend: Backend,
    aborts: PendingAborts,
    path: Path,
    part_size: usize,
    buffer: BytesMut,
    attributes: Attributes,
    upload: Option<Box<dyn MultipartUpload>>,
    parts: JoinSet<object_store::Result<()>>,
}

impl ObjectWriter {
    /// A write to `path` in `backend`, in its parts once it needs parts; if
    /// it is dropped unfinished, its abort joins `aborts`.
    pub(super) fn new(backend: Backend, aborts: PendingAborts, path: Path) -> Self {
        ObjectWriter {
            part_size: backend.part_size(),
            backend,
            aborts,
            path,
            buffer: BytesMut::new(),
            attributes: Attributes::new(),
            upload: None,
            parts: JoinSet::new(),
        }
    }

    /// The same write, its object carrying `attributes` (its media type)
    /// where the store keeps them.
    pub(super) fn with_attributes(mut self, attributes: Attributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Adds bytes to the object, sending each part once it is full and more
    /// follows, so that an object of at most one part is one request.
    pub(super) async fn put(&mut self, mut bytes: Bytes) -> object_store::Result<()> {
        while !bytes.is_empty() {
            if self.buffer.len() == self.part_size {
                self.send_part().await?;
            }
            let room = self.part_size - self.buffer.len();
            let piece = bytes.split_to(room.min(bytes.len()));
            self.buffer.extend_from_slice(&piece);
        }
        Ok(())
    }

    async fn send_part(&mut self) -> object_store::Result<()> {
        let part = std::mem::take(&mut self.buffer).freeze();
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => {
                let attributes = self.attributes.clone();
                let started = self.backend.start_multipart(&self.path, attributes).await?;
                self.upload.insert(started)
            }
        };
        while self.parts.len() >= PARTS_IN_FLIGHT {
            finished(self.parts.join_next().await)?;
        }
        self.parts.spawn(upload.put_part(PutPayload::from(part)));
        Ok(())
    }

    /// Stores what was put as the object: one request for a small object,
    /// the last part and the completion for a large one. On failure
    /// nothing is kept.
    pub(super) async fn finish(mut self) -> object_store::Result<()> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        let Some(mut upload) = self.upload.take() else {
            let options = PutOptions {
                attributes: std::mem::take(&mut self.attributes),
                ..PutOptions::default()
            };
            self.backend
                .store()
                .put_opts(&self.path, PutPayload::from(rest), options)
                .await?;
            return Ok(());
        };
        if !rest.is_empty() {
            self.parts.spawn(upload.put_part(PutPayload::from(rest)));
        }
        let mut result = Ok(());
        while let Some(part) = self.parts.join_next().await {
            result = result.and(finished(Some(part)));
        }
        if let Err(error) = result {
            abort(upload, &self.path).await;
            return Err(error);
        }
        if let Err(error) = upload.complete().await {
            abort(upload, &self.path).await;
            return Err(error);
        }
        Ok(())
    }

    /// Gives the write up, removing every part already sent.
    pub(super) async fn abort(mut self) {
        self.parts.shutdown().await;
        if let Some(upload) = self.upload.take() {
            abort(upload, &self.path).await;
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        self.parts.abort_all();
        if tokio::runtime::Handle::try_current().is_ok() {
            self.aborts.spawn(upload, self.path.clone());
        } else {
            tracing::warn!(path = %self.path, "a dropped write left its multipart upload behind");
        }
    }
}

fn finished(
    part: Option<Result<object_store::Result<()>, tokio::task::JoinError>>,
) -> object_store::Result<()> {
    match part {
        None => Ok(()),
        Some(Ok(result)) => result,
        Some(Err(error)) => Err(object_store::Error::Generic {
            store: "writer",
            source: Box::new(error),
        }),
    }
}

async fn abort(mut upload: Box<dyn MultipartUpload>, path: &Path) {
    if let Err(error) = upload.abort().await {
        tracing::warn!(%path, %error, "could not abort a multipart upload");
    }
}
