//! An object store that fails copies on purpose, over a real one: the
//! copies, renames and writes of a file's one object that a merge asks of
//! the store answer the errors a store really gives (a hard link across
//! file systems, access denied, a store that is unreachable for a while),
//! as many times as the test says. It can also
//! hold a chunk's write once the store has it, until the test lets it
//! answer, so that a session can end under a write still under way.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use tokio::sync::Notify;

/// How a copy fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A hard link to another file system (`EXDEV`), as a local folder gives.
    CrossDevice,
    /// Access denied (403), as a bucket gives.
    Denied,
    /// The store did not answer (a reset connection).
    Unreachable,
}

impl Fault {
    fn error(self, path: &Path) -> object_store::Error {
        use std::io::{Error, ErrorKind};
        match self {
            Fault::CrossDevice => object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(Error::from(ErrorKind::CrossesDevices)),
            },
            Fault::Denied => object_store::Error::PermissionDenied {
                path: path.to_string(),
                source: "Access Denied".into(),
            },
            Fault::Unreachable => object_store::Error::Generic {
                store: "S3",
                source: Box::new(Error::from(ErrorKind::ConnectionReset)),
            },
        }
    }
}

/// The faults still to come, shared between a test and its server's store.
#[derive(Debug, Default)]
pub struct Faults {
    copies: Mutex<Option<(Fault, usize)>>,
    chunk_write: Hold,
    file_delete: Hold,
}

/// One request to the store held, once armed, until the test lets it go.
#[derive(Debug, Default)]
struct Hold {
    armed: AtomicBool,
    held: Notify,
    released: Notify,
}

impl Hold {
    /// Holds the next request that `matches`, until released.
    async fn pass(&self, matches: bool) {
        if matches && self.armed.swap(false, Ordering::SeqCst) {
            self.held.notify_one();
            self.released.notified().await;
        }
    }
}

impl Faults {
    /// Fails the next `times` copies (and renames, and writes of a file's
    /// one object) with `fault`.
    pub fn fail_copies(&self, fault: Fault, times: usize) {
        *self.copies.lock().expect("faults lock") = Some((fault, times));
    }

    /// Fails every copy from now on with `fault`.
    pub fn fail_every_copy(&self, fault: Fault) {
        self.fail_copies(fault, usize::MAX);
    }

    /// Lets every copy through again.
    pub fn heal(&self) {
        *self.copies.lock().expect("faults lock") = None;
    }

    /// Holds the next write of a chunk once the store has it, until
    /// [`release_chunk`](Self::release_chunk).
    pub fn hold_next_chunk(&self) {
        self.chunk_write.armed.store(true, Ordering::SeqCst);
    }

    /// Waits until a chunk's write is held.
    pub async fn chunk_held(&self) {
        self.chunk_write.held.notified().await;
    }

    /// Lets the held write answer as the store did.
    pub fn release_chunk(&self) {
        self.chunk_write.released.notify_one();
    }

    /// Holds the next delete of a file's one object before the store
    /// sees it, until [`release_file_delete`](Self::release_file_delete).
    pub fn hold_next_file_delete(&self) {
        self.file_delete.armed.store(true, Ordering::SeqCst);
    }

    /// Waits until a file's delete is held.
    pub async fn file_delete_held(&self) {
        self.file_delete.held.notified().await;
    }

    /// Lets the held delete go to the store.
    pub fn release_file_delete(&self) {
        self.file_delete.released.notify_one();
    }

    /// The fault of a write of a file's one object, counted as a copy:
    /// composing a file writes it where a store cannot join parts itself.
    fn next_file_write(&self, location: &Path) -> Option<Fault> {
        if location.as_ref().starts_with("files/sha256/") {
            self.next_copy()
        } else {
            None
        }
    }

    fn next_copy(&self) -> Option<Fault> {
        let mut copies = self.copies.lock().expect("faults lock");
        let (fault, left) = copies.as_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            *copies = None;
        }
        Some(fault)
    }
}

/// A store that answers as `inner` does but for the faults in `faults`.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`, failing as `faults` says.
    pub fn wrap(inner: Arc<dyn ObjectStore>, faults: Arc<Faults>) -> Arc<dyn ObjectStore> {
        Arc::new(FaultyStore { inner, faults })
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if let Some(fault) = self.faults.next_file_write(location) {
            return Err(fault.error(location));
        }
        let put = self.inner.put_opts(location, payload, opts).await;
        let chunk = location.as_ref().starts_with("chunks/");
        self.faults.chunk_write.pass(chunk).await;
        put
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        if let Some(fault) = self.faults.next_file_write(location) {
            return Err(fault.error(location));
        }
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_range(&self, location: &Path, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(location, range).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    async fn head(&self, location: &Path) -> Result<ObjectMeta> {
        self.inner.head(location).await
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        let file = location.as_ref().starts_with("files/sha256/");
        self.faults.file_delete.pass(file).await;
        self.inner.delete(location).await
    }

    fn delete_stream<'a>(
        &'a self,
        locations: BoxStream<'a, Result<Path>>,
    ) -> BoxStream<'a, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        match self.faults.next_copy() {
            Some(fault) => Err(fault.error(to)),
            None => self.inner.copy(from, to).await,
        }
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        match self.faults.next_copy() {
            Some(fault) => Err(fault.error(to)),
            None => self.inner.rename(from, to).await,
        }
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        match self.faults.next_copy() {
            Some(fault) => Err(fault.error(to)),
            None => self.inner.copy_if_not_exists(from, to).await,
        }
    }

    async fn rename_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.rename_if_not_exists(from, to).await
    }
}
