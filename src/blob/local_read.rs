//! Reading an object of a local store in large pieces. The store's own
//! reads hand out 8 KiB pieces, each one a hop to the blocking pool; a read
//! of 256 KiB costs one hop too, so a download makes thirty-two times fewer,
//! while a slow reader holds little more than a piece or two.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::BlobError;

/// Bytes read at once.
const PIECE: u64 = 256 << 10;

/// Streams the file at `path`, or the byte range `range` of it (end
/// exclusive), in pieces of up to [`PIECE`] bytes.
pub(super) async fn read_local(
    path: PathBuf,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(BlobError(object_store::Error::NotFound {
                path: path.display().to_string(),
                source: Box::new(error),
            }));
        }
        Err(error) => return Err(BlobError::io("local", error)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| BlobError::io("local", e))?
        .len();
    let Range { start, end } = range.unwrap_or(0..len);
    if start > end || end > len {
        return Err(BlobError::io(
            "local",
            std::io::Error::other(format!("bytes {start}..{end} are not within {len}")),
        ));
    }
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| BlobError::io("local", e))?;
    let pieces = stream::try_unfold((file, end - start), |(file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = left.min(PIECE);
        let mut piece = BytesMut::with_capacity(want as usize);
        let mut limited = file.take(want);
        while (piece.len() as u64) < want {
            if limited.read_buf(&mut piece).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the object ended before its size",
                ));
            }
        }
        Ok(Some((piece.freeze(), (limited.into_inner(), left - want))))
    });
    Ok(pieces.map_err(|e| BlobError::io("local", e)).boxed())
}
