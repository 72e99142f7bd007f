//! Appended uploads: an append is a compare-and-set on the offset, and the
//! last one publishes only under the merge lease of its hash.

use chrono::{Duration, SubsecRound, Utc};
use ferry::meta::{
    Append, Appended, AppendedUpload, Concat, MetaStore, Published, Segment, SessionQuota,
};
use ferry::running_hash::RunningSha256;
use ferry_proto::{FileName, UploadStatus};

use super::{file, id, key, lease, owner, token};

fn upload(name: &str, length: Option<u64>) -> AppendedUpload {
    AppendedUpload {
        id: id(name),
        owner: owner("alice"),
        length,
        offset: 0,
        segments: 0,
        running: RunningSha256::new(),
        metadata: Some("filename YS5iaW4=".to_owned()),
        filename: Some(FileName::parse("a.bin").expect("a filename")),
        content_type: None,
        claimed: None,
        concat: Concat::None,
        status: UploadStatus::Uploading,
        sha256: None,
        expires_at: (Utc::now() + Duration::hours(1)).trunc_subsecs(3),
    }
}

/// An append of `size` bytes at `from`, as segment `index`.
fn append(from: u64, index: u64, size: u64) -> Append {
    let mut running = RunningSha256::new();
    running.update(&vec![1u8; (from + size) as usize]);
    Append {
        from,
        segment: Some(Segment {
            index,
            size,
            object_key: key(&format!("chunks/{}/{index}.{}", id("a"), token("x"))),
        }),
        running,
        length: None,
        expires_at: (Utc::now() + Duration::hours(2)).trunc_subsecs(3),
    }
}

pub(crate) async fn of_two_appends_at_one_offset_one_wins(meta: &dyn MetaStore) {
    let new = upload("a", Some(20));
    assert_eq!(
        meta.insert_appended(&new, None, Utc::now()).await.unwrap(),
        Ok(())
    );
    assert_eq!(meta.find_appended(&id("a")).await.unwrap(), Some(new));
    let first = meta.append(&id("a"), &append(0, 0, 8)).await.unwrap();
    let Appended::Accepted(after) = first else {
        panic!("the first append at 0 is accepted: {first:?}");
    };
    assert_eq!((after.offset, after.segments), (8, 1));
    assert_eq!(after.running.len(), 8);
    let second = meta.append(&id("a"), &append(0, 0, 5)).await.unwrap();
    assert!(
        matches!(&second, Appended::Refused(Some(now)) if now.offset == 8),
        "a second append at 0 is refused: {second:?}"
    );
    let over = meta.append(&id("a"), &append(8, 1, 13)).await.unwrap();
    assert!(
        matches!(over, Appended::Refused(_)),
        "an append past the length is refused"
    );
    let segments = meta.segments(&id("a")).await.unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].size, 8);
    assert!(
        matches!(
            meta.append(&id("gone"), &append(0, 0, 1)).await.unwrap(),
            Appended::Refused(None)
        ),
        "an append to no upload is refused"
    );
}

pub(crate) async fn a_deferred_length_is_set_once(meta: &dyn MetaStore) {
    meta.insert_appended(&upload("d", None), None, Utc::now())
        .await
        .unwrap()
        .unwrap();
    let mut declaring = append(0, 0, 4);
    declaring.length = Some(10);
    let Appended::Accepted(after) = meta.append(&id("d"), &declaring).await.unwrap() else {
        panic!("an append declaring the length is accepted");
    };
    assert_eq!(after.length, Some(10));
    let mut other = append(4, 1, 2);
    other.length = Some(12);
    assert!(matches!(
        meta.append(&id("d"), &other).await.unwrap(),
        Appended::Refused(_)
    ));
}

pub(crate) async fn the_last_append_publishes_only_under_the_lease(meta: &dyn MetaStore) {
    meta.insert_appended(&upload("p", Some(20)), None, Utc::now())
        .await
        .unwrap()
        .unwrap();
    let last = append(0, 0, 20);
    let record = file(5, "files/p");
    assert_eq!(
        meta.publish_appended(&id("p"), &last, &record, &token("nobody"))
            .await
            .unwrap(),
        None,
        "without the lease nothing is published"
    );
    assert_eq!(meta.find_file(&record.sha256).await.unwrap(), None);
    meta.claim_merge(&lease(5, "p", "t", 30), Utc::now())
        .await
        .unwrap();
    let (outcome, published) = meta
        .publish_appended(&id("p"), &last, &record, &token("t"))
        .await
        .unwrap()
        .expect("the lease holds");
    assert_eq!(published, Published::Now(record.clone()));
    let Appended::Accepted(done) = outcome else {
        panic!("the last append is recorded");
    };
    assert_eq!(done.status, UploadStatus::Complete);
    assert_eq!(done.sha256, Some(record.sha256));
    assert_eq!(done.offset, 20);
    assert_eq!(meta.find_file(&record.sha256).await.unwrap(), Some(record));
    assert_eq!(
        meta.session_status(&id("p")).await.unwrap(),
        Some(UploadStatus::Complete),
        "the leftover listing sees an appended upload's state"
    );
}

pub(crate) async fn appended_uploads_count_towards_the_quota_and_expire(meta: &dyn MetaStore) {
    let quota = SessionQuota {
        max_sessions: 1,
        max_bytes: 100,
    };
    let now = Utc::now();
    meta.insert_appended(&upload("q1", Some(50)), Some(quota), now)
        .await
        .unwrap()
        .unwrap();
    let refused = meta
        .insert_appended(&upload("q2", Some(10)), Some(quota), now)
        .await
        .unwrap();
    assert!(refused.is_err(), "a second live upload is over the quota");
    let later = now + Duration::hours(3);
    let expired = meta.expired_appended(later, 10).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert!(!meta.delete_expired_appended(&id("q1"), now).await.unwrap());
    assert!(
        meta.delete_expired_appended(&id("q1"), later)
            .await
            .unwrap()
    );
    assert_eq!(meta.find_appended(&id("q1")).await.unwrap(), None);
}
