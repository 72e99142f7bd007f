//! Reading objects out of the store as streams: any object, a published
//! file's (kept open on a folder), and a published file's one object
//! checked to be whole before its first byte.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::{GetOptions, GetRange};

use super::{Backend, BlobError, BlobStore, local_read, path};
use crate::ids::ObjectKey;

impl BlobStore {
    /// Streams an object, or a byte range of it, out of the store.
    pub async fn read(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        self.read_object(key, range, false).await
    }

    /// Streams an object that never changes again (a published file, or a
    /// part of one), or a byte range of it. A local store keeps its file
    /// open for the reads that follow.
    pub async fn read_published(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        self.read_object(key, range, true).await
    }

    /// Streams a published file's one object, whole or the bytes of
    /// `range`, once the store answered that it holds `size` bytes there
    /// (a folder from the open file, a bucket from its answer to the read
    /// itself): a missing object is not found, one of another length
    /// [`is_short`](BlobError::is_short), both before any byte is given.
    pub async fn read_file(
        &self,
        key: &ObjectKey,
        size: u64,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        self.read_checked(key, range, true, Some(size)).await
    }

    async fn read_object(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
        published: bool,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        self.read_checked(key, range, published, None).await
    }

    async fn read_checked(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
        published: bool,
        size: Option<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        if let Backend::Local {
            folder, open_files, ..
        } = &self.backend
        {
            let file = folder.path_to_filesystem(&path(key))?;
            let open_files = published.then_some(open_files);
            let (stream, stored) = local_read::read_local(file, range, open_files, size).await?;
            return match size {
                Some(size) if stored != size => Err(BlobError::other_length(key, stored, size)),
                _ => Ok(stream),
            };
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store().get_opts(&path(key), options).await?;
        match size {
            Some(size) if result.meta.size != size => {
                Err(BlobError::other_length(key, result.meta.size, size))
            }
            _ => Ok(result.into_stream().map_err(BlobError).boxed()),
        }
    }
}
