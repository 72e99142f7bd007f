//! The outbox and owners' files: events written with their changes, routed
//! to each URL once, claimed by one caller at a time; references that keep
//! a file, and deletions made only when due and unheld.

use ferry::meta::{Attempted, FileRef};

use super::*;

fn holder(owner_name: &str, seed: u8) -> FileRef {
    FileRef {
        owner: owner(owner_name),
        sha256: hash(seed),
        filename: Some(FileName::parse("a.mp4").expect("a filename")),
        content_type: None,
        created_at: Utc::now().trunc_subsecs(3),
    }
}

fn to_two(_: &str) -> Vec<String> {
    vec!["http://a.test/hook".into(), "http://b.test/hook".into()]
}

pub(crate) async fn each_delivery_is_claimed_by_one_caller_at_a_time(meta: &dyn MetaStore) {
    meta.insert_session(&session("s1", "alice", 1, 20))
        .await
        .expect("insert");
    assert_eq!(meta.route_events(&to_two, 10).await.expect("route"), 1);
    assert_eq!(
        meta.route_events(&to_two, 10).await.expect("route"),
        0,
        "an event is routed once"
    );
    assert_eq!(meta.pending_deliveries().await.expect("count"), 2);
    let now = meta.clock().await.expect("clock");
    let hold = now + Duration::seconds(30);
    let (first, second) = (token("first"), token("second"));
    let (mine, theirs) = tokio::join!(
        meta.claim_deliveries(&first, now, hold, 10),
        meta.claim_deliveries(&second, now, hold, 10),
    );
    let (mine, theirs) = (mine.expect("claim"), theirs.expect("claim"));
    assert_eq!(mine.len() + theirs.len(), 2, "each delivery claimed once");
    let (holder_token, claimed) = if mine.is_empty() {
        (&second, theirs)
    } else {
        (&first, mine)
    };
    assert_eq!(claimed[0].kind, "upload.created");
    let event: serde_json::Value = serde_json::from_str(&claimed[0].payload).expect("JSON");
    assert_eq!(event["data"]["owner"], "alice");
    assert_eq!(claimed[0].event_id, claimed.last().unwrap().event_id);

    let other = if holder_token == &first {
        &second
    } else {
        &first
    };
    let done = Attempted::Delivered;
    assert!(
        !meta
            .finish_delivery(&claimed[0], other, &done, now)
            .await
            .expect("finish"),
        "only the claim's holder records how it ended"
    );
    assert!(
        meta.finish_delivery(&claimed[0], holder_token, &done, now)
            .await
            .expect("finish")
    );
    let retry = Attempted::Retry {
        reason: "answered 500".into(),
        retry_at: now + Duration::seconds(60),
    };
    assert!(
        meta.finish_delivery(&claimed[1], holder_token, &retry, now)
            .await
            .expect("finish")
    );
    assert_eq!(meta.pending_deliveries().await.expect("count"), 1);
    let early = meta
        .claim_deliveries(&first, now, hold, 10)
        .await
        .expect("claim");
    assert!(early.is_empty(), "a retry waits for its time");
    let later = now + Duration::seconds(61);
    let again = meta
        .claim_deliveries(&first, later, later + Duration::seconds(30), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    let failed = Attempted::Failed {
        reason: "timed out".into(),
    };
    assert!(
        meta.finish_delivery(&again[0], &first, &failed, later)
            .await
            .expect("finish")
    );
    assert_eq!(meta.pending_deliveries().await.expect("count"), 0);
    assert_eq!(
        meta.forget_events(now - Duration::hours(1))
            .await
            .expect("forget"),
        0,
        "events written after the time given are kept"
    );
    assert_eq!(
        meta.forget_events(later + Duration::days(1))
            .await
            .expect("forget"),
        1,
        "an old event whose deliveries all ended is forgotten"
    );
}

pub(crate) async fn a_claim_that_runs_out_is_taken_over(meta: &dyn MetaStore) {
    meta.insert_held_file(&file(2, "files/b"), &holder("alice", 2))
        .await
        .expect("insert");
    meta.route_events(&|_: &str| vec!["http://a.test/hook".into()], 10)
        .await
        .expect("route");
    let now = meta.clock().await.expect("clock");
    let short = now + Duration::seconds(5);
    let dead = meta
        .claim_deliveries(&token("dead"), now, short, 10)
        .await
        .expect("claim");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].kind, "upload.completed");
    let later = now + Duration::seconds(6);
    let taken = meta
        .claim_deliveries(&token("alive"), later, later + Duration::seconds(5), 10)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1, "a lapsed claim is taken over");
    assert!(
        !meta
            .finish_delivery(&dead[0], &token("dead"), &Attempted::Delivered, later)
            .await
            .expect("finish"),
        "the first claimer no longer holds it"
    );
}

