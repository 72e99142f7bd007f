//! Moving files published in parts (the layout before each file became one
//! object) to their one object at `files/sha256/<sha256>`, one file at a
//! time, each move claimed in the database so that instances share the
//! work. A move composes the parts, reads the object back to check its
//! length and SHA-256, points the row at it only if the row still names
//! the parts, and deletes the parts, recorded for deletion in that same
//! step. Cut off anywhere, it is taken up again from the start and ends
//! the same way: the object it wrote is whole or absent, and the row names
//! the parts until the object was checked.

use std::time::Duration;

use ferry_proto::ContentHash;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use super::Uploads;
use super::error::UploadResult;
use crate::blob::{BlobStore, ComposePart, PartsError};
use crate::ids::ObjectKey;
use crate::meta::FileRecord;

/// How long one instance's claim on a file's move holds; past it another
/// instance may take the move up (writing the same bytes to the same key
/// is harmless).
const CLAIM: Duration = Duration::from_secs(15 * 60);

/// How one claimed move ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The file is one object now and its parts are gone.
    Moved,
    /// The row no longer named the parts (another instance moved it, or a
    /// repair did); nothing was changed.
    Superseded,
    /// The move could not be made (a part missing, the object not
    /// hashing to its key); the file stays in parts, and its move is
    /// tried again once the claim lapses.
    Failed(String),
}

/// One claimed move: which file, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMove {
    /// The file's hash.
    pub sha256: ContentHash,
    /// Its length in bytes.
    pub size: u64,
    /// How the move ended.
    pub outcome: MoveOutcome,
}

impl Uploads {
    /// Claims the move of one file still published in parts and makes it;
    /// `None` when no file is left whose move another instance does not
    /// hold.
    pub async fn move_one_file(&self) -> UploadResult<Option<FileMove>> {
        let now = self.meta.clock().await?;
        let until = now + CLAIM;
        let Some(file) = self.meta.claim_file_move(now, until).await? else {
            return Ok(None);
        };
        let Some(part_size) = file.part_size else {
            self.meta.release_file_move(&file.sha256).await?;
            return Ok(Some(moved(&file, MoveOutcome::Superseded)));
        };
        let key = BlobStore::published_key(&file.sha256);
        let outcome = match self.compose_checked(&file, part_size, &key).await? {
            Err(reason) => {
                tracing::error!(sha256 = %file.sha256, key = %file.object_key, %reason, "a file published in parts could not be moved to its one object; it stays in parts");
                MoveOutcome::Failed(reason)
            }
            Ok(()) if self.move_to_one_object(&file, &key).await? => MoveOutcome::Moved,
            Ok(()) => MoveOutcome::Superseded,
        };
        Ok(Some(moved(&file, outcome)))
    }

    /// How many files are still published in parts.
    pub async fn files_in_parts(&self) -> UploadResult<u64> {
        Ok(self.meta.files_in_parts().await?)
    }

    /// Moves files published in parts, one at a time, for as long as this
    /// runs; when none is left, looks again every `pause` (a move that
    /// failed is tried again once its claim lapses).
    pub async fn move_files_forever(&self, pause: Duration) {
        loop {
            match self.move_one_file().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "moving a file to its one object failed; trying again later")
                }
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Puts the parts of `file` together at `key`, unless an object there
    /// already hashes to the file's key (a move cut off before the row
    /// was switched), and checks what is there by reading it back.
    /// `Err` says why the file cannot be moved.
    async fn compose_checked(
        &self,
        file: &FileRecord,
        part_size: u64,
        key: &ObjectKey,
    ) -> UploadResult<Result<(), String>> {
        if self.object_hashes_to(file, key).await? {
            return Ok(Ok(()));
        }
        let part_size = part_size.max(1);
        let parts: Vec<ComposePart> = (0..file.size.div_ceil(part_size))
            .map(|index| ComposePart {
                key: BlobStore::part_key(&file.object_key, index),
                size: part_size.min(file.size - index * part_size),
            })
            .collect();
        let content_type = file.content_type.as_ref().map(|media| media.as_str());
        match self.blobs.compose(&parts, key, content_type).await {
            Ok(composed) => self.metrics.compose_streamed(composed.streamed_bytes),
            Err(PartsError::MissingPart(part)) => {
                return Ok(Err(format!("its part {part} is missing or short")));
            }
            Err(PartsError::Store(error)) => return Err(error.into()),
        }
        if self.object_hashes_to(file, key).await? {
            Ok(Ok(()))
        } else {
            Ok(Err(format!(
                "the object composed at {key} does not hash to its key"
            )))
        }
    }

    /// Whether the object at `key` is the file's length and hashes to its
    /// key, read back whole.
    async fn object_hashes_to(&self, file: &FileRecord, key: &ObjectKey) -> UploadResult<bool> {
        let mut bytes = match self.blobs.read_file(key, file.size, None).await {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() || error.is_short() => return Ok(false),
            Err(error) => return Err(error.into()),
        };
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        while let Some(piece) = bytes.try_next().await? {
            read += piece.len() as u64;
            hasher.update(&piece);
        }
        let hash = ContentHash::from_digest(hasher.finalize().into());
        Ok(read == file.size && hash == file.sha256)
    }
}

fn moved(file: &FileRecord, outcome: MoveOutcome) -> FileMove {
    FileMove {
        sha256: file.sha256,
        size: file.size,
        outcome,
    }
}
