//! Each owner's files: listing them, letting one go, and deleting the
//! files no owner holds once their grace has passed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use ferry_proto::{ContentHash, FileList, file_url};

use super::Uploads;
use super::error::{UploadError, UploadResult};
use crate::ids::OwnerId;
use crate::meta::{ListAfter, OwnedFile};

/// Files listed when the caller names no limit.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// Most files one page lists.
pub const MAX_LIST_LIMIT: u32 = 1000;

impl Uploads {
    /// A page of `owner`'s files, newest first, from `cursor` (a previous
    /// page's `next_cursor`) on.
    pub async fn list_files(
        &self,
        owner: &OwnerId,
        cursor: Option<&str>,
        limit: Option<u64>,
    ) -> UploadResult<FileList> {
        let limit = match limit {
            None => DEFAULT_LIST_LIMIT,
            Some(limit @ 1..=1000) => limit as u32,
            Some(_) => {
                return Err(UploadError::InvalidField {
                    field: "limit",
                    reason: format!("must be between 1 and {MAX_LIST_LIMIT}"),
                });
            }
        };
        let after = cursor.map(parse_cursor).transpose()?;
        let mut files = self.meta.held_files(owner, after, limit + 1).await?;
        let more = files.len() > limit as usize;
        files.truncate(limit as usize);
        let next_cursor = files.last().filter(|_| more).map(cursor_of);
        Ok(FileList {
            files: files.iter().map(|file| self.owned_view(file)).collect(),
            next_cursor,
        })
    }

    /// Lets `owner`'s reference to `sha256` go (every owner's, for `None`:
    /// an operator's word); the file is deleted once no owner holds it and
    /// the grace has passed from `now`.
    #[tracing::instrument(skip(self), fields(?owner, sha256 = %sha256))]
    pub async fn release_file(
        &self,
        owner: Option<&OwnerId>,
        sha256: &ContentHash,
        now: DateTime<Utc>,
    ) -> UploadResult<()> {
        let grace =
            chrono::Duration::from_std(self.timings.delete_grace).unwrap_or(chrono::Duration::MAX);
        if !self.meta.release_file(owner, sha256, now + grace).await? {
            return Err(UploadError::FileNotFound);
        }
        tracing::info!("file released by its owner");
        Ok(())
    }

    /// Deletes every file whose deletion is due: its row in the database
    /// (with the `file.deleted` event), then its object, while the hash is
    /// leased so that no merge writes it meanwhile. Answers how many.
    pub async fn delete_due_files(&self) -> UploadResult<usize> {
        let mut deleted = 0;
        loop {
            let now = self.meta.clock().await?;
            let lease = chrono::Duration::from_std(self.timings.merge_lease)
                .unwrap_or(chrono::Duration::MAX);
            let Some(claimed) = self.meta.claim_deletion(now, now + lease).await? else {
                return Ok(deleted);
            };
            let file = &claimed.file;
            self.published.forget(&file.sha256);
            self.blobs.delete_file(&file.object_key).await?;
            self.meta.drop_merge(&file.sha256, &claimed.token).await?;
            self.metrics.file_deleted();
            tracing::info!(sha256 = %file.sha256, key = %file.object_key, "file deleted: no owner held it");
            deleted += 1;
        }
    }

    /// The listing of one owned file.
    fn owned_view(&self, file: &OwnedFile) -> ferry_proto::OwnedFile {
        let reference = &file.reference;
        let sha256 = reference.sha256.to_hex();
        let filename = reference.filename.as_ref().map(|name| name.as_str());
        ferry_proto::OwnedFile {
            url: self.policy.links.link(file_url(&sha256, filename)),
            sha256,
            size: file.size,
            filename: filename.map(str::to_owned),
            content_type: reference
                .content_type
                .as_ref()
                .map(|media| media.to_string()),
            created: reference
                .created_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// The cursor that lists on after `file`: its time and hash, opaque.
fn cursor_of(file: &OwnedFile) -> String {
    let reference = &file.reference;
    let text = format!(
        "{}.{}",
        reference.created_at.timestamp_millis(),
        reference.sha256.to_hex()
    );
    URL_SAFE_NO_PAD.encode(text)
}

/// Where a cursor lists on from.
fn parse_cursor(cursor: &str) -> UploadResult<ListAfter> {
    let invalid = || UploadError::InvalidField {
        field: "cursor",
        reason: "not a cursor this server gave".to_owned(),
    };
    if cursor.len() > 200 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (millis, sha256) = text.split_once('.').ok_or_else(invalid)?;
    let millis: i64 = millis.parse().map_err(|_| invalid())?;
    Ok(ListAfter {
        created_at: DateTime::from_timestamp_millis(millis)
            .filter(|at| at.timestamp() < 253_402_300_800)
            .ok_or_else(invalid)?,
        sha256: ContentHash::parse(sha256).map_err(|_| invalid())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::FileRef;

    #[test]
    fn a_cursor_reads_back_as_the_file_it_was_made_after() {
        let reference = FileRef {
            owner: OwnerId::anonymous(),
            sha256: ContentHash::from_digest([7; 32]),
            filename: None,
            content_type: None,
            created_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
        };
        let file = OwnedFile {
            reference: reference.clone(),
            size: 1,
        };
        let after = parse_cursor(&cursor_of(&file)).unwrap();
        assert_eq!(after.created_at, reference.created_at);
        assert_eq!(after.sha256, reference.sha256);
    }

    #[test]
    fn a_cursor_this_server_did_not_give_is_refused() {
        for cursor in [
            "",
            "!!",
            "bm9wZQ",
            &"A".repeat(300),
            "OTk5OTk5OTk5OTk5OTk5OTkuYWI",
        ] {
            assert!(parse_cursor(cursor).is_err(), "{cursor}");
        }
    }
}
