//! The local file being uploaded: opened once, hashed as a stream, read a
//! chunk at a time by positioned reads, and checked for changes.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use ferry_proto::ContentHash;

use super::error::CliError;
use super::hashing::{content_digest, hash_file, hash_file_and_chunks};
use super::progress::FileBar;

/// A file opened for upload, with the size and time it had when opened.
pub struct LocalFile {
    path: PathBuf,
    file: Arc<File>,
    size: u64,
    modified: Option<SystemTime>,
    digests: OnceLock<ChunkDigests>,
}

/// The SHA-256 of each of a file's chunks of one size, computed while the
/// file was hashed.
struct ChunkDigests {
    chunk_size: u64,
    digests: Vec<ContentHash>,
}

/// A chunk read for sending.
pub struct Chunk {
    /// Its bytes.
    pub bytes: Bytes,
    /// Their `Content-Digest`.
    pub digest: String,
    /// Whether the digest was computed when the file was hashed, not from
    /// these very bytes: a mismatch may then mean the file changed since.
    pub computed_earlier: bool,
}

impl LocalFile {
    /// Opens a regular file for reading.
    pub async fn open(path: &Path) -> Result<Self, CliError> {
        let owned = path.to_owned();
        let (file, metadata) = blocking(path, "opening", move || {
            let file = File::open(&owned)?;
            let metadata = file.metadata()?;
            Ok((file, metadata))
        })
        .await?;
        if !metadata.is_file() {
            return Err(CliError::local(
                "uploading",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        Ok(LocalFile {
            path: path.to_owned(),
            file: Arc::new(file),
            size: metadata.len(),
            modified: metadata.modified().ok(),
            digests: OnceLock::new(),
        })
    }

    /// Its size in bytes when opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hashes the whole file as a stream, moving `bar` along; answers the hex SHA-256.
    pub async fn sha256(&self, bar: &FileBar) -> Result<String, CliError> {
        let file = Arc::clone(&self.file);
        let bar = bar.clone();
        let (hash, hashed) = blocking(&self.path, "hashing", move || {
            hash_file(&file, |n| bar.advance(n))
        })
        .await?;
        if hashed != self.size {
            return Err(self.changed());
        }
        Ok(hash)
    }

    /// Hashes the whole file as [`sha256`](Self::sha256) does, and beside
    /// it the digests of its chunks of `chunk_size`, which
    /// [`chunk`](Self::chunk) then uses.
    pub async fn sha256_and_chunks(
        &self,
        bar: &FileBar,
        chunk_size: u64,
    ) -> Result<String, CliError> {
        let file = Arc::clone(&self.file);
        let bar = bar.clone();
        let (hash, hashed, digests) = blocking(&self.path, "hashing", move || {
            hash_file_and_chunks(&file, chunk_size, |n| bar.advance(n))
        })
        .await?;
        if hashed != self.size {
            return Err(self.changed());
        }
        let _ = self.digests.set(ChunkDigests {
            chunk_size: chunk_size.max(1),
            digests,
        });
        Ok(hash)
    }

    /// Reads the bytes of `span` with their `Content-Digest`: the one
    /// computed when the file was hashed, if `span` is such a chunk.
    pub async fn chunk(&self, span: Range<u64>) -> Result<Chunk, CliError> {
        let known = self.digests.get().and_then(|known| {
            let index = span.start / known.chunk_size;
            let whole = span.start.is_multiple_of(known.chunk_size)
                && span.end == self.size.min(span.start + known.chunk_size);
            let hash = known.digests.get(usize::try_from(index).ok()?)?;
            whole.then(|| ferry_proto::content_digest(hash))
        });
        let bytes = self.read(span).await?;
        Ok(match known {
            Some(digest) => Chunk {
                bytes,
                digest,
                computed_earlier: true,
            },
            None => Chunk {
                digest: content_digest(&bytes),
                bytes,
                computed_earlier: false,
            },
        })
    }

    /// Reads the bytes of `span`.
    pub async fn read(&self, span: Range<u64>) -> Result<Bytes, CliError> {
        let file = Arc::clone(&self.file);
        let length = usize::try_from(span.end.saturating_sub(span.start)).map_err(|_| {
            CliError::local("reading", &self.path, io::ErrorKind::OutOfMemory.into())
        })?;
        blocking(&self.path, "reading", move || {
            let mut bytes = vec![0; length];
            super::hashing::read_exact_at(&file, &mut bytes, span.start)?;
            Ok(Bytes::from(bytes))
        })
        .await
    }

    /// Fails when the file's size or modification time moved since it was opened.
    pub async fn check_unchanged(&self) -> Result<(), CliError> {
        let path = self.path.clone();
        let metadata = blocking(&self.path, "checking", move || std::fs::metadata(path)).await?;
        if metadata.len() != self.size || metadata.modified().ok() != self.modified {
            return Err(self.changed());
        }
        Ok(())
    }

    /// The error of a file that changed while it was being uploaded.
    pub fn changed(&self) -> CliError {
        CliError::Integrity(format!(
            "{} changed while it was being uploaded; run the command again",
            self.path.display()
        ))
    }
}

/// Runs file I/O on the blocking pool, naming the file in any error.
pub(super) async fn blocking<T: Send + 'static>(
    path: &Path,
    what: &str,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)
        .and_then(|done| done)
        .map_err(|error| CliError::local(what, path, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn a_chunk_is_read_at_its_offset_with_its_digest() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"0123456789").expect("write");
        let local = LocalFile::open(file.path()).await.expect("open");
        let chunk = local.chunk(3..7).await.expect("chunk");
        assert_eq!(&chunk.bytes[..], b"3456");
        assert_eq!(chunk.digest, content_digest(b"3456"));
        assert!(!chunk.computed_earlier);
    }

    #[tokio::test]
    async fn a_chunk_takes_the_digest_computed_with_the_file_hash() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"0123456789").expect("write");
        let local = LocalFile::open(file.path()).await.expect("open");
        let hash = local
            .sha256_and_chunks(&FileBar::hidden(), 4)
            .await
            .expect("hash");
        assert_eq!(hash, super::super::hashing::sha256_hex(b"0123456789"));
        for (span, bytes) in [(0..4, &b"0123"[..]), (8..10, b"89")] {
            let chunk = local.chunk(span).await.expect("chunk");
            assert_eq!(&chunk.bytes[..], bytes);
            assert_eq!(chunk.digest, content_digest(bytes));
            assert!(chunk.computed_earlier);
        }
        let other = local.chunk(2..6).await.expect("chunk");
        assert_eq!(other.digest, content_digest(b"2345"));
        assert!(
            !other.computed_earlier,
            "a span of another layout is hashed"
        );
    }

    #[tokio::test]
    async fn the_hash_of_the_file_is_its_sha256() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"abc").expect("write");
        let local = LocalFile::open(file.path()).await.expect("open");
        let hash = local.sha256(&FileBar::hidden()).await.expect("hash");
        assert_eq!(hash, crate::hashing::sha256_hex(b"abc"));
    }

    #[tokio::test]
    async fn a_file_that_grew_is_noticed() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"abc").expect("write");
        let local = LocalFile::open(file.path()).await.expect("open");
        file.write_all(b"def").expect("write");
        let error = local.check_unchanged().await.expect_err("changed");
        assert_eq!(error.status(), 5);
    }

    #[tokio::test]
    async fn a_folder_is_not_uploaded() {
        let folder = tempfile::tempdir().expect("temp dir");
        let error = LocalFile::open(folder.path()).await.err().expect("refused");
        assert_eq!(error.status(), 1);
    }
}
