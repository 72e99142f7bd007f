//! `ferry download`: fetch a published file into `PATH.<hash>.part`,
//! resuming what an earlier run left there, verify its SHA-256 against the
//! ETag, and only then rename it into place. An existing file is never
//! replaced without `--force`.
//!
//! The partial file is named after the content (the first 16 hex digits of
//! its SHA-256), so it is only ever resumed for the same bytes: a `.part`
//! left by another version of `PATH` is never spliced onto this one, and is
//! left alone. Ranges are fetched in parallel but written in order, so the
//! `.part` is always a prefix of the file: its length alone says where to
//! resume, and no other local state is needed. Memory is bounded by
//! `parallel` ranges.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, stream};
use indicatif::BinaryBytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::task::AbortOnDropHandle;
use url::Url;

use super::client::{Client, ClientError, RangeAnswer, next_piece};
use super::error::CliError;
use super::hashing::hash_reader;
use super::local::blocking;
use super::plan;
use super::progress::FileBar;
use super::target::FileTarget;

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Where to save the file (a folder receives the offered name).
    pub output: Option<PathBuf>,
    /// Ranges in flight at once.
    pub parallel: usize,
    /// Replace the output file if it exists.
    pub force: bool,
}

/// What one download did; printed as one JSON object with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadReport {
    /// Where the verified file now is.
    pub path: String,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes fetched by this run.
    pub downloaded_bytes: u64,
    /// Bytes taken from the `.part` an earlier run left.
    pub resumed_bytes: u64,
    /// Time the whole download took, verification included.
    pub seconds: f64,
}

impl DownloadReport {
    /// The report as one line for a person.
    pub fn words(&self) -> String {
        format!(
            "saved {} ({}, sha256 verified; fetched {}, resumed {}; {:.1}s)",
            self.path,
            BinaryBytes(self.size),
            BinaryBytes(self.downloaded_bytes),
            BinaryBytes(self.resumed_bytes),
            self.seconds
        )
    }
}

/// Downloads `target`, resuming the `.part` of the same content, and
/// answers once the verified file is in place.
pub async fn download(
    client: &Client,
    target: &FileTarget,
    options: &DownloadOptions,
    bar: &FileBar,
) -> Result<DownloadReport, CliError> {
    let started = Instant::now();
    let head = client.retrying(|| client.head_file(&target.url)).await?;
    let etag = format!("\"{}\"", target.sha256);
    if head.etag != etag {
        return Err(ClientError::Unexpected(format!(
            "{} is served with ETag {}, not the sha256 it names",
            target.url, head.etag
        ))
        .into());
    }
    let output = target.output_path(options.output.as_deref(), head.disposition.as_deref());
    if !options.force {
        refuse_existing(&output)?;
    }
    let part = part_path(&output, &target.sha256);
    let (file, resumed) = open_part(&part, head.size).await?;
    bar.phase("checking", resumed, 0);
    let (file, hasher) = hash_prefix(&part, file, resumed, bar.clone()).await?;
    bar.phase("downloading", head.size, resumed);
    let fetcher = Arc::new(Fetcher {
        client: client.clone(),
        url: target.url.clone(),
        size: head.size,
        etag,
        bar: bar.clone(),
    });
    let segments = plan::segments(resumed, head.size, options.parallel);
    let (file, hasher) = fetcher
        .fetch_all(&part, file, hasher, segments, options.parallel.max(1))
        .await?;
    let actual = hex::encode(hasher.finalize());
    if actual != target.sha256 {
        drop(file);
        let removed = std::fs::remove_file(&part).is_ok();
        return Err(CliError::Integrity(format!(
            "the downloaded bytes hash to {actual}, not {}; {} {}",
            target.sha256,
            if removed {
                "removed"
            } else {
                "could not remove"
            },
            part.display()
        )));
    }
    if !options.force {
        refuse_existing(&output)?;
    }
    finish_part(&part, &output, file).await?;
    Ok(DownloadReport {
        path: output.display().to_string(),
        sha256: target.sha256.clone(),
        size: head.size,
        downloaded_bytes: head.size - resumed,
        resumed_bytes: resumed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Fails when something already exists at `output` (a dangling link too).
fn refuse_existing(output: &Path) -> Result<(), CliError> {
    match std::fs::symlink_metadata(output) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CliError::local("checking", output, error)),
        Ok(_) => Err(CliError::local(
            "not replacing",
            output,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists; give --force to replace it",
            ),
        )),
    }
}

