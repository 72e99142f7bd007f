//! The conformance suite every [`MetaStore`] implementation must pass, so
//! that PostgreSQL and SQLite cannot drift apart. Each check takes a fresh,
//! migrated, empty store and panics with a message on the first broken
//! promise; `main.rs` runs each against both databases.

use chrono::{Duration, SubsecRound, Utc};
use ferry::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use ferry::meta::{
    Chunk, Claim, FileRecord, HashLink, Inserted, MergeFailure, MergeLease, MetaStore, Published,
    ReceivedChunks, Recorded, Session, SessionQuota, Unlinked,
};
use ferry::running_hash::RunningSha256;
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};
use sha2::{Digest, Sha256};

mod appended;
mod chunks;
mod moves;
mod outbox;
mod upkeep;

pub(crate) use appended::{
    a_deferred_length_is_set_once, appended_uploads_count_towards_the_quota_and_expire,
    of_two_appends_at_one_offset_one_wins, the_last_append_publishes_only_under_the_lease,
};

pub(crate) use chunks::{
    a_reopened_merge_forgets_its_lost_chunks, chunks_are_recorded_only_while_uploading,
    hash_links_follow_the_chunk_copy_they_were_computed_from, record_scattered_chunks,
    what_a_session_received_is_summed_up_in_runs,
};
pub(crate) use moves::{
    a_file_in_parts_is_claimed_by_one_mover_at_a_time,
    a_move_needs_the_key_it_names_and_records_it_for_deletion,
};
pub(crate) use outbox::{
    a_claim_that_runs_out_is_taken_over, a_file_is_deleted_only_when_due_and_held_by_none,
    each_delivery_is_claimed_by_one_caller_at_a_time,
};
pub(crate) use upkeep::{
    a_database_is_bound_to_one_store, a_repair_needs_the_missing_key_it_names,
    concurrent_binds_agree_on_one_store, new_sessions_are_counted_per_owner_and_hash_in_a_window,
    one_listing_of_the_store_at_a_time, orphans_keep_when_they_were_first_found,
};

fn hash(seed: u8) -> ContentHash {
    ContentHash::from_digest([seed; 32])
}

/// A valid upload id standing for a short name, the same for the same name.
pub(crate) fn id(name: &str) -> UploadId {
    let bytes: [u8; 16] = Sha256::digest(name.as_bytes())[..16]
        .try_into()
        .expect("16 bytes");
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    UploadId::parse(uuid.hyphenated().to_string()).expect("a generated upload id")
}

/// A valid write token standing for a short name.
fn token(name: &str) -> WriteToken {
    WriteToken::parse(hex::encode(&Sha256::digest(name.as_bytes())[..16])).expect("a token")
}

fn owner(name: &str) -> OwnerId {
    OwnerId::parse(name).expect("an owner")
}

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).expect("an object key")
}

fn session(name: &str, owner_name: &str, seed: u8, size: u64) -> Session {
    Session {
        id: id(name),
        owner: owner(owner_name),
        sha256: hash(seed),
        size,
        chunk_size: 10,
        filename: Some(FileName::parse("课程 第1讲.mp4").expect("a filename")),
        content_type: Some(MediaType::parse("video/mp4").expect("a media type")),
        status: UploadStatus::Uploading,
        expires_at: (Utc::now() + Duration::hours(24)).trunc_subsecs(3),
    }
}

fn chunk(index: u64, object_key: &str) -> Chunk {
    Chunk {
        index,
        size: 10,
        sha256: ContentHash::from_digest([0xab; 32]),
        object_key: key(object_key),
        link: None,
    }
}

/// A link whose states stand for `from` and `to` bytes of input.
fn link(from: usize, to: usize) -> HashLink {
    let state = |len: usize| {
        let mut state = RunningSha256::new();
        state.update(&vec![7u8; len]);
        state
    };
    HashLink {
        before: state(from),
        after: state(to),
    }
}

fn lease(seed: u8, upload: &str, attempt: &str, seconds: i64) -> MergeLease {
    MergeLease {
        sha256: hash(seed),
        upload_id: id(upload),
        token: token(attempt),
        object_key: key(&format!("files/{}/{}", hash(seed), token(attempt))),
        lease_until: (Utc::now() + Duration::seconds(seconds)).trunc_subsecs(3),
    }
}

fn file(seed: u8, object_key: &str) -> FileRecord {
    FileRecord {
        sha256: hash(seed),
        size: 20,
        content_type: Some(MediaType::parse("video/mp4").expect("a media type")),
        object_key: key(object_key),
        part_size: None,
        published_at: Utc::now().trunc_subsecs(0),
    }
}

