//! The moves promises: one claim at a time on a file in parts, a switch to
//! its one object that needs the key it names and records that key for
//! deletion in the same step, and recorded deletions listed until
//! forgotten.

use super::*;

fn in_parts(seed: u8) -> FileRecord {
    FileRecord {
        part_size: Some(8),
        ..file(seed, &format!("files/{}/t", hash(seed)))
    }
}

pub(crate) async fn a_file_in_parts_is_claimed_by_one_mover_at_a_time(meta: &dyn MetaStore) {
    let now = meta.clock().await.expect("clock");
    assert_eq!(
        meta.claim_file_move(now, now + Duration::minutes(5))
            .await
            .expect("claim"),
        None
    );
    meta.insert_file(&file(1, "files/sha256/one"))
        .await
        .expect("insert");
    let parts = in_parts(2);
    meta.insert_file(&parts).await.expect("insert");
    assert_eq!(meta.files_in_parts().await.expect("count"), 1);

    let until = now + Duration::minutes(5);
    let claimed = meta.claim_file_move(now, until).await.expect("claim");
    assert_eq!(claimed.as_ref(), Some(&parts), "only the file in parts");
    assert_eq!(
        meta.claim_file_move(now, until).await.expect("claim"),
        None,
        "held"
    );
    let later = until + Duration::seconds(1);
    let taken_up = meta
        .claim_file_move(later, later + Duration::minutes(5))
        .await
        .expect("claim");
    assert_eq!(taken_up, Some(parts.clone()), "a lapsed claim is taken up");
    meta.release_file_move(&parts.sha256)
        .await
        .expect("release");
    let again = meta.claim_file_move(now, until).await.expect("claim");
    assert_eq!(again, Some(parts), "a claim given back is free");
}

pub(crate) async fn a_move_needs_the_key_it_names_and_records_it_for_deletion(
    meta: &dyn MetaStore,
) {
    let now = Utc::now().trunc_subsecs(0);
    let parts = in_parts(3);
    meta.insert_file(&parts).await.expect("insert");
    let one = key(&format!("files/sha256/{}", parts.sha256));
    let other = key("files/elsewhere/t");
    assert!(
        !meta
            .move_file(&parts.sha256, &other, &one, now)
            .await
            .expect("move")
    );
    assert!(
        meta.recorded_deletions(10).await.expect("list").is_empty(),
        "nothing recorded"
    );

    assert!(
        meta.move_file(&parts.sha256, &parts.object_key, &one, now)
            .await
            .expect("move")
    );

    let moved = meta
        .find_file(&parts.sha256)
        .await
        .expect("find")
        .expect("a file");
    assert_eq!(
        (moved.object_key.clone(), moved.part_size),
        (one.clone(), None)
    );
    assert_eq!(moved.size, parts.size);
    assert_eq!(meta.files_in_parts().await.expect("count"), 0);
    assert_eq!(
        meta.recorded_deletions(10).await.expect("list"),
        std::slice::from_ref(&parts.object_key)
    );
    assert!(
        !meta
            .move_file(&parts.sha256, &parts.object_key, &one, now)
            .await
            .expect("move"),
        "a second move finds the row switched"
    );
    meta.record_deletion(&parts.object_key, now)
        .await
        .expect("record again");
    assert_eq!(meta.recorded_deletions(10).await.expect("list").len(), 1);
    meta.forget_deletion(&parts.object_key)
        .await
        .expect("forget");
    assert!(meta.recorded_deletions(10).await.expect("list").is_empty());
}