/// Hex digits of the SHA-256 that name a partial file.
const PART_HASH_DIGITS: usize = 16;

/// `PATH.<first 16 hex digits of sha256>.part`.
fn part_path(output: &Path, sha256: &str) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".");
    name.push(sha256.get(..PART_HASH_DIGITS).unwrap_or(sha256));
    name.push(".part");
    PathBuf::from(name)
}

/// Opens (or creates) the `.part`; one longer than the file cannot be a
/// prefix of it and is emptied. Answers the file and how much of it to keep.
async fn open_part(part: &Path, size: u64) -> Result<(File, u64), CliError> {
    let path = part.to_owned();
    blocking(part, "opening", move || {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut kept = file.metadata()?.len();
        if kept > size {
            file.set_len(0)?;
            kept = 0;
        }
        Ok((file, kept))
    })
    .await
}

/// Hashes the first `length` bytes of the `.part` and leaves the file
/// positioned after them.
async fn hash_prefix(
    part: &Path,
    mut file: File,
    length: u64,
    bar: FileBar,
) -> Result<(File, Sha256), CliError> {
    blocking(part, "reading", move || {
        let mut hasher = Sha256::new();
        file.seek(SeekFrom::Start(0))?;
        let hashed = hash_reader(&mut file, &mut hasher, Some(length), |n| bar.advance(n))?;
        if hashed != length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank",
            ));
        }
        file.seek(SeekFrom::Start(length))?;
        Ok((file, hasher))
    })
    .await
}

/// Flushes the verified `.part` to disk and renames it into place.
async fn finish_part(part: &Path, output: &Path, file: File) -> Result<(), CliError> {
    let (from, to) = (part.to_owned(), output.to_owned());
    blocking(output, "saving", move || {
        file.sync_all()?;
        drop(file);
        std::fs::rename(&from, &to)
    })
    .await
}

/// Fetches ranges of one file.
struct Fetcher {
    client: Client,
    url: Url,
    size: u64,
    etag: String,
    bar: FileBar,
}

impl Fetcher {
    /// Fetches `segments` with `parallel` in flight, appending each to the
    /// `.part` and the hash in order.
    async fn fetch_all(
        self: &Arc<Self>,
        part: &Path,
        mut file: File,
        mut hasher: Sha256,
        segments: Vec<Range<u64>>,
        parallel: usize,
    ) -> Result<(File, Sha256), CliError> {
        let mut fetched = stream::iter(segments)
            .map(|range| AbortOnDropHandle::new(tokio::spawn(Arc::clone(self).fetch(range))))
            .buffered(parallel);
        while let Some(joined) = fetched.next().await {
            let bytes = joined
                .map_err(|error| CliError::local("fetching", part, io::Error::other(error)))??;
            (file, hasher) = blocking(part, "writing", move || {
                file.write_all(&bytes)?;
                hasher.update(&bytes);
                Ok((file, hasher))
            })
            .await?;
        }
        Ok((file, hasher))
    }

