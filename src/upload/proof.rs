//! Deciding instant upload: by hash alone, by proof of possession, or
//! never; and keeping each owner within its limits when it starts a new
//! upload instead.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, ProofChallenge, UploadStatus, proof_of};
use futures::{StreamExt, TryStreamExt};
use subtle::ConstantTimeEq;

use super::Uploads;
use super::download::stored_bytes;
use super::error::{UploadError, UploadResult};
use super::policy::InstantUpload;
use super::validate::ValidCreate;
use crate::ids::OwnerId;
use crate::meta::{FileRecord, OwnerUsage, Session, SessionQuota};

/// When an owner over its limits may try again: sessions end by being
/// completed, aborted or swept, none of which a client can time exactly.
const OVER_LIMIT_RETRY: Duration = Duration::from_secs(60);

/// Most new sessions one owner may start for one hash in a
/// [`CHALLENGE_WINDOW`] while instant upload asks for proof: each shows a
/// new challenge, and a caller holding 90% of a file passes one in about
/// 850, so it may draw a handful, not hundreds. Resuming a session draws
/// nothing.
const CHALLENGED_SESSIONS: u64 = 8;
/// The window [`CHALLENGED_SESSIONS`] are counted in.
const CHALLENGE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Challenged ranges read from the store at once when checking a proof.
const PARALLEL_PROOF_READS: usize = 8;

impl Uploads {
    /// Whether this create publishes at once. By hash, a published file of
    /// another size is a refusal; by proof, a wrong or missing proof, a
    /// missing file, a file of another size and a proof sent before any
    /// challenge was given all look the same: a new or resumed upload. A
    /// proof answers the challenge of the caller's live session, which is
    /// drawn anew for every session. A file whose object is missing or
    /// short is granted to no one: its bytes must be uploaded again.
    pub(super) async fn grants_instant(
        &self,
        request: &ValidCreate,
        published: Option<&FileRecord>,
        live: Option<&Session>,
    ) -> UploadResult<bool> {
        let Some(file) = published else {
            return Ok(false);
        };
        match &self.policy.instant {
            InstantUpload::Off => Ok(false),
            InstantUpload::Hash if file.size != request.size => Err(UploadError::SizeMismatch {
                published: file.size,
            }),
            InstantUpload::Hash => self.holds(file).await,
            InstantUpload::Proof(_) => {
                let (Some(proof), Some(session)) = (&request.proof, live) else {
                    return Ok(false);
                };
                if file.size != request.size || session.size != request.size {
                    return Ok(false);
                }
                let Some(challenge) = self.challenge_for(session) else {
                    return Ok(false);
                };
                Ok(self.holds(file).await? && self.proof_holds(file, &challenge, proof).await?)
            }
        }
    }

    /// The challenge shown with a session that is still uploading, when
    /// instant upload asks for proof.
    pub(super) fn challenge_for(&self, session: &Session) -> Option<ProofChallenge> {
        match &self.policy.instant {
            InstantUpload::Proof(key) if session.status == UploadStatus::Uploading => {
                Some(key.challenge(&session.id, &session.owner, &session.sha256, session.size))
            }
            _ => None,
        }
    }

    async fn proof_holds(
        &self,
        file: &FileRecord,
        challenge: &ProofChallenge,
        proof: &ContentHash,
    ) -> UploadResult<bool> {
        let reads = challenge.ranges.iter().map(|[first, last]| {
            let range = *first..*last + 1;
            async move {
                let bytes = stored_bytes(&self.blobs, file, Some(range)).await?;
                let bytes: Vec<Bytes> = bytes.try_collect().await?;
                Ok::<_, UploadError>(bytes)
            }
        });
        let pieces: Vec<Vec<Bytes>> = futures::stream::iter(reads)
            .buffered(PARALLEL_PROOF_READS)
            .try_collect()
            .await?;
        let pieces: Vec<Bytes> = pieces.into_iter().flatten().collect();
        let expected = proof_of(pieces.iter().map(|piece| piece.as_ref()));
        Ok(bool::from(
            expected.as_bytes().ct_eq(proof.to_hex().as_bytes()),
        ))
    }

    /// Counts a new uploading session of `owner` for `sha256` when
    /// instant upload asks for proof, and refuses it over
    /// [`CHALLENGED_SESSIONS`] in the window: whether or not the file
    /// exists, so that the refusal tells nothing.
    pub(super) async fn count_challenged_session(
        &self,
        owner: &OwnerId,
        sha256: &ContentHash,
        now: DateTime<Utc>,
    ) -> UploadResult<()> {
        if !matches!(self.policy.instant, InstantUpload::Proof(_)) {
            return Ok(());
        }
        let window = chrono::Duration::from_std(CHALLENGE_WINDOW).unwrap_or(chrono::Duration::MAX);
        let (starts, since) = self
            .meta
            .count_session_start(owner, sha256, now, now - window)
            .await?;
        if starts <= CHALLENGED_SESSIONS {
            return Ok(());
        }
        let retry_after = (since + window - now).to_std().unwrap_or(OVER_LIMIT_RETRY);
        tracing::warn!(%owner, %sha256, starts, "too many new sessions of one file; refused");
        Err(UploadError::OverLimit {
            what: format!(
                "at most {CHALLENGED_SESSIONS} new upload sessions of one file a day; resume the one you have"
            ),
            retry_after,
        })
    }

    /// The quota a new uploading session must fit in, when owners have limits.
    pub(super) fn session_quota(&self) -> Option<SessionQuota> {
        self.policy.owner_limits.map(|limits| SessionQuota {
            max_sessions: limits.max_sessions,
            max_bytes: limits.max_staged_bytes,
        })
    }

    /// The refusal of a new session that did not fit beside `usage`.
    pub(super) fn over_limit(&self, usage: OwnerUsage) -> UploadError {
        let what = match self.policy.owner_limits {
            Some(limits) if usage.sessions >= limits.max_sessions => {
                format!("at most {} live upload sessions", limits.max_sessions)
            }
            Some(limits) => format!("at most {} bytes in live uploads", limits.max_staged_bytes),
            None => "no more live uploads now".to_owned(),
        };
        UploadError::OverLimit {
            what,
            retry_after: OVER_LIMIT_RETRY,
        }
    }
}
