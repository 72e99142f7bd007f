//! Reading an object of a local store in large pieces, read ahead.
//!
//! Each piece is read straight into its own buffer by a positioned read on
//! the blocking pool: one hop and one copy per piece. Opening the file and
//! reading its first piece are one hop, so a small range costs a single
//! one. While a piece is being sent, the next two are read, so that disk
//! and socket work at once; a slow reader holds at most those two pieces
//! besides the one being sent.
//!
//! An object that never changes again (a published file, or a part of
//! one) stays open in [`OpenFiles`] once read. A later read of one piece
//! or less (a range, as a CDN asks for) takes it on the calling thread when
//! the kernel has every byte of it in memory, asking with `RWF_NOWAIT` so
//! that a piece on disk is never waited for there; such a piece, and every
//! piece of a longer read, is read on the blocking pool, leaving the
//! calling thread to send.

use std::fs::File;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, UnitWeighter};

use super::{BlobError, on_blocking_pool};

/// Bytes read at once.
const PIECE: u64 = 256 << 10;

/// Pieces read ahead of the one being sent.
const READ_AHEAD: usize = 2;

/// Most files kept open, so that the descriptors held stay bounded
/// whatever is downloaded; a full set lets go first the files least read
/// again.
const OPEN_FILES: usize = 256;

/// Shards of the set of open files: one, so that a full set holds exactly
/// [`OPEN_FILES`]. Its lock is shared by readers, and taken alone only to
/// keep a file newly opened.
const SHARDS: usize = 1;

/// An object's file, open, with its length.
#[derive(Debug)]
struct OpenFile {
    file: File,
    len: u64,
    /// Whether its file system refused a read that does not wait, so that
    /// none is tried again.
    waits_always: AtomicBool,
}

/// Files of objects that never change again, kept open for later reads.
#[derive(Clone)]
pub(super) struct OpenFiles(Arc<Cache<PathBuf, Arc<OpenFile>>>);

impl Default for OpenFiles {
    fn default() -> Self {
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(OPEN_FILES)
            .weight_capacity(OPEN_FILES as u64)
            .shards(SHARDS)
            .build()
            .unwrap_or_else(|_| unreachable!("both capacities are set"));
        OpenFiles(Arc::new(Cache::with_options(
            options,
            UnitWeighter,
            DefaultHashBuilder::default(),
            DefaultLifecycle::default(),
        )))
    }
}

impl OpenFiles {
    /// The open file of the object at `path`, when it is kept.
    fn get(&self, path: &Path) -> Option<Arc<OpenFile>> {
        self.0.get(path)
    }

    /// Lets the open file of the object at `path` go.
    fn forget(&self, path: &Path) {
        self.0.remove(path);
    }

    /// Keeps the open file of the object at `path`. A full set lets another
    /// go, and closes it once the set is unlocked.
    fn keep(&self, path: PathBuf, file: Arc<OpenFile>) {
        self.0.insert(path, file);
    }
}

impl std::fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFiles")
            .field("kept", &self.0.len())
            .finish()
    }
}

