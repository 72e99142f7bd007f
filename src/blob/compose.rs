//! Composing a published file: staged chunks (or the parts of a file in the
//! old layout) joined into the one object at the file's stable key, and a
//! one-request upload's object moved there. The object appears whole or not
//! at all: a folder writes a temporary file beside it and renames it into
//! place; a bucket's object appears when its upload completes.

use std::fs::File;
use std::io::ErrorKind;
use std::path::PathBuf;

use futures::TryStreamExt;
use object_store::Attributes;

use super::writer::ObjectWriter;
use super::{Backend, BlobError, BlobStore, PartsError, key, on_blocking_pool, path};
use crate::ids::{ObjectKey, WriteToken};

/// One object a file is composed of, with its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposePart {
    /// Its key in the store.
    pub key: ObjectKey,
    /// Its length in bytes.
    pub size: u64,
}

/// What composing a file cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Composed {
    /// Bytes that passed through ferry on their way to the object; none
    /// when the store joined them itself.
    pub streamed_bytes: u64,
}

impl BlobStore {
    /// Joins `parts`, in order, into one object at `key`, carrying
    /// `content_type` where the store keeps one. The object appears only
    /// whole and durable; a part missing or shorter than said is
    /// [`PartsError::MissingPart`], and then nothing appears at `key`.
    pub async fn compose(
        &self,
        parts: &[ComposePart],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<Composed, PartsError> {
        let temporary = Self::attempt_key(key, &WriteToken::generate());
        self.compose_via(parts, key, &temporary, content_type).await
    }

    /// Composes as [`compose`](Self::compose) does, writing a folder's
    /// temporary file at `temporary` (the key a merge's lease names, so
    /// that a dead attempt's file is found); a bucket writes none.
    pub async fn compose_via(
        &self,
        parts: &[ComposePart],
        key: &ObjectKey,
        temporary: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<Composed, PartsError> {
        match &self.backend {
            Backend::Local { .. } => self.compose_local(parts, key, temporary).await,
            Backend::Bucket { bucket, .. } => {
                self.compose_in_bucket(bucket, parts, key, content_type)
                    .await
            }
            Backend::Other { .. } => self.compose_streaming(parts, key, content_type).await,
        }
    }

    /// The key of one attempt's temporary object beside `key`.
    pub fn attempt_key(key: &ObjectKey, token: &WriteToken) -> ObjectKey {
        self::key(format!("{key}.{token}"))
    }

    /// Joins the parts in the kernel (`copy_file_range`, a reflink where the
    /// file system shares blocks) into a temporary file beside `key`, checks
    /// its length, flushes it and renames it into place.
    async fn compose_local(
        &self,
        parts: &[ComposePart],
        key: &ObjectKey,
        temporary: &ObjectKey,
    ) -> Result<Composed, PartsError> {
        let Backend::Local { folder, .. } = &self.backend else {
            unreachable!("only a local store composes on its disk");
        };
        let sources: Vec<(ObjectKey, PathBuf, u64)> = parts
            .iter()
            .map(|part| {
                let file = folder.path_to_filesystem(&path(&part.key))?;
                Ok((part.key.clone(), file, part.size))
            })
            .collect::<Result<_, object_store::Error>>()
            .map_err(BlobError)?;
        let target = folder
            .path_to_filesystem(&path(temporary))
            .map_err(BlobError)?;
        let written = on_blocking_pool(move || Ok(join_files(&sources, &target))).await?;
        if let Err(error) = written {
            let _ = self.delete(temporary).await;
            return Err(error);
        }
        if let Err(error) = self.store().rename(&path(temporary), &path(key)).await {
            let _ = self.delete(temporary).await;
            return Err(PartsError::Store(error.into()));
        }
        self.flush_folder(key).await?;
        Ok(Composed::default())
    }

    /// Streams the parts through ferry into one multipart write, a part
    /// size of memory at a time.
    pub(super) async fn compose_streaming(
        &self,
        parts: &[ComposePart],
        key: &ObjectKey,
        content_type: Option<&str>,
    ) -> Result<Composed, PartsError> {
        let total = parts.iter().map(|part| part.size).sum();
        let (backend, aborts) = (self.backend.clone(), self.aborts.clone());
        let mut writer = ObjectWriter::new(backend, aborts, path(key), total, false)
            .with_attributes(attributes(content_type));
        let mut streamed = 0u64;
        for part in parts {
            match self.stream_part(part, &mut writer).await {
                Ok(bytes) => streamed += bytes,
                Err(error) => {
                    writer.abort().await;
                    return Err(error);
                }
            }
        }
        writer.finish().await.map_err(BlobError)?;
        Ok(Composed {
            streamed_bytes: streamed,
        })
    }

    async fn stream_part(
        &self,
        part: &ComposePart,
        writer: &mut ObjectWriter,
    ) -> Result<u64, PartsError> {
        let missing = |error: object_store::Error| match error {
            object_store::Error::NotFound { .. } => PartsError::MissingPart(part.key.clone()),
            error => PartsError::Store(error.into()),
        };
        let got = self.store().get(&path(&part.key)).await.map_err(missing)?;
        if got.meta.size != part.size {
            return Err(PartsError::MissingPart(part.key.clone()));
        }
        let mut bytes = got.into_stream();
        let mut sent = 0u64;
        while let Some(piece) = bytes.try_next().await.map_err(missing)? {
            sent += piece.len() as u64;
            writer.put(piece).await.map_err(BlobError)?;
        }
        if sent != part.size {
            return Err(PartsError::MissingPart(part.key.clone()));
        }
        Ok(sent)
    }

    /// Moves the object at `from` to `to`, whole: a rename on a folder, a
    /// server-side copy and then a delete of `from` elsewhere.
    pub async fn place(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Local { .. } => {
                self.store().rename(&path(from), &path(to)).await?;
                self.flush_folder(to).await?;
                self.flush_folder(from).await
            }
            Backend::Bucket { .. } | Backend::Other { .. } => {
                self.copy_object(from, to).await?;
                self.delete(from).await
            }
        }
    }

    /// Copies the object at `from` to `to`, whole, by the store itself.
    pub async fn copy_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BlobError> {
        Ok(self.store().copy(&path(from), &path(to)).await?)
    }

    /// Whether [`place`](Self::place) is one rename, which leaves nothing
    /// behind if cut off.
    pub fn moves_by_rename(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    /// Flushes the folder holding `key` on a local store.
    async fn flush_folder(&self, key: &ObjectKey) -> Result<(), BlobError> {
        let Backend::Local { folder, .. } = &self.backend else {
            return Ok(());
        };
        let file = folder.path_to_filesystem(&path(key))?;
        super::on_local_disk(move || match file.parent() {
            Some(parent) => File::open(parent)?.sync_all(),
            None => Ok(()),
        })
        .await
    }
}

/// The attributes an object carries for its media type.
fn attributes(content_type: Option<&str>) -> Attributes {
    let mut attributes = Attributes::new();
    if let Some(content_type) = content_type {
        attributes.insert(
            object_store::Attribute::ContentType,
            content_type.to_owned().into(),
        );
    }
    attributes
}

/// Appends every source file to a new file at `target`, in the kernel where
/// it can, checking each source's length and the whole, and flushes it.
fn join_files(sources: &[(ObjectKey, PathBuf, u64)], target: &PathBuf) -> Result<(), PartsError> {
    let local = |error: std::io::Error| PartsError::Store(BlobError::io("local", error));
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(local)?;
    }
    let mut joined = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(local)?;
    let mut total = 0u64;
    for (key, source, size) in sources {
        let mut part = match File::open(source) {
            Ok(part) => part,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(PartsError::MissingPart(key.clone()));
            }
            Err(error) => return Err(local(error)),
        };
        if part.metadata().map_err(local)?.len() != *size {
            return Err(PartsError::MissingPart(key.clone()));
        }
        let copied = std::io::copy(&mut part, &mut joined).map_err(local)?;
        if copied != *size {
            return Err(PartsError::MissingPart(key.clone()));
        }
        total += copied;
    }
    if joined.metadata().map_err(local)?.len() != total {
        let short = std::io::Error::other("the composed file is not the length of its parts");
        return Err(local(short));
    }
    joined.sync_all().map_err(local)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    use super::*;

