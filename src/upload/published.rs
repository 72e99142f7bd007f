//! Published files seen before, kept in memory. A published file never
//! changes (its bytes are named by their hash), so its record can answer
//! later downloads without asking the database: what a CDN fetching ranged
//! slices of one file asks for again and again. A record whose object is
//! found missing is forgotten, so that a repair made on any instance is
//! seen at the next download. A file no owner holds may be deleted, by
//! any instance: the one that deletes it forgets it first, and the others
//! ask the database again once their record is [`KEPT_FOR`] old, so that
//! they too answer 404 soon after (an open file of a local store would
//! otherwise still serve the deleted bytes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::ContentHash;
use quick_cache::sync::Cache;

use crate::meta::FileRecord;

/// Most records kept, so memory stays bounded (under 2 MiB) whatever is
/// downloaded; a full cache lets go first the records least asked for
/// again. A power of two, as the number of the cache's shards is, so that
/// the shards together hold exactly this many.
const CAPACITY: usize = 8192;

/// How long a record answers downloads before the database is asked again.
pub(super) const KEPT_FOR: Duration = Duration::from_secs(5);

/// The records of files published and already looked up, with when.
#[derive(Clone)]
pub(super) struct PublishedFiles(Arc<Cache<ContentHash, (FileRecord, Instant)>>);

impl Default for PublishedFiles {
    fn default() -> Self {
        PublishedFiles(Arc::new(Cache::new(CAPACITY)))
    }
}

impl PublishedFiles {
    /// The record of a file seen less than [`KEPT_FOR`] ago.
    pub(super) fn get(&self, sha256: &ContentHash) -> Option<FileRecord> {
        let (file, seen) = self.0.get(sha256)?;
        (seen.elapsed() < KEPT_FOR).then_some(file)
    }

    /// Remembers a published file's record, as of now.
    pub(super) fn remember(&self, file: &FileRecord) {
        self.0.insert(file.sha256, (file.clone(), Instant::now()));
    }

    /// Forgets a file's record, so that the next lookup asks the database:
    /// after its object was found missing, or its record was repaired.
    pub(super) fn forget(&self, sha256: &ContentHash) {
        self.0.remove(sha256);
    }
}

impl std::fmt::Debug for PublishedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedFiles")
            .field("kept", &self.0.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::ids::ObjectKey;

    fn record(seed: u32) -> FileRecord {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&seed.to_be_bytes());
        FileRecord {
            sha256: ContentHash::from_digest(bytes),
            size: u64::from(seed),
            content_type: None,
            object_key: ObjectKey::parse(format!("files/x/{seed}")).unwrap(),
            part_size: None,
            published_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn a_remembered_file_is_found_and_memory_stays_bounded() {
        let files = PublishedFiles::default();
        assert_eq!(files.get(&record(1).sha256), None);
        files.remember(&record(1));
        assert_eq!(files.get(&record(1).sha256), Some(record(1)));
        let last = CAPACITY as u32 + 5;
        for seed in 2..=last {
            files.remember(&record(seed));
        }
        assert!(files.0.len() <= CAPACITY);
        assert_eq!(files.get(&record(last).sha256), Some(record(last)));
    }
}
