//! What a store is, and what each kind needs of its own: a local folder
//! (read by positioned reads, its published files kept open, every write
//! flushed), an S3-compatible bucket (its multipart uploads noted), or any
//! other object store.

use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{Attributes, MultipartUpload, ObjectStore, PutMultipartOptions};
use url::Url;

use super::local_read::OpenFiles;
use super::s3::{self, S3Options};
use super::tracked::TrackedBucket;
use super::{BlobError, LOCAL_PIECE};

/// Bytes each streamed write to memory buffers at once.
const MEMORY_PART: usize = 1 << 20;

/// One kind of object store, with what that kind needs.
#[derive(Debug, Clone)]
pub(super) enum Backend {
    /// A folder on a local disk.
    Local {
        /// The folder, as an object store.
        folder: Arc<LocalFileSystem>,
        /// The store keys are read from and written to: the folder, or a
        /// layer around it.
        store: Arc<dyn ObjectStore>,
        /// Published files kept open for the reads that follow.
        open_files: OpenFiles,
    },
    /// An S3-compatible bucket whose multipart uploads leave notes.
    Bucket {
        /// The bucket, and the store of every key under its prefix.
        bucket: TrackedBucket,
        /// Bytes of each part of a multipart upload.
        part_size: usize,
    },
    /// Any other object store: in memory, or one a caller wraps.
    Other {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// Bytes of each part of a multipart upload.
        part_size: usize,
    },
}

impl Backend {
    /// Opens the store named by `location`: `memory://`, a `file://` URL or
    /// a plain folder path, created if missing, or an `s3://` bucket
    /// reached as `s3` says.
    pub(super) fn open(location: &str, s3: &S3Options) -> Result<Self, BlobError> {
        if location == "memory://" || location == "memory:///" {
            return Ok(Backend::Other {
                store: Arc::new(InMemory::new()),
                part_size: MEMORY_PART,
            });
        }
        let folder = match Url::parse(location) {
            Ok(url) if url.scheme() == "file" => url.to_file_path().map_err(|()| {
                BlobError::io(
                    "local",
                    std::io::Error::other(format!("{location} is not a usable file URL")),
                )
            })?,
            Ok(url) if url.scheme() == "s3" => {
                return Ok(Backend::Bucket {
                    bucket: s3::open(&url, s3)?,
                    part_size: s3.part_size,
                });
            }
            Ok(url) if url.scheme().len() > 1 => {
                return Err(BlobError::io(
                    "config",
                    std::io::Error::other(format!(
                        "the object store {location} is not one this server opens: \
                         use a folder, file:///PATH, s3://BUCKET[/PREFIX] or memory://"
                    )),
                ));
            }
            _ => FsPath::new(location).to_path_buf(),
        };
        std::fs::create_dir_all(&folder).map_err(|e| BlobError::io("local", e))?;
        let folder =
            Arc::new(LocalFileSystem::new_with_prefix(&folder)?.with_automatic_cleanup(true));
        Ok(Backend::Local {
            store: folder.clone(),
            folder,
            open_files: OpenFiles::default(),
        })
    }

    /// This store with its object store wrapped by `wrap` (a layer that
    /// counts, delays or injects faults), keeping a folder's own paths and
    /// a bucket's notes.
    pub(super) fn wrapped(
        self,
        wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    ) -> Self {
        match self {
            Backend::Local {
                folder,
                store,
                open_files,
            } => Backend::Local {
                folder,
                store: wrap(store),
                open_files,
            },
            Backend::Bucket {
                mut bucket,
                part_size,
            } => {
                bucket.notes = wrap(bucket.notes);
                Backend::Bucket { bucket, part_size }
            }
            Backend::Other { store, part_size } => Backend::Other {
                store: wrap(store),
                part_size,
            },
        }
    }

    /// The store every key is read from and written to.
    pub(super) fn store(&self) -> &dyn ObjectStore {
        match self {
            Backend::Local { store, .. } => store.as_ref(),
            Backend::Bucket { bucket, .. } => bucket.notes.as_ref(),
            Backend::Other { store, .. } => store.as_ref(),
        }
    }

    /// Bytes each streamed write buffers: one part of a multipart upload.
    pub(super) fn part_size(&self) -> usize {
        match self {
            Backend::Local { .. } => LOCAL_PIECE,
            Backend::Bucket { part_size, .. } | Backend::Other { part_size, .. } => *part_size,
        }
    }

    /// Starts a multipart upload of `path`, its object to carry
    /// `attributes`; in a bucket, noted first (a noted upload carries none).
    pub(super) async fn start_multipart(
        &self,
        path: &Path,
        attributes: Attributes,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        match self {
            Backend::Bucket { bucket, .. } => bucket.start(path).await,
            other => {
                let options = PutMultipartOptions {
                    attributes,
                    ..PutMultipartOptions::default()
                };
                other.store().put_multipart_opts(path, options).await
            }
        }
    }
}
