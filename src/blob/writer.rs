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

/// Largest object whose bytes a write keeps in memory when asked to.
const KEPT_MAX: u64 = 8 << 20;

/// Aborts of multipart uploads whose writes were dropped, still running.
#[derive(Debug, Clone, Default)]
pub(super) struct PendingAborts(Arc<Mutex<JoinSet<()>>>);

impl PendingAborts {
    fn spawn(&self, upload: Box<dyn MultipartUpload>, path: Path) {
        self.spawn_abort(async move { abort(upload, &path).await });
    }

    /// Runs `abort`, an abort of a dropped write, until it ends or
    /// [`settle`](Self::settle) waits for it.
    pub(super) fn spawn_abort(&self, abort: impl Future<Output = ()> + Send + 'static) {
        let mut aborts = self.0.lock();
        while aborts.try_join_next().is_some() {}
        aborts.spawn(abort);
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
    kept: Option<Vec<Bytes>>,
}

impl ObjectWriter {
    /// A write of at most `limit` bytes to `path` in `backend`, in its
    /// parts once it needs parts, keeping its bytes if `keep` and they fit
    /// [`KEPT_MAX`]; if it is dropped unfinished, its abort joins `aborts`.
    pub(super) fn new(
        backend: Backend,
        aborts: PendingAborts,
        path: Path,
        limit: u64,
        keep: bool,
    ) -> Self {
        let part_size = backend.part_size();
        ObjectWriter {
            kept: (keep && limit <= KEPT_MAX).then(Vec::new),
            buffer: BytesMut::with_capacity(first_buffer(part_size, limit)),
            part_size,
            backend,
            aborts,
            path,
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
        let next = BytesMut::with_capacity(self.part_size);
        let part = std::mem::replace(&mut self.buffer, next).freeze();
        if let Some(kept) = &mut self.kept {
            kept.push(part.clone());
        }
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
    /// nothing is kept. Answers the object's bytes, in pieces, when the
    /// write was asked to keep them.
    pub(super) async fn finish(mut self) -> object_store::Result<Option<Vec<Bytes>>> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        let mut kept = self.kept.take();
        if let Some(kept) = &mut kept {
            kept.push(rest.clone());
        }
        let Some(mut upload) = self.upload.take() else {
            let options = PutOptions {
                attributes: std::mem::take(&mut self.attributes),
                ..PutOptions::default()
            };
            self.backend
                .store()
                .put_opts(&self.path, PutPayload::from(rest), options)
                .await?;
            return Ok(kept);
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
        Ok(kept)
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

/// Bytes the writer's first buffer holds: the whole object when it fits
/// in a part, else one part.
fn first_buffer(part_size: usize, limit: u64) -> usize {
    usize::try_from(limit).map_or(part_size, |limit| limit.min(part_size))
}

/// Most bytes a write of at most `limit` holds in memory at once: the part
/// being filled and those being sent, or the whole object when it is kept.
pub(super) fn buffered(part_size: usize, limit: u64, keep: bool) -> u64 {
    let first = first_buffer(part_size, limit) as u64;
    if keep && limit <= KEPT_MAX {
        limit
    } else {
        limit.min(first * (1 + PARTS_IN_FLIGHT as u64))
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
