//! Files stored as parts, the layout files were published in before each
//! became one object: a merged upload's chunks, kept in order under the
//! file's key as `<key>/<index>` by the store's own copy, read across until
//! they are moved, and deleted whole.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{Backend, BlobError, BlobStore, key, on_local_disk, path};
use crate::ids::ObjectKey;

/// Parts a merge has the store copy at once.
const PARALLEL_COPIES: usize = 8;

/// Why a file could not be stored as parts.
#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    /// A part is not in the store.
    #[error("the part {0} is missing")]
    MissingPart(ObjectKey),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] BlobError),
}

impl BlobStore {
    /// Stores the objects `parts` as the parts of a new file `key`: part `i`
    /// is `<key>/<i>`, the same bytes as `parts[i]`, copied by the store
    /// itself (a hard link on a local disk, a server-side copy in a bucket),
    /// and durable once this returns. On failure the caller deletes `key`.
    /// This is how files were published before each became one object;
    /// it builds stores of that layout, to move them over.
    pub async fn copy_parts(&self, parts: &[ObjectKey], key: &ObjectKey) -> Result<(), PartsError> {
        let copies: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(index, part)| {
                let store = self.store();
                let (from, to) = (part.clone(), Self::part_key(key, index as u64));
                async move {
                    match store.copy(&path(&from), &path(&to)).await {
                        Ok(()) => Ok(()),
                        Err(object_store::Error::NotFound { .. }) => {
                            Err(PartsError::MissingPart(from))
                        }
                        Err(error) => Err(PartsError::Store(error.into())),
                    }
                }
            })
            .collect();
        let copied: Vec<Result<(), PartsError>> = futures::stream::iter(copies)
            .buffer_unordered(PARALLEL_COPIES)
            .collect()
            .await;
        copied.into_iter().collect::<Result<(), PartsError>>()?;
        if !parts.is_empty() {
            self.flush(key, 2).await?;
        }
        Ok(())
    }

    /// The length of the object at `key`; `None` when it is not there.
    pub async fn stored_size(&self, key: &ObjectKey) -> Result<Option<u64>, BlobError> {
        match self.store().head(&path(key)).await {
            Ok(object) => Ok(Some(object.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The key of part `index` of the file stored in parts under `key`.
    pub fn part_key(key: &ObjectKey, index: u64) -> ObjectKey {
        self::key(format!("{key}/{index}"))
    }

    /// The key that a published file or a merge names for an object under
    /// `files/`: the object itself, or the file it is a part of.
    pub fn file_of(object: &ObjectKey) -> ObjectKey {
        let text = object.as_str();
        let segments: Vec<&str> = text.split('/').collect();
        match segments.as_slice() {
            ["files", sha256, token, _part] if *sha256 != "direct" => {
                key(format!("files/{sha256}/{token}"))
            }
            _ => object.clone(),
        }
    }

    /// Streams a published file stored in parts of `part_size` bytes under `key`,
    /// `size` bytes in all, or the bytes of `range` of it (end exclusive,
    /// not empty). The next two parts are opened while one is being sent;
    /// on a local store each of them reads its first piece, so a slow
    /// reader holds at most five pieces (about 1.25 MiB).
    pub async fn read_parts(
        &self,
        key: &ObjectKey,
        part_size: u64,
        size: u64,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let range = range.unwrap_or(0..size);
        let part_size = part_size.max(1);
        let first = range.start / part_size;
        let last = range.end.saturating_sub(1) / part_size;
        let within = move |index: u64| {
            let start = index * part_size;
            range.start.max(start) - start..range.end.min(start + part_size) - start
        };
        let head = self
            .read_published(&Self::part_key(key, first), Some(within(first)))
            .await?;
        let store = self.clone();
        let key = key.clone();
        let rest = futures::stream::iter(first + 1..=last)
            .map(move |index| {
                let store = store.clone();
                let part = Self::part_key(&key, index);
                let bytes = within(index);
                async move { store.read_published(&part, Some(bytes)).await }
            })
            .buffered(2)
            .try_flatten();
        Ok(head.chain(rest).boxed())
    }

    /// Whether the store holds the whole file `key` of `size` bytes: its
    /// one object at that length, or, with a `part_size`, each of its parts
    /// `<key>/<index>` at its length and nothing else.
    pub async fn holds_file(
        &self,
        key: &ObjectKey,
        size: u64,
        part_size: Option<u64>,
    ) -> Result<bool, BlobError> {
        let Some(part_size) = part_size else {
            return match self.store().head(&path(key)).await {
                Ok(object) => Ok(object.size == size),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(error) => Err(error.into()),
            };
        };
        let part_size = part_size.max(1);
        let count = size.div_ceil(part_size);
        let stored: Vec<_> = self.store().list(Some(&path(key))).try_collect().await?;
        let stored: std::collections::HashMap<String, u64> = stored
            .into_iter()
            .map(|part| (part.location.to_string(), part.size))
            .collect();
        let whole = (0..count).all(|index| {
            let expected = part_size.min(size - index * part_size);
            let part = path(&Self::part_key(key, index)).to_string();
            stored.get(&part) == Some(&expected)
        });
        Ok(whole && stored.len() as u64 == count)
    }

    /// Deletes a file: its one object, or all of its parts. On a local
    /// store the folder of parts goes whole, with any link a copy cut off
    /// midway left in it, and so does the folder of a file's own object
    /// once empty; the folder every file's one object shares stays.
    pub async fn delete_file(&self, key: &ObjectKey) -> Result<(), BlobError> {
        let Backend::Local { folder, .. } = &self.backend else {
            self.delete_prefix(&format!("{key}/")).await?;
            return self.delete(key).await;
        };
        let file = folder.path_to_filesystem(&path(key))?;
        let shared_folder = key.as_str().starts_with("files/sha256/");
        on_local_disk(move || {
            let removed = match std::fs::symlink_metadata(&file) {
                Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&file),
                Ok(_) => std::fs::remove_file(&file),
                Err(error) => Err(error),
            };
            match removed {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            if let Some(folder) = file.parent().filter(|_| !shared_folder) {
                let _ = std::fs::remove_dir(folder);
            }
            Ok(())
        })
        .await
    }
}