pub(crate) async fn status_of(
    meta: &dyn MetaStore,
    owner_name: &str,
    seed: u8,
) -> Option<UploadStatus> {
    let found = meta.find_session(&owner(owner_name), &hash(seed)).await;
    found.expect("find_session").map(|s| s.status)
}

pub(crate) async fn sessions_are_unique_per_owner_and_hash(meta: &dyn MetaStore) {
    let first = session("s1", "alice", 1, 20);
    assert_eq!(
        meta.insert_session(&first).await.expect("insert"),
        Inserted::Created(first.clone()),
        "a new session reads back exactly as written"
    );
    let second = session("s2", "alice", 1, 30);
    assert_eq!(
        meta.insert_session(&second).await.expect("insert"),
        Inserted::Existing(first.clone()),
        "a second session for the same owner and hash leaves the first unchanged"
    );
    let other_owner = session("s3", "bob", 1, 20);
    assert!(matches!(
        meta.insert_session(&other_owner).await.expect("insert"),
        Inserted::Created(_)
    ));
    assert_eq!(
        meta.find_session(&owner("alice"), &hash(1))
            .await
            .expect("find"),
        Some(first)
    );
    assert!(meta.delete_session(&id("s1")).await.expect("delete"));
    assert!(!meta.delete_session(&id("s1")).await.expect("delete"));
    assert_eq!(
        meta.find_session(&owner("alice"), &hash(1))
            .await
            .expect("find"),
        None
    );
}

pub(crate) async fn a_merge_starts_once_and_only_with_every_chunk(meta: &dyn MetaStore) {
    meta.insert_session(&session("s1", "alice", 1, 25))
        .await
        .expect("insert");
    let expires = Utc::now() + Duration::hours(1);
    for index in [0, 2] {
        meta.record_chunk(&id("s1"), &chunk(index, &format!("k{index}")), expires)
            .await
            .expect("record");
    }
    assert!(
        !meta.start_merge(&id("s1")).await.expect("start"),
        "chunk 1 is missing"
    );
    meta.record_chunk(&id("s1"), &chunk(1, "k1"), expires)
        .await
        .expect("record");
    let s1 = id("s1");
    let (a, b) = futures::join!(meta.start_merge(&s1), meta.start_merge(&s1));
    assert!(
        a.expect("start") ^ b.expect("start"),
        "exactly one of two concurrent starts wins"
    );
    assert_eq!(
        status_of(meta, "alice", 1).await,
        Some(UploadStatus::Merging)
    );
    meta.insert_session(&session("empty", "alice", 2, 0))
        .await
        .expect("insert");
    assert!(
        meta.start_merge(&id("empty")).await.expect("start"),
        "an empty file has every chunk"
    );
}

pub(crate) async fn one_lease_per_hash_until_it_expires(meta: &dyn MetaStore) {
    let now = Utc::now();
    let first = lease(1, "s1", "t1", 30);
    assert_eq!(
        meta.claim_merge(&first, now).await.expect("claim"),
        Claim::Claimed {
            abandoned_key: None
        }
    );
    assert_eq!(
        meta.claim_merge(&lease(1, "s2", "t2", 30), now)
            .await
            .expect("claim"),
        Claim::Busy
    );
    assert!(
        meta.renew_merge(&hash(1), &token("t1"), now + Duration::seconds(60))
            .await
            .expect("renew")
    );
    assert!(
        !meta
            .renew_merge(&hash(1), &token("t2"), now)
            .await
            .expect("renew"),
        "only the holder renews"
    );
    let later = now + Duration::seconds(61);
    assert_eq!(
        meta.claim_merge(&lease(1, "s2", "t2", 120), later)
            .await
            .expect("claim"),
        Claim::Claimed {
            abandoned_key: Some(first.object_key.clone())
        },
        "an expired lease is taken over and its object named"
    );
    assert!(
        !meta
            .renew_merge(&hash(1), &token("t1"), later)
            .await
            .expect("renew")
    );
    assert_eq!(
        meta.claim_merge(&lease(2, "s3", "t3", 30), now)
            .await
            .expect("claim"),
        Claim::Claimed {
            abandoned_key: None
        },
        "leases are per hash"
    );
    assert!(meta.drop_merge(&hash(2), &token("t3")).await.expect("drop"));
    assert!(
        !meta.drop_merge(&hash(2), &token("t3")).await.expect("drop"),
        "a lease is dropped once"
    );
    assert_eq!(
        meta.claim_merge(&lease(2, "s3", "t4", 30), now)
            .await
            .expect("claim"),
        Claim::Claimed {
            abandoned_key: None
        }
    );
}

