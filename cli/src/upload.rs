//! `ferry upload`: hash the file, create or resume its session (proving it
//! holds the file when the server asks), send only the chunks the server
//! lacks, then complete and wait out the merge. No local state: the server's
//! session, keyed by the file's SHA-256, is the state.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, stream};
use indicatif::BinaryBytes;
use serde::Serialize;

use super::client::{Client, ClientError};
use super::error::CliError;
use super::hashing::content_digest;
use super::layout;
use super::local::LocalFile;
use super::plan;
use super::progress::{FileBar, Tally};
use ferry_proto::{ChunkReceipt, CreateUpload, ErrorCode, Upload, UploadStatus};

mod merge;
mod proof;

use merge::{Finished, finish, merge_patience};

/// Rounds of create-send-complete before giving up on a session that keeps
/// disappearing or losing chunks.
const MAX_ROUNDS: u32 = 5;

/// The chunk size a server picks when the client asks for none, unless it
/// is configured otherwise: the layout whose chunk digests are computed
/// while the file is hashed.
const USUAL_CHUNK_SIZE: u64 = 8 << 20;

/// How to upload.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Chunks in flight at once.
    pub parallel: usize,
    /// The chunk size to ask for; the server decides.
    pub chunk_size: Option<u64>,
    /// Name to publish the file under, instead of its own name.
    pub name: Option<String>,
    /// Media type to publish the file with.
    pub content_type: Option<String>,
}

/// What one upload did; printed as one JSON object per file with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadReport {
    /// The local file, as named on the command line.
    pub file: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Absolute URL of the published file.
    pub url: String,
    /// Bytes of the chunks this run sent and the server accepted.
    pub uploaded_bytes: u64,
    /// Bytes the server already had: `size - uploaded_bytes`.
    pub reused_bytes: u64,
    /// Time the whole upload took, hashing included.
    pub seconds: f64,
}

impl UploadReport {
    /// The report as one line for a person.
    pub fn words(&self) -> String {
        format!(
            "published {}: {} ({}; sent {}, the server had {}; {:.1}s)",
            self.file,
            self.url,
            BinaryBytes(self.size),
            BinaryBytes(self.uploaded_bytes),
            BinaryBytes(self.reused_bytes),
            self.seconds
        )
    }
}

