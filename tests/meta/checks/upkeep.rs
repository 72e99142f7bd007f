//! The upkeep promises: one binding to one store, a repair that needs the
//! missing key it names, one listing of the store at a time, and orphans
//! noted with the time they were first found.

use super::*;

pub(crate) async fn a_database_is_bound_to_one_store(meta: &dyn MetaStore) {
    let now = Utc::now();
    assert_eq!(meta.store_binding().await.expect("read"), None);
    assert!(meta.newest_files(8).await.expect("files").is_empty());
    assert_eq!(meta.bind_store("first", now).await.expect("bind"), "first");
    assert_eq!(
        meta.bind_store("second", now).await.expect("bind"),
        "first",
        "a bound database stays bound"
    );
    assert_eq!(
        meta.store_binding().await.expect("read").as_deref(),
        Some("first")
    );
    meta.rebind_store("second", now).await.expect("rebind");
    assert_eq!(
        meta.store_binding().await.expect("read").as_deref(),
        Some("second"),
        "an operator's binding replaces it"
    );
    let older = FileRecord {
        published_at: file(1, "files/a").published_at - Duration::hours(1),
        ..file(1, "files/a")
    };
    let newer = file(2, "files/b");
    meta.insert_file(&older).await.expect("insert");
    meta.insert_file(&newer).await.expect("insert");
    assert_eq!(
        meta.newest_files(8).await.expect("files"),
        [newer.clone(), older],
        "newest first"
    );
    assert_eq!(meta.newest_files(1).await.expect("files"), [newer]);
}

pub(crate) async fn concurrent_binds_agree_on_one_store(meta: &dyn MetaStore) {
    let now = Utc::now();
    let (first, second) = tokio::join!(meta.bind_store("one", now), meta.bind_store("two", now));
    let (first, second) = (first.expect("bind"), second.expect("bind"));
    assert_eq!(first, second, "both callers learn the one binding");
    assert!(first == "one" || first == "two");
}

pub(crate) async fn a_repair_needs_the_missing_key_it_names(meta: &dyn MetaStore) {
    let published = file(1, "files/a");
    meta.insert_file(&published).await.expect("insert");
    let copy = FileRecord {
        part_size: Some(4),
        object_key: key("files/b"),
        ..published.clone()
    };
    assert!(
        !meta
            .repair_file(&copy, &key("files/other"))
            .await
            .expect("repair"),
        "a repair of another key changes nothing"
    );
    assert_eq!(
        meta.find_file(&hash(1)).await.expect("find"),
        Some(published.clone())
    );
    assert!(
        meta.repair_file(&copy, &key("files/a"))
            .await
            .expect("repair")
    );
    let repaired = meta
        .find_file(&hash(1))
        .await
        .expect("find")
        .expect("a file");
    assert_eq!(repaired.object_key, key("files/b"));
    assert_eq!(repaired.part_size, Some(4));
    assert_eq!(
        repaired.published_at, published.published_at,
        "a repair keeps the file's Last-Modified"
    );
    assert!(
        !meta
            .repair_file(&copy, &key("files/a"))
            .await
            .expect("repair"),
        "of two repairs of one missing key, one wins"
    );
}

pub(crate) async fn one_listing_of_the_store_at_a_time(meta: &dyn MetaStore) {
    let now = Utc::now().trunc_subsecs(3);
    assert!(
        !meta
            .claim_leftover_listing(now, now - Duration::hours(1))
            .await
            .expect("claim"),
        "an unbound database lists no store"
    );
    meta.bind_store("store", now).await.expect("bind");
    assert!(
        meta.claim_leftover_listing(now, now - Duration::hours(1))
            .await
            .expect("claim")
    );
    let soon = now + Duration::minutes(10);
    assert!(
        !meta
            .claim_leftover_listing(soon, soon - Duration::hours(1))
            .await
            .expect("claim"),
        "a listing within the hour is another instance's"
    );
    let later = now + Duration::hours(1);
    assert!(
        meta.claim_leftover_listing(later, later - Duration::hours(1))
            .await
            .expect("claim")
    );
}

pub(crate) async fn orphans_keep_when_they_were_first_found(meta: &dyn MetaStore) {
    let first = Utc::now().trunc_subsecs(3);
    let later = first + Duration::days(2);
    assert_eq!(
        meta.note_orphan("chunks/x/", first).await.expect("note"),
        first
    );
    assert_eq!(
        meta.note_orphan("files/y", later).await.expect("note"),
        later
    );
    assert_eq!(
        meta.note_orphan("chunks/x/", later).await.expect("note"),
        first,
        "found again, it keeps its first time"
    );
    assert_eq!(
        meta.forget_orphans_unseen_since(later)
            .await
            .expect("forget"),
        0
    );
    let last = later + Duration::days(1);
    meta.note_orphan("files/y", last).await.expect("note");
    assert_eq!(
        meta.forget_orphans_unseen_since(last)
            .await
            .expect("forget"),
        1,
        "chunks/x/ was not found by the last listing"
    );
    assert_eq!(
        meta.note_orphan("chunks/x/", last).await.expect("note"),
        last
    );
    meta.forget_orphan("files/y").await.expect("forget");
    assert_eq!(
        meta.note_orphan("files/y", last + Duration::days(1))
            .await
            .expect("note"),
        last + Duration::days(1)
    );
}

pub(crate) async fn new_sessions_are_counted_per_owner_and_hash_in_a_window(meta: &dyn MetaStore) {
    let start = Utc::now().trunc_subsecs(3);
    let window = Duration::hours(24);
    let count = |who: &'static str, seed: u8, at: chrono::DateTime<Utc>| async move {
        meta.count_session_start(&owner(who), &hash(seed), at, at - window)
            .await
            .expect("count")
    };
    assert_eq!(count("alice", 1, start).await, (1, start));
    let later = start + Duration::hours(23);
    assert_eq!(
        count("alice", 1, later).await,
        (2, start),
        "the same window"
    );
    assert_eq!(count("bob", 1, later).await, (1, later), "another owner");
    assert_eq!(count("alice", 2, later).await, (1, later), "another hash");
    let next_day = start + Duration::hours(25);
    assert_eq!(
        count("alice", 1, next_day).await,
        (1, next_day),
        "a window that began over a day ago starts over"
    );
    let (first, second) = tokio::join!(count("carol", 3, start), count("carol", 3, start));
    let mut counts = [first.0, second.0];
    counts.sort();
    assert_eq!(counts, [1, 2], "concurrent sessions are both counted");
}
