//! Published files seen before, kept in memory. A published file never
//! changes (its bytes are named by their hash, and nothing unpublishes it),
//! so its record can answer later downloads without asking the database:
//! what a CDN fetching ranged slices of one file asks for again and again.
//! A record whose object is found missing is forgotten, so that a repair
//! made on any instance is seen at the next download.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_proto::ContentHash;

use crate::meta::FileRecord;

/// Most records kept; a full cache starts over, so memory stays bounded
/// (about 2 MiB) whatever is downloaded.
const CAPACITY: usize = 10_000;

/// The records of files published and already looked up.
#[derive(Debug, Clone, Default)]
pub(super) struct PublishedFiles(Arc<Mutex<HashMap<ContentHash, FileRecord>>>);

impl PublishedFiles {
    /// The record of a file seen before.
    pub(super) fn get(&self, sha256: &ContentHash) -> Option<FileRecord> {
        self.lock().get(sha256).cloned()
    }

    /// Remembers a published file's record.
    pub(super) fn remember(&self, file: &FileRecord) {
        let mut files = self.lock();
        if files.len() >= CAPACITY && !files.contains_key(&file.sha256) {
            files.clear();
        }
        files.insert(file.sha256, file.clone());
    }

    /// Forgets a file's record, so that the next lookup asks the database:
    /// after its object was found missing, or its record was repaired.
    pub(super) fn forget(&self, sha256: &ContentHash) {
        self.lock().remove(sha256);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContentHash, FileRecord>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        assert!(files.lock().len() <= CAPACITY);
        assert_eq!(files.get(&record(last).sha256), Some(record(last)));
    }
}
