//! A compose's multipart upload while it is neither completed nor aborted.
//! A compose can be dropped at any await (a merge handed back as its
//! instance stops); the upload it began is then aborted, and its note
//! forgotten, in the background, where the store's `settle` waits for it.
//! The upload is begun on a task of its own, so that one the bucket
//! created while the compose was dropped is aborted too, though the compose
//! never learned its id.

use http::header::HeaderName;
use object_store::path::Path;
use tokio::task::JoinHandle;

use super::parts::PartsError;
use super::tracked::{Note, TrackedBucket};
use super::writer::PendingAborts;
use crate::ids::ObjectKey;

/// A multipart upload begun and noted.
#[derive(Debug, Clone)]
pub(super) struct Begun {
    /// The upload's id in the bucket.
    pub(super) upload_id: String,
    /// Where its note is.
    pub(super) note_path: Path,
    /// The note.
    pub(super) note: Note,
}

/// An upload begun and not yet completed or aborted by its compose.
pub(super) struct Unfinished {
    bucket: TrackedBucket,
    begun: Option<Begun>,
    aborts: PendingAborts,
}

impl Unfinished {
    /// `begun`, aborted if this is dropped before [`settle`](Self::settle).
    pub(super) fn new(bucket: &TrackedBucket, begun: Begun, aborts: &PendingAborts) -> Self {
        Unfinished {
            bucket: bucket.clone(),
            begun: Some(begun),
            aborts: aborts.clone(),
        }
    }

    /// The compose completed or aborted the upload itself.
    pub(super) fn settle(&mut self) {
        self.begun = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(begun) = self.begun.take() {
            abandon_later(
                &self.aborts,
                self.bucket.clone(),
                async move { Some(begun) },
            );
        }
    }
}

/// The beginning of an upload, on its own task, until its compose takes it.
struct Beginning {
    task: Option<JoinHandle<Result<Begun, PartsError>>>,
    bucket: TrackedBucket,
    aborts: PendingAborts,
}

impl Drop for Beginning {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            abandon_later(&self.aborts, self.bucket.clone(), async move {
                task.await.ok().and_then(Result::ok)
            });
        }
    }
}

impl TrackedBucket {
    /// Begins and notes the multipart upload of `key` on a task of its
    /// own: if the caller is dropped meanwhile, the upload is aborted once
    /// begun.
    pub(super) async fn begin_shielded(
        &self,
        key: &ObjectKey,
        headers: Vec<(HeaderName, String)>,
        aborts: &PendingAborts,
    ) -> Result<Begun, PartsError> {
        let bucket = self.clone();
        let key = key.clone();
        let mut beginning = Beginning {
            task: Some(tokio::spawn(async move {
                bucket.begin_noted(&key, headers).await
            })),
            bucket: self.clone(),
            aborts: aborts.clone(),
        };
        let task = beginning.task.as_mut().expect("a task just spawned");
        let begun = task.await;
        beginning.task = None;
        match begun {
            Ok(begun) => begun,
            Err(error) => Err(PartsError::Store(super::BlobError::io(
                "S3",
                std::io::Error::other(error),
            ))),
        }
    }
}

/// Aborts the upload `begun` answers, if any, in the background.
fn abandon_later(
    aborts: &PendingAborts,
    bucket: TrackedBucket,
    begun: impl Future<Output = Option<Begun>> + Send + 'static,
) {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::warn!("a dropped compose left its multipart upload for the leftover sweep");
        return;
    }
    aborts.spawn_abort(async move {
        let Some(begun) = begun.await else {
            return;
        };
        if let Err(error) = bucket.abandon(&begun.note_path, &begun.note).await {
            tracing::warn!(%error, "could not abort a dropped compose; the leftover sweep will");
        }
    });
}