/// Uploads one file and answers once it is published and verified.
pub async fn upload_file(
    client: &Client,
    path: &Path,
    options: &UploadOptions,
    bar: &FileBar,
) -> Result<UploadReport, CliError> {
    let started = Instant::now();
    let local = LocalFile::open(path).await?;
    bar.phase("hashing", local.size(), 0);
    let expected_chunk_size = options.chunk_size.unwrap_or(USUAL_CHUNK_SIZE);
    let sha256 = local.sha256_and_chunks(bar, expected_chunk_size).await?;
    let request = CreateUpload {
        sha256: sha256.clone(),
        size: local.size(),
        chunk_size: options.chunk_size,
        filename: options.name.clone().or_else(|| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        }),
        content_type: options.content_type.clone(),
        proof: None,
    };
    let tally = Tally::new(local.size(), bar.clone());
    let session = Session {
        client,
        local: &local,
        tally: &tally,
        bar,
        parallel: options.parallel.max(1),
    };
    let upload = session.publish(&request).await?;
    let file = upload
        .file
        .as_ref()
        .filter(|file| file.sha256.eq_ignore_ascii_case(&sha256) && file.size == local.size());
    let Some(file) = file else {
        return Err(ClientError::Unexpected(format!(
            "the server reported {sha256} complete without the matching file"
        ))
        .into());
    };
    Ok(UploadReport {
        file: path.display().to_string(),
        sha256,
        size: local.size(),
        url: client.url(&file.url)?.to_string(),
        uploaded_bytes: tally.uploaded(),
        reused_bytes: tally.reused(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One upload in progress.
struct Session<'a> {
    client: &'a Client,
    local: &'a LocalFile,
    tally: &'a Arc<Tally>,
    bar: &'a FileBar,
    parallel: usize,
}

/// How sending the missing chunks ended.
enum Sent {
    /// The chunks asked for were stored.
    Stored,
    /// The session stopped taking chunks (merging, complete, failed).
    Moved,
    /// The session is gone (expired, swept, aborted).
    Gone,
}

impl Session<'_> {
    /// Creates or resumes the session, sends what it lacks and completes it,
    /// for as many rounds as the server's state asks for.
    async fn publish(&self, request: &CreateUpload) -> Result<Upload, CliError> {
        let mut request = request.clone();
        for _ in 0..MAX_ROUNDS {
            let upload = self.open(&mut request).await?;
            self.tally.rebase(upload.received_bytes);
            match upload.status {
                UploadStatus::Complete => return Ok(upload),
                UploadStatus::Merging => {}
                UploadStatus::Uploading | UploadStatus::Failed => {
                    let missing = plan::missing_chunks(upload.chunk_count, &upload.received_chunks);
                    match self.send(&upload, missing).await? {
                        Sent::Stored | Sent::Moved => {}
                        Sent::Gone => continue,
                    }
                }
            }
            self.local.check_unchanged().await?;
            self.bar
                .phase("verifying", self.local.size(), self.local.size());
            let patience = merge_patience(self.local.size());
            match finish(self.client, &upload.sha256, patience).await? {
                Finished::Published(upload) => return Ok(*upload),
                Finished::Resend => continue,
            }
        }
        Err(ClientError::Unexpected(format!(
            "the session kept losing chunks; gave up after {MAX_ROUNDS} rounds"
        ))
        .into())
    }

    /// Creates or resumes the session. When the answer carries a proof
    /// challenge, answers it from the file once, keeping the proof in
    /// `request` for later rounds, and creates again: a file the server
    /// already holds then publishes at once.
    async fn open(&self, request: &mut CreateUpload) -> Result<Upload, CliError> {
        let upload = self.create(request).await?;
        match &upload.proof_challenge {
            Some(challenge) if request.proof.is_none() => {
                request.proof = Some(proof::answer(self.local, challenge).await?);
                self.create(request).await
            }
            _ => Ok(upload),
        }
    }

    /// One create, tried again while that may help, whose answer must
    /// describe this file in a chunk layout the client can work with.
    async fn create(&self, request: &CreateUpload) -> Result<Upload, CliError> {
        let upload = self.client.retrying(|| self.client.create(request)).await?;
        layout::check(&upload, self.local.size()).map_err(ClientError::Unexpected)?;
        Ok(upload)
    }

    /// Sends the `missing` chunks, `parallel` at a time.
    async fn send(
        &self,
        upload: &Upload,
        missing: impl Iterator<Item = u64>,
    ) -> Result<Sent, CliError> {
        let mut sends = stream::iter(missing)
            .map(|index| self.send_chunk(upload, index))
            .buffer_unordered(self.parallel);
        while let Some(sent) = sends.next().await {
            match sent? {
                Sent::Stored => {}
                other => return Ok(other),
            }
        }
        Ok(Sent::Stored)
    }

    /// Reads one chunk and sends it, trying again while that may help.
    async fn send_chunk(&self, upload: &Upload, index: u64) -> Result<Sent, CliError> {
        let span = plan::chunk_span(upload.size, upload.chunk_size, index).ok_or_else(|| {
            ClientError::Unexpected(format!("chunk {index} lies outside the file"))
        })?;
        let chunk = self.local.chunk(span).await?;
        let mut answer = self
            .put_chunk(
                upload,
                index,
                &chunk.bytes,
                &chunk.digest,
                chunk.computed_earlier,
            )
            .await;
        if chunk.computed_earlier
            && let Err(error) = &answer
            && error.code() == Some(ErrorCode::DigestMismatch)
        {
            let digest = content_digest(&chunk.bytes);
            if digest != chunk.digest {
                return Err(self.local.changed());
            }
            answer = self
                .put_chunk(upload, index, &chunk.bytes, &digest, false)
                .await;
        }
        match answer {
            Ok(_) => Ok(Sent::Stored),
            Err(error) => match error.code() {
                Some(ErrorCode::UploadNotWritable) => Ok(Sent::Moved),
                Some(ErrorCode::UploadNotFound) => Ok(Sent::Gone),
                _ => Err(error.into()),
            },
        }
    }

    /// Sends one chunk, trying again while that may help; a digest
    /// `computed_earlier` than these bytes were read is not sent again when
    /// it does not match, as the file may have changed since.
    async fn put_chunk(
        &self,
        upload: &Upload,
        index: u64,
        body: &Bytes,
        digest: &str,
        computed_earlier: bool,
    ) -> Result<ChunkReceipt, ClientError> {
        let length = body.len() as u64;
        let retry = |error: &ClientError| {
            worth_sending_again(error)
                && !(computed_earlier && error.code() == Some(ErrorCode::DigestMismatch))
        };
        self.client
            .retrying_if(retry, || {
                let attempt = self.tally.attempt();
                let counter = attempt.clone();
                let body = body.clone();
                async move {
                    let receipt = self
                        .client
                        .put_chunk(&upload.sha256, index, body, digest, move |n| {
                            counter.sent(n)
                        })
                        .await?;
                    attempt.confirm(length);
                    Ok(receipt)
                }
            })
            .await
    }
}

/// A chunk is sent again after a transient failure, and after a digest
/// mismatch when the digest was computed over the very bytes sent: the
/// mismatch then means they were damaged on the way.
fn worth_sending_again(error: &ClientError) -> bool {
    error.is_transient() || error.code() == Some(ErrorCode::DigestMismatch)
}