    /// Fetches one range whole, picking up where a cut answer stopped.
    /// Every failed attempt counts against the policy's attempts, even one
    /// that brought bytes, so a link that cuts every answer short is not
    /// tried without end; the pause grows only while attempts bring nothing,
    /// and is never shorter than the server's `Retry-After`.
    async fn fetch(self: Arc<Self>, range: Range<u64>) -> Result<Vec<u8>, CliError> {
        let length = usize::try_from(range.end - range.start)
            .map_err(|_| ClientError::Unexpected("a range too large for memory".into()))?;
        let mut bytes = Vec::with_capacity(length);
        let policy = self.client.policy();
        let (mut failures, mut barren) = (0, 0);
        while bytes.len() < length {
            let before = bytes.len();
            let from = range.start + before as u64;
            let Err(error) = self.fetch_into(from..range.end, &mut bytes).await else {
                continue;
            };
            if !error.is_transient() {
                return Err(error.into());
            }
            failures += 1;
            barren = if bytes.len() > before { 1 } else { barren + 1 };
            let pause = policy.pause(failures, 0.0).and(policy.pause_after(
                barren,
                rand::random::<f64>(),
                error.retry_after(),
            ));
            match pause {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(error.into()),
            }
        }
        Ok(bytes)
    }

    /// One request for `range`, appending what arrives to `bytes`.
    async fn fetch_into(&self, range: Range<u64>, bytes: &mut Vec<u8>) -> Result<(), ClientError> {
        let wanted = bytes.len() as u64 + (range.end - range.start);
        let answer = self
            .client
            .get_range(&self.url, range, self.size, &self.etag)
            .await?;
        let mut response = match answer {
            RangeAnswer::Partial(response) => response,
            RangeAnswer::Changed => {
                return Err(ClientError::Unexpected(format!(
                    "{} answered a range request with the whole file: it ignores \
                     If-Range {} or no longer serves that file",
                    self.url, self.etag
                )));
            }
        };
        while let Some(piece) = next_piece(&mut response).await? {
            if bytes.len() as u64 + piece.len() as u64 > wanted {
                return Err(ClientError::Unexpected(format!(
                    "{} sent more bytes than the range asked for",
                    self.url
                )));
            }
            bytes.extend_from_slice(&piece);
            self.bar.advance(piece.len() as u64);
        }
        if (bytes.len() as u64) < wanted {
            return Err(ClientError::Network(format!(
                "{}: the answer ended early",
                self.url
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn the_part_file_sits_next_to_the_output_named_after_the_content() {
        assert_eq!(
            part_path(Path::new("a/b.iso"), SHA),
            PathBuf::from("a/b.iso.9f86d081884c7d65.part")
        );
    }

    #[test]
    fn other_content_under_the_same_name_has_another_part_file() {
        let other = "0".repeat(64);
        assert_ne!(
            part_path(Path::new("report.pdf"), SHA),
            part_path(Path::new("report.pdf"), &other)
        );
    }

    #[test]
    fn an_existing_file_is_not_replaced() {
        let folder = tempfile::tempdir().expect("temp dir");
        let output = folder.path().join("x.bin");
        assert!(refuse_existing(&output).is_ok());
        std::fs::write(&output, b"mine").expect("write");
        let error = refuse_existing(&output).expect_err("exists");
        assert_eq!(error.status(), 1);
        assert!(error.to_string().contains("--force"), "{error}");
    }

    #[tokio::test]
    async fn a_part_longer_than_the_file_is_emptied() {
        let folder = tempfile::tempdir().expect("temp dir");
        let part = folder.path().join("x.part");
        std::fs::write(&part, b"0123456789").expect("write");
        let (_, kept) = open_part(&part, 4).await.expect("open");
        assert_eq!(kept, 0);
        assert_eq!(std::fs::metadata(&part).expect("meta").len(), 0);
    }

    #[tokio::test]
    async fn a_shorter_part_is_kept_and_hashed() {
        let folder = tempfile::tempdir().expect("temp dir");
        let part = folder.path().join("x.part");
        std::fs::write(&part, b"abc").expect("write");
        let (file, kept) = open_part(&part, 10).await.expect("open");
        let (mut file, hasher) = hash_prefix(&part, file, kept, FileBar::hidden())
            .await
            .expect("hash");
        file.write_all(b"def").expect("append");
        assert_eq!(kept, 3);
        assert_eq!(
            hex::encode(hasher.finalize()),
            crate::hashing::sha256_hex(b"abc")
        );
        assert_eq!(std::fs::read(&part).expect("read"), b"abcdef");
    }
}