    async fn stage(blobs: &BlobStore, name: &str, bytes: &[u8]) -> ComposePart {
        let key = key(format!("chunks/test/{name}"));
        let source =
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(bytes))]);
        blobs.write(&key, source, u64::MAX).await.unwrap();
        ComposePart {
            key,
            size: bytes.len() as u64,
        }
    }

    async fn stored(blobs: &BlobStore, key: &ObjectKey) -> Vec<u8> {
        let pieces: Vec<Bytes> = blobs
            .read(key, None)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        pieces.concat()
    }

    #[tokio::test]
    async fn a_folder_joins_the_parts_in_place_and_a_missing_one_leaves_nothing() {
        let folder = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(&folder.path().display().to_string()).unwrap();
        let parts = [
            stage(&blobs, "0", &[1; 3000]).await,
            stage(&blobs, "1", &[2; 100]).await,
        ];
        let target = key("files/sha256/joined".to_owned());
        let composed = blobs.compose(&parts, &target, None).await.unwrap();
        assert_eq!(composed.streamed_bytes, 0, "joined by the kernel");
        assert_eq!(
            stored(&blobs, &target).await,
            [[1; 3000].as_slice(), &[2; 100]].concat()
        );

        let gone = ComposePart {
            key: key("chunks/test/gone".to_owned()),
            size: 5,
        };
        let other = key("files/sha256/other".to_owned());
        let refused = blobs
            .compose(&[parts[0].clone(), gone.clone()], &other, None)
            .await;
        assert!(matches!(refused, Err(PartsError::MissingPart(part)) if part == gone.key));
        let short = ComposePart {
            size: 101,
            ..parts[1].clone()
        };
        let refused = blobs
            .compose(std::slice::from_ref(&short), &other, None)
            .await;
        assert!(matches!(refused, Err(PartsError::MissingPart(part)) if part == short.key));
        let left: Vec<_> = std::fs::read_dir(folder.path().join("files/sha256"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["joined"], "no temporary file, no object");
    }

    #[tokio::test]
    async fn a_streamed_compose_carries_the_media_type_and_counts_its_bytes() {
        let memory = Arc::new(InMemory::new());
        let blobs = BlobStore::new(memory.clone(), 1 << 10);
        let parts = [
            stage(&blobs, "0", &[7; 1500]).await,
            stage(&blobs, "1", &[8; 700]).await,
        ];
        let target = key("files/sha256/streamed".to_owned());
        let composed = blobs
            .compose(&parts, &target, Some("video/mp4"))
            .await
            .unwrap();
        assert_eq!(composed.streamed_bytes, 2200);
        assert_eq!(
            stored(&blobs, &target).await,
            [[7; 1500].as_slice(), &[8; 700]].concat()
        );
        let got = memory.get(&path(&target)).await.unwrap();
        let media = got.attributes.get(&object_store::Attribute::ContentType);
        assert_eq!(media.map(|value| value.as_ref()), Some("video/mp4"));
    }
}