pub(crate) async fn publishing_needs_the_lease_and_keeps_the_first_file(meta: &dyn MetaStore) {
    let mut merging = session("s1", "alice", 1, 20);
    merging.status = UploadStatus::Merging;
    meta.insert_session(&merging).await.expect("insert");
    let now = Utc::now();
    assert_eq!(
        meta.publish(&file(1, "files/a"), &id("s1"), &token("nobody"))
            .await
            .expect("publish"),
        Published::LeaseLost
    );
    assert_eq!(meta.find_file(&hash(1)).await.expect("find"), None);
    meta.claim_merge(&lease(1, "s1", "t1", 30), now)
        .await
        .expect("claim");
    let published = FileRecord {
        part_size: Some(10),
        ..file(1, "files/a")
    };
    assert_eq!(
        meta.publish(&published, &id("s1"), &token("t1"))
            .await
            .expect("publish"),
        Published::Now(published.clone())
    );
    assert_eq!(
        status_of(meta, "alice", 1).await,
        Some(UploadStatus::Complete)
    );
    assert_eq!(
        meta.find_file(&hash(1)).await.expect("find"),
        Some(published.clone())
    );
    assert_eq!(
        meta.insert_file(&file(1, "files/b")).await.expect("insert"),
        Published::Already(published.clone()),
        "a published file never changes"
    );
    assert_eq!(
        meta.insert_file(&file(2, "files/c")).await.expect("insert"),
        Published::Now(file(2, "files/c"))
    );
}

pub(crate) async fn a_failed_merge_marks_the_session_failed(meta: &dyn MetaStore) {
    let mut merging = session("s1", "alice", 1, 20);
    merging.status = UploadStatus::Merging;
    meta.insert_session(&merging).await.expect("insert");
    assert!(
        !meta
            .fail_merge(
                &hash(1),
                &id("s1"),
                &token("t1"),
                MergeFailure::StoreRefused
            )
            .await
            .expect("fail"),
        "no lease, no change"
    );
    assert_eq!(meta.merge_failure(&id("s1")).await.expect("failure"), None);
    assert_eq!(
        status_of(meta, "alice", 1).await,
        Some(UploadStatus::Merging)
    );
    meta.claim_merge(&lease(1, "s1", "t1", 30), Utc::now())
        .await
        .expect("claim");
    assert!(
        meta.fail_merge(
            &hash(1),
            &id("s1"),
            &token("t1"),
            MergeFailure::StoreRefused
        )
        .await
        .expect("fail")
    );
    assert_eq!(
        status_of(meta, "alice", 1).await,
        Some(UploadStatus::Failed)
    );
    assert_eq!(
        meta.merge_failure(&id("s1")).await.expect("failure"),
        Some(MergeFailure::StoreRefused),
        "the session says why it failed"
    );
    assert_eq!(
        meta.claim_merge(&lease(1, "s9", "t9", 30), Utc::now())
            .await
            .expect("claim"),
        Claim::Claimed {
            abandoned_key: None
        },
        "failing gives the lease up"
    );
}