/// Streams the file at `path`, or the byte range `range` of it (end
/// exclusive), in pieces of up to [`PIECE`] bytes. With `open_files`, the
/// file never changes again: it is taken from there, or kept there once
/// opened. With `expected`, a kept file is used only while it is still the
/// file at `path` at that length, and a file found at another length is
/// not read. Answers the stream and the length found.
pub(super) async fn read_local(
    path: PathBuf,
    range: Option<Range<u64>>,
    open_files: Option<&OpenFiles>,
    expected: Option<u64>,
) -> Result<(BoxStream<'static, Result<Bytes, BlobError>>, u64), BlobError> {
    let kept = open_files.and_then(|files| files.get(&path));
    let kept = match (kept, expected) {
        (Some(open), Some(expected)) if !still_whole(&open, expected) => {
            if let Some(files) = open_files {
                files.forget(&path);
            }
            None
        }
        (kept, _) => kept,
    };
    if let Some(open) = kept {
        let Range { start, end } = within(range, open.len)?;
        let first_end = end.min(start + PIECE);
        let whole_at_once = first_end == end;
        let first = match whole_at_once.then(|| read_if_in_memory(&open, start..end)) {
            Some(Some(first)) => first,
            _ => {
                let again = open.clone();
                on_blocking_pool(move || read_piece(&again.file, start..first_end)).await?
            }
        };
        let len = open.len;
        return Ok((stream_on(open, first, first_end..end), len));
    }
    let opened = on_blocking_pool(move || {
        let file = match open_without_access_time(&path) {
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
        if expected.is_some_and(|expected| expected != len) {
            return Ok(Err(len));
        }
        let Range { start, end } = within(range, len)?;
        let first_end = end.min(start + PIECE);
        let first = read_piece(&file, start..first_end)?;
        let open = OpenFile {
            file,
            len,
            waits_always: AtomicBool::new(false),
        };
        Ok(Ok(((path, open), first, first_end..end)))
    })
    .await?;
    let ((path, open), first, rest) = match opened {
        Ok(opened) => opened,
        Err(len) => return Ok((stream::empty().boxed(), len)),
    };
    let open = Arc::new(open);
    let len = open.len;
    if let Some(files) = open_files {
        files.keep(path, open.clone());
    }
    Ok((stream_on(open, first, rest), len))
}

/// Whether a kept open file is still the object at its path, at
/// `expected` bytes: not removed (a removed file stays readable while it
/// is open) nor cut short since it was opened. One `fstat`, answered from
/// the kernel's memory.
fn still_whole(open: &OpenFile, expected: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    match open.file.metadata() {
        Ok(meta) => meta.nlink() > 0 && meta.len() == expected && open.len == expected,
        Err(_) => false,
    }
}

/// The bytes of `range` of an object of `len` bytes: all of them when
/// `range` is `None`.
fn within(range: Option<Range<u64>>, len: u64) -> Result<Range<u64>, BlobError> {
    let range = range.unwrap_or(0..len);
    if range.start > range.end || range.end > len {
        return Err(BlobError::io(
            "local",
            std::io::Error::other(format!(
                "bytes {}..{} are not within {len}",
                range.start, range.end
            )),
        ));
    }
    Ok(range)
}

/// The stream of `first`, then of the pieces of `rest` read from `open`.
fn stream_on(
    open: Arc<OpenFile>,
    first: Bytes,
    rest: Range<u64>,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let rest = stream::iter(pieces(rest))
        .map(move |piece| {
            let open = open.clone();
            on_blocking_pool(move || read_piece(&open.file, piece))
        })
        .buffered(READ_AHEAD);
    let first = (!first.is_empty()).then_some(Ok(first));
    stream::iter(first).chain(rest).boxed()
}

/// The byte ranges of the pieces that cover `range`.
fn pieces(range: Range<u64>) -> impl Iterator<Item = Range<u64>> + Send + 'static {
    (range.start..range.end)
        .step_by(PIECE as usize)
        .map(move |start| start..range.end.min(start + PIECE))
}

/// Reads the bytes of `range` of `file`, all of them.
fn read_piece(file: &File, range: Range<u64>) -> Result<Bytes, BlobError> {
    let len = (range.end - range.start) as usize;
    let mut piece = Vec::with_capacity(len);
    while piece.len() < len {
        match read_more(file, &mut piece, range.start) {
            Ok(0) => {
                return Err(BlobError::io(
                    "local",
                    std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the object ended before its size",
                    ),
                ));
            }
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(BlobError::io("local", error)),
        }
    }
    Ok(Bytes::from(piece))
}

/// Appends to `piece`, the bytes of `file` from `start` on, what one read
/// of the bytes after them gives, up to its capacity, without first
/// filling it with zeroes.
#[cfg(target_os = "linux")]
fn read_more(file: &File, piece: &mut Vec<u8>, start: u64) -> std::io::Result<usize> {
    let offset = start + piece.len() as u64;
    Ok(rustix::io::pread(
        file,
        rustix::buffer::spare_capacity(piece),
        offset,
    )?)
}

/// Appends to `piece`, the bytes of `file` from `start` on, what one read
/// of the bytes after them gives, up to its capacity.
#[cfg(not(target_os = "linux"))]
fn read_more(file: &File, piece: &mut Vec<u8>, start: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let filled = piece.len();
    let offset = start + filled as u64;
    piece.resize(piece.capacity(), 0);
    let read = file.read_at(&mut piece[filled..], offset);
    piece.truncate(filled + read.as_ref().map_or(0, |read| *read));
    read
}

/// Opens `path` for reading without updating its access time, which
/// would write to the disk, where the file system allows it.
#[cfg(target_os = "linux")]
fn open_without_access_time(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path);
    match opened {
        Err(error) if error.kind() == ErrorKind::PermissionDenied => File::open(path),
        opened => opened,
    }
}

