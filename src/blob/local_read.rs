//! Reading an object of a local store in large pieces, read ahead.
//!
//! Each piece is read straight into its own buffer by a positioned read on
//! the blocking pool: one hop and one copy per piece. Opening the file and
//! reading its first piece are one hop, so a small range costs a single
//! one. While a piece is being sent, the next two are read, so that disk
//! and socket work at once; a slow reader holds at most those two pieces
//! besides the one being sent.

use std::fs::File;
use std::io::ErrorKind;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use super::BlobError;

/// Bytes read at once.
const PIECE: u64 = 256 << 10;

/// Pieces read ahead of the one being sent.
const READ_AHEAD: usize = 2;

/// Streams the file at `path`, or the byte range `range` of it (end
/// exclusive), in pieces of up to [`PIECE`] bytes.
pub(super) async fn read_local(
    path: PathBuf,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
    let (file, first, rest) = blocking(move || {
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(BlobError(object_store::Error::NotFound {
                    path: path.display().to_string(),
                    source: Box::new(error),
                }));
            }
            Err(error) => return Err(BlobError::io("local", error)),
        };
        let len = file
            .metadata()
            .map_err(|e| BlobError::io("local", e))?
            .len();
        let Range { start, end } = range.unwrap_or(0..len);
        if start > end || end > len {
            return Err(BlobError::io(
                "local",
                std::io::Error::other(format!("bytes {start}..{end} are not within {len}")),
            ));
        }
        let first_end = end.min(start + PIECE);
        let first = read_piece(&file, start..first_end)?;
        Ok((file, first, first_end..end))
    })
    .await?;
    let file = Arc::new(file);
    let rest = stream::iter(pieces(rest))
        .map(move |piece| {
            let file = file.clone();
            blocking(move || read_piece(&file, piece))
        })
        .buffered(READ_AHEAD);
    let first = (!first.is_empty()).then_some(Ok(first));
    Ok(stream::iter(first).chain(rest).boxed())
}

/// The byte ranges of the pieces that cover `range`.
fn pieces(range: Range<u64>) -> impl Iterator<Item = Range<u64>> + Send + 'static {
    (range.start..range.end)
        .step_by(PIECE as usize)
        .map(move |start| start..range.end.min(start + PIECE))
}

/// Reads the bytes of `range` of `file`, all of them.
fn read_piece(file: &File, range: Range<u64>) -> Result<Bytes, BlobError> {
    let mut piece = vec![0; (range.end - range.start) as usize];
    file.read_exact_at(&mut piece, range.start)
        .map_err(|error| match error.kind() {
            ErrorKind::UnexpectedEof => BlobError::io(
                "local",
                std::io::Error::new(ErrorKind::UnexpectedEof, "the object ended before its size"),
            ),
            _ => BlobError::io("local", error),
        })?;
    Ok(Bytes::from(piece))
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::io("local", std::io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    async fn read(path: &std::path::Path, range: Option<Range<u64>>) -> Vec<Bytes> {
        read_local(path.to_path_buf(), range)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_file_and_its_ranges_read_back_exactly_in_pieces() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let data = bytes(3 * PIECE as usize + 100);
        std::fs::write(&path, &data).unwrap();
        let whole = read(&path, None).await;
        assert_eq!(
            whole.iter().map(Bytes::len).collect::<Vec<_>>(),
            [PIECE as usize, PIECE as usize, PIECE as usize, 100]
        );
        assert_eq!(whole.concat(), data);
        for range in [0..1, 5..PIECE + 5, PIECE..3 * PIECE + 100, 7..7] {
            let expected = &data[range.start as usize..range.end as usize];
            assert_eq!(
                read(&path, Some(range.clone())).await.concat(),
                expected,
                "{range:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_object_and_a_range_past_its_end_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let missing = read_local(path.clone(), None).await.map(|_| ());
        assert!(missing.unwrap_err().is_not_found());
        std::fs::write(&path, bytes(10)).unwrap();
        assert!(read_local(path, Some(5..11)).await.is_err());
    }
}