pub(crate) async fn a_file_is_deleted_only_when_due_and_held_by_none(meta: &dyn MetaStore) {
    let published = file(3, "files/c");
    meta.insert_held_file(&published, &holder("alice", 3))
        .await
        .expect("insert");
    assert!(meta.hold_file(&holder("bob", 3)).await.expect("hold"));
    assert!(
        !meta.hold_file(&holder("bob", 4)).await.expect("hold"),
        "no such file"
    );
    let listed = meta
        .held_files(&owner("bob"), None, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 20);

    let now = meta.clock().await.expect("clock");
    let due = now + Duration::hours(1);
    assert!(
        meta.release_file(Some(&owner("alice")), &hash(3), due)
            .await
            .expect("release")
    );
    assert!(
        !meta
            .release_file(Some(&owner("alice")), &hash(3), due)
            .await
            .expect("release")
    );
    let after_due = due + Duration::seconds(1);
    let lease_until = after_due + Duration::seconds(30);
    assert_eq!(
        meta.claim_deletion(after_due, lease_until)
            .await
            .expect("claim"),
        None,
        "bob still holds it"
    );
    assert!(
        meta.release_file(Some(&owner("bob")), &hash(3), due)
            .await
            .expect("release")
    );
    assert_eq!(
        meta.claim_deletion(now, lease_until).await.expect("claim"),
        None,
        "not due yet"
    );
    assert!(meta.hold_file(&holder("carol", 3)).await.expect("hold"));
    assert_eq!(
        meta.claim_deletion(after_due, lease_until)
            .await
            .expect("claim"),
        None,
        "a new holder cancels the deletion"
    );
    assert!(
        meta.release_file(None, &hash(3), due)
            .await
            .expect("release everyone's")
    );
    let claimed = meta
        .claim_deletion(after_due, lease_until)
        .await
        .expect("claim")
        .expect("the due deletion");
    assert_eq!(claimed.file.object_key, published.object_key);
    assert_eq!(meta.find_file(&hash(3)).await.expect("find"), None);
    assert_eq!(
        meta.claim_merge(&lease(3, "m1", "merge", 30), after_due)
            .await
            .expect("claim"),
        Claim::Busy,
        "the deleter holds the hash's lease until the object is gone"
    );
    assert_eq!(
        meta.insert_held_file(&published, &holder("dave", 3))
            .await
            .expect("insert"),
        Published::LeaseLost,
        "a one-request upload of the bytes being deleted waits for the deleter"
    );
    assert_eq!(meta.find_file(&hash(3)).await.expect("find"), None);
    assert!(
        meta.drop_merge(&hash(3), &claimed.token)
            .await
            .expect("drop")
    );
    assert_eq!(
        meta.claim_deletion(after_due, lease_until)
            .await
            .expect("claim"),
        None
    );
    let kinds: std::sync::Mutex<Vec<String>> = std::sync::Mutex::default();
    meta.route_events(
        &|kind: &str| {
            kinds.lock().unwrap().push(kind.to_owned());
            Vec::new()
        },
        100,
    )
    .await
    .expect("route");
    let mut kinds = kinds.into_inner().unwrap();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "file.deleted",
            "upload.completed",
            "upload.completed",
            "upload.completed"
        ],
        "three holders' completions and one deletion, no event for what changed nothing"
    );
}