/// Elsewhere a file opens as usual.
#[cfg(not(target_os = "linux"))]
fn open_without_access_time(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// The bytes of `range` of `open` when the kernel holds all of them in
/// memory, read without waiting; `None` when any would have to come from
/// the disk, or when its file system cannot tell.
#[cfg(target_os = "linux")]
fn read_if_in_memory(open: &OpenFile, range: Range<u64>) -> Option<Bytes> {
    use rustix::io::{Errno, IoSliceMut, ReadWriteFlags, preadv2};
    if open.waits_always.load(Ordering::Relaxed) {
        return None;
    }
    let mut piece = vec![0; (range.end - range.start) as usize];
    let read = preadv2(
        &open.file,
        &mut [IoSliceMut::new(&mut piece)],
        range.start,
        ReadWriteFlags::NOWAIT,
    );
    match read {
        Ok(read) if read == piece.len() => Some(Bytes::from(piece)),
        Ok(_) | Err(Errno::AGAIN) => None,
        Err(_) => {
            open.waits_always.store(true, Ordering::Relaxed);
            None
        }
    }
}

/// Elsewhere every piece is read on the blocking pool.
#[cfg(not(target_os = "linux"))]
fn read_if_in_memory(_open: &OpenFile, _range: Range<u64>) -> Option<Bytes> {
    None
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    fn opened(path: &Path, len: u64) -> OpenFile {
        OpenFile {
            file: File::open(path).unwrap(),
            len,
            waits_always: AtomicBool::new(false),
        }
    }

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    async fn read(path: &Path, range: Option<Range<u64>>) -> Vec<Bytes> {
        read_kept(path, range, None).await
    }

    async fn read_kept(
        path: &Path,
        range: Option<Range<u64>>,
        open_files: Option<&OpenFiles>,
    ) -> Vec<Bytes> {
        read_local(path.to_path_buf(), range, open_files, None)
            .await
            .unwrap()
            .0
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
    async fn a_kept_file_serves_the_same_bytes_as_a_fresh_open() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let data = bytes(2 * PIECE as usize + 9);
        std::fs::write(&path, &data).unwrap();
        let files = OpenFiles::default();
        let kept = |range| read_kept(&path, range, Some(&files));
        assert_eq!(kept(None).await.concat(), data);
        assert!(files.get(&path).is_some());
        for range in [0..1, 3..PIECE + 3, PIECE - 1..2 * PIECE + 9, 4..4] {
            let expected = &data[range.start as usize..range.end as usize];
            assert_eq!(
                kept(Some(range.clone())).await.concat(),
                expected,
                "{range:?}"
            );
        }
        let past_end = read_local(path.clone(), Some(5..2 * PIECE + 10), Some(&files), None).await;
        assert!(past_end.is_err());
    }

    #[tokio::test]
    async fn a_kept_file_removed_or_cut_short_since_is_not_read() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let data = bytes(1000);
        std::fs::write(&path, &data).unwrap();
        let files = OpenFiles::default();
        let expected = Some(1000);
        let (_, len) = read_local(path.clone(), None, Some(&files), expected)
            .await
            .unwrap();
        assert_eq!(len, 1000);
        assert!(files.get(&path).is_some());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(400)
            .unwrap();
        let (_, len) = read_local(path.clone(), None, Some(&files), expected)
            .await
            .unwrap();
        assert_eq!(len, 400, "the length found, not the one kept");
        std::fs::write(&path, &data).unwrap();
        let (_, len) = read_local(path.clone(), None, Some(&files), expected)
            .await
            .unwrap();
        assert_eq!(len, 1000, "a file written anew is opened anew");
        std::fs::remove_file(&path).unwrap();
        let gone = read_local(path, None, Some(&files), expected)
            .await
            .map(|_| ());
        assert!(
            gone.unwrap_err().is_not_found(),
            "a removed file, though kept open"
        );
    }

    #[test]
    fn a_read_without_waiting_gives_every_byte_or_none() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let data = bytes(100_000);
        std::fs::write(&path, &data).unwrap();
        let open = opened(&path, 100_000);
        for range in [0..100_000, 17..65_553, 99_999..100_000] {
            let read = read_if_in_memory(&open, range.clone());
            #[cfg(target_os = "linux")]
            match read {
                Some(read) => assert_eq!(read, data[range.start as usize..range.end as usize]),
                None => assert!(
                    open.waits_always.load(Ordering::Relaxed),
                    "{range:?} of a file just written was not read at once, \
                     though its file system reads without waiting"
                ),
            }
            #[cfg(not(target_os = "linux"))]
            assert_eq!(read, None, "only Linux reads without waiting");
        }
        assert_eq!(read_if_in_memory(&open, 90_000..100_001), None);
    }

    #[test]
    fn the_files_kept_open_stay_bounded() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        std::fs::write(&path, b"x").unwrap();
        let files = OpenFiles::default();
        for i in 0..OPEN_FILES + 10 {
            files.keep(
                folder.path().join(i.to_string()),
                Arc::new(opened(&path, 1)),
            );
        }
        assert_eq!(files.0.len(), OPEN_FILES);
        assert!(
            files
                .get(&folder.path().join((OPEN_FILES + 9).to_string()))
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_missing_object_and_a_range_past_its_end_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("object");
        let missing = read_local(path.clone(), None, None, None).await.map(|_| ());
        assert!(missing.unwrap_err().is_not_found());
        std::fs::write(&path, bytes(10)).unwrap();
        assert!(read_local(path, Some(5..11), None, None).await.is_err());
    }
}
