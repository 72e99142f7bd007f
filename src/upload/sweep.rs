//! The periodic sweep: expired sessions and their chunks, leftovers of dead
//! merges, merges whose instance died, and the deletions the database
//! records.

use chrono::{DateTime, Utc};

use super::Uploads;
use super::error::UploadResult;
use crate::ids::WriteToken;
use crate::meta::{Claim, MergeLease};
use crate::metrics::Swept;

/// Sessions removed per database round trip.
const BATCH: u32 = 100;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired sessions removed with their chunks.
    pub expired_sessions: usize,
    /// Abandoned merge attempts whose objects were removed.
    pub orphaned_merges: usize,
    /// Stalled merges taken up again.
    pub resumed_merges: usize,
    /// Objects deleted because the database recorded them for deletion.
    pub recorded_deletions: usize,
}

impl Uploads {
    /// Runs one sweep: sessions expired as of `now`, merge leases lapsed
    /// as of the database's clock.
    pub async fn sweep(&self, now: DateTime<Utc>) -> UploadResult<SweepReport> {
        let mut report = SweepReport::default();
        loop {
            let expired = self.meta.expired_sessions(now, BATCH).await?;
            let batch = expired.len();
            let before = report.expired_sessions;
            for session in expired {
                if self.meta.delete_expired_session(&session.id, now).await? {
                    self.remove_chunks(&session).await;
                    report.expired_sessions += 1;
                }
            }
            if batch < BATCH as usize || report.expired_sessions == before {
                break;
            }
        }
        report.expired_sessions += self.sweep_appended(now, BATCH).await?;
        let database_now = self.meta.clock().await?;
        for lease in self.meta.orphaned_merges(database_now).await? {
            if self.clear_orphaned_merge(lease, database_now).await? {
                report.orphaned_merges += 1;
            }
        }
        report.resumed_merges = self.resume_stalled_merges().await?;
        report.recorded_deletions = self.delete_all_recorded().await?;
        self.metrics.sweep(Swept {
            expired_sessions: report.expired_sessions,
            orphaned_merges: report.orphaned_merges,
            resumed_merges: report.resumed_merges,
            recorded_deletions: report.recorded_deletions,
            leftover_objects: 0,
        });
        if report != SweepReport::default() {
            tracing::info!(?report, "sweep");
        }
        Ok(report)
    }

    /// Deletes the object of a lapsed lease whose holder died, then lets
    /// the lease go. The lease is taken over for the deletion, so that
    /// nothing can publish the hash at that object meanwhile: a dead
    /// deletion's lease names the file's published key itself. Answers
    /// whether this sweep cleared it.
    async fn clear_orphaned_merge(
        &self,
        orphan: MergeLease,
        database_now: DateTime<Utc>,
    ) -> UploadResult<bool> {
        let takeover = MergeLease {
            token: WriteToken::generate(),
            lease_until: database_now + self.timings.merge_lease,
            ..orphan
        };
        let Claim::Claimed { abandoned_key } =
            self.meta.claim_merge(&takeover, database_now).await?
        else {
            return Ok(false);
        };
        if let Some(key) = &abandoned_key {
            self.blobs.delete_file(key).await?;
        }
        self.meta
            .drop_merge(&takeover.sha256, &takeover.token)
            .await?;
        Ok(abandoned_key.is_some())
    }
}
