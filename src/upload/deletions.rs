//! Deleting what the database recorded for deletion, and nothing else: the
//! parts of a file moved to its one object, a one-request upload's object
//! once copied to its file's key. A key a row names again is not deleted.

use super::Uploads;
use super::error::UploadResult;
use crate::ids::ObjectKey;

/// Recorded deletions done per database round trip.
const BATCH: u32 = 100;

impl Uploads {
    /// Deletes the object (or the parts of a file) at `key`, recorded for
    /// deletion, then forgets the record; kept when a file or a merge
    /// names it.
    pub(super) async fn delete_recorded(&self, key: &ObjectKey) -> UploadResult<()> {
        if self.meta.object_key_in_use(key).await? {
            tracing::warn!(%key, "an object recorded for deletion is in use again; it is kept");
        } else {
            self.blobs.delete_file(key).await?;
        }
        self.meta.forget_deletion(key).await?;
        Ok(())
    }

    /// Does every deletion the database records; answers how many.
    pub async fn delete_all_recorded(&self) -> UploadResult<usize> {
        let mut done = 0;
        loop {
            let keys = self.meta.recorded_deletions(BATCH).await?;
            let batch = keys.len();
            for key in keys {
                self.delete_recorded(&key).await?;
                done += 1;
            }
            if batch < BATCH as usize {
                return Ok(done);
            }
        }
    }
}