pub(crate) async fn the_sweep_queries_find_what_they_promise(meta: &dyn MetaStore) {
    let now = Utc::now();
    let mut expired = session("old", "alice", 1, 20);
    expired.expires_at = now - Duration::minutes(1);
    meta.insert_session(&expired).await.expect("insert");
    meta.insert_session(&session("live", "alice", 2, 20))
        .await
        .expect("insert");
    let mut stuck = session("stuck", "alice", 3, 20);
    stuck.status = UploadStatus::Merging;
    stuck.expires_at = now - Duration::seconds(30);
    meta.insert_session(&stuck).await.expect("insert");
    let mut running = session("running", "alice", 4, 20);
    running.status = UploadStatus::Merging;
    running.expires_at = now - Duration::minutes(2);
    meta.insert_session(&running).await.expect("insert");
    meta.claim_merge(&lease(4, "running", "t4", 30), now)
        .await
        .expect("claim");
    meta.claim_merge(&lease(5, "gone", "t5", -10), now - Duration::minutes(1))
        .await
        .expect("claim");

    let expired_ids: Vec<UploadId> = meta
        .expired_sessions(now, 10)
        .await
        .expect("expired")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        expired_ids,
        vec![id("old"), id("stuck")],
        "a merging session expires like any other, unless a live lease merges it"
    );
    assert!(
        !meta
            .delete_expired_session(&id("running"), now)
            .await
            .expect("delete"),
        "a session whose merge holds a live lease is not deleted"
    );
    assert!(
        !meta
            .delete_expired_session(&id("live"), now)
            .await
            .expect("delete")
    );
    assert!(
        meta.delete_expired_session(&id("old"), now)
            .await
            .expect("delete")
    );

    let stalled: Vec<UploadId> = meta
        .stalled_merges(now)
        .await
        .expect("stalled")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        stalled,
        vec![id("stuck")],
        "a merge with a live lease is not stalled"
    );

    let orphans = meta.orphaned_merges(now).await.expect("orphans");
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].token, token("t5"));
    assert!(meta.drop_merge(&hash(5), &token("t5")).await.expect("drop"));
    assert!(meta.orphaned_merges(now).await.expect("orphans").is_empty());

    let status =
        |name: &'static str| async move { meta.session_status(&id(name)).await.expect("a status") };
    assert_eq!(status("live").await, Some(UploadStatus::Uploading));
    assert_eq!(status("running").await, Some(UploadStatus::Merging));
    assert_eq!(status("old").await, None);
    let mut done = session("done", "alice", 7, 20);
    done.status = UploadStatus::Complete;
    meta.insert_session(&done).await.expect("insert");
    assert_eq!(status("done").await, Some(UploadStatus::Complete));
    meta.insert_file(&file(6, "files/direct/kept"))
        .await
        .expect("insert");
    let merging_key = lease(4, "running", "t4", 30).object_key;
    for in_use in [key("files/direct/kept"), merging_key.clone()] {
        assert!(meta.object_key_in_use(&in_use).await.expect("in use"));
    }
    assert!(meta.merge_writes_to(&merging_key).await.expect("written"));
    assert!(
        !meta
            .merge_writes_to(&key("files/direct/kept"))
            .await
            .expect("written")
    );
    assert!(
        !meta
            .object_key_in_use(&key("files/direct/leftover"))
            .await
            .expect("in use")
    );
    meta.ping().await.expect("ping");
}

/// The database tells the time that leases are measured by, and it moves on.
pub async fn the_database_tells_the_time(meta: &dyn MetaStore) {
    let before = Utc::now();
    let first = meta.clock().await.expect("the database's time");
    let skew = (first - before).num_milliseconds().abs();
    assert!(skew < 5_000, "the database is {skew} ms off this machine");
    let mut later = meta.clock().await.expect("the database's time");
    while later <= first {
        tokio::task::yield_now().await;
        later = meta.clock().await.expect("the database's time");
    }
    assert!(later > first);
}

pub(crate) async fn a_session_quota_holds_against_concurrent_inserts(meta: &dyn MetaStore) {
    let quota = SessionQuota {
        max_sessions: 2,
        max_bytes: 100,
    };
    let now = Utc::now();
    let racing: Vec<Session> = (0..10)
        .map(|seed| session(&format!("r{seed}"), "alice", seed, 20))
        .collect();
    let answers = futures::future::join_all(
        racing
            .iter()
            .map(|session| meta.insert_session_within(session, quota, now)),
    )
    .await;
    let created = answers
        .iter()
        .filter(|answer| matches!(answer, Ok(Inserted::Created(_))))
        .count();
    assert_eq!(created, 2, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|answer| matches!(answer, Ok(Inserted::Created(_) | Inserted::OverQuota(_))))
    );
    let usage = meta.owner_usage(&owner("alice"), now).await.expect("usage");
    assert_eq!((usage.sessions, usage.bytes), (2, 40));

    let winner = answers
        .into_iter()
        .find_map(|answer| match answer {
            Ok(Inserted::Created(session)) => Some(session),
            _ => None,
        })
        .expect("a winner");
    let again = session("again", "alice", winner.sha256.as_bytes()[0], 20);
    assert_eq!(
        meta.insert_session_within(&again, quota, now)
            .await
            .expect("insert"),
        Inserted::Existing(winner),
        "an existing session is found, not refused, when the quota is full"
    );
    let roomy = SessionQuota {
        max_sessions: 10,
        max_bytes: 100,
    };
    assert_eq!(
        meta.insert_session_within(&session("big", "alice", 50, 61), roomy, now)
            .await
            .expect("insert"),
        Inserted::OverQuota(usage),
        "60 bytes more would take alice over 100"
    );
    assert!(matches!(
        meta.insert_session_within(&session("fits", "alice", 51, 60), roomy, now)
            .await
            .expect("insert"),
        Inserted::Created(_)
    ));
    assert!(matches!(
        meta.insert_session_within(&session("bob", "bob", 52, 100), roomy, now)
            .await
            .expect("insert"),
        Inserted::Created(_)
    ));
}
