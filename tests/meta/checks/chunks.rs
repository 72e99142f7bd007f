//! The chunk promises: recording while uploading, hash links that follow
//! the copy they were computed from, and what a session received, summed
//! up in runs.

use super::*;

pub(crate) async fn chunks_are_recorded_only_while_uploading(meta: &dyn MetaStore) {
    meta.insert_session(&session("s1", "alice", 1, 20))
        .await
        .expect("insert");
    let expires = Utc::now() + Duration::hours(48);
    let first = meta
        .record_chunk(&id("s1"), &chunk(1, "k1"), expires)
        .await
        .expect("record");
    assert_eq!(
        first,
        Recorded::Accepted {
            replaced_key: None,
            received_count: 1,
            received_bytes: 10
        }
    );
    let again = meta
        .record_chunk(&id("s1"), &chunk(1, "k2"), expires)
        .await
        .expect("record");
    assert_eq!(
        again,
        Recorded::Accepted {
            replaced_key: Some(key("k1")),
            received_count: 1,
            received_bytes: 10
        },
        "recording an index again hands back the replaced key"
    );
    let chunks = meta.chunks(&id("s1")).await.expect("chunks");
    assert_eq!(chunks, vec![chunk(1, "k2")]);
    let session = meta
        .find_session(&owner("alice"), &hash(1))
        .await
        .expect("find")
        .expect("a session");
    assert_eq!(
        session.expires_at.timestamp(),
        expires.timestamp(),
        "a chunk extends the expiry"
    );
    meta.record_chunk(&id("s1"), &chunk(0, "k0"), expires)
        .await
        .expect("record");
    assert!(meta.start_merge(&id("s1")).await.expect("start"));
    assert_eq!(
        meta.record_chunk(&id("s1"), &chunk(0, "k3"), expires)
            .await
            .expect("record"),
        Recorded::NotWritable(UploadStatus::Merging)
    );
    assert_eq!(meta.chunks(&id("s1")).await.expect("chunks").len(), 2);
    meta.delete_session(&id("s1")).await.expect("delete");
    assert_eq!(
        meta.record_chunk(&id("s1"), &chunk(0, "k4"), expires)
            .await
            .expect("record"),
        Recorded::SessionGone
    );
    assert!(
        meta.chunks(&id("s1")).await.expect("chunks").is_empty(),
        "chunks go with their session"
    );
}

pub(crate) async fn hash_links_follow_the_chunk_copy_they_were_computed_from(meta: &dyn MetaStore) {
    meta.insert_session(&session("s1", "alice", 1, 30))
        .await
        .expect("insert");
    let expires = Utc::now() + Duration::hours(48);
    assert_eq!(meta.first_unlinked(&id("s1")).await.expect("first"), None);
    for (index, object) in [(2, "k2"), (1, "k1")] {
        meta.record_chunk(&id("s1"), &chunk(index, object), expires)
            .await
            .expect("record");
    }
    assert_eq!(
        meta.first_unlinked(&id("s1")).await.expect("first"),
        Some(Unlinked {
            chunk: chunk(1, "k1"),
            previous: None
        }),
        "the lowest unlinked chunk, and no chunk before it yet"
    );
    meta.record_chunk(&id("s1"), &chunk(0, "k0"), expires)
        .await
        .expect("record");
    assert!(
        meta.link_chunk(&id("s1"), &chunk(0, "k0"), &link(0, 10))
            .await
            .expect("link")
    );
    let linked = Chunk {
        link: Some(link(0, 10)),
        ..chunk(0, "k0")
    };
    assert_eq!(
        meta.first_unlinked(&id("s1")).await.expect("first"),
        Some(Unlinked {
            chunk: chunk(1, "k1"),
            previous: Some(linked.clone())
        }),
        "the chunk before comes with its link"
    );
    meta.record_chunk(&id("s1"), &chunk(1, "k1b"), expires)
        .await
        .expect("record");
    assert!(
        !meta
            .link_chunk(&id("s1"), &chunk(1, "k1"), &link(10, 20))
            .await
            .expect("link"),
        "a link of a replaced copy is not recorded"
    );
    assert!(
        meta.link_chunk(&id("s1"), &chunk(1, "k1b"), &link(10, 20))
            .await
            .expect("link")
    );
    let mut chunks = meta.chunks(&id("s1")).await.expect("chunks");
    assert_eq!(
        chunks[1].link,
        Some(link(10, 20)),
        "a link reads back whole"
    );
    meta.record_chunk(&id("s1"), &chunk(0, "k0b"), expires)
        .await
        .expect("record");
    chunks = meta.chunks(&id("s1")).await.expect("chunks");
    assert_eq!(
        chunks.iter().map(|c| c.link.is_some()).collect::<Vec<_>>(),
        vec![false, true, false],
        "recording a chunk again clears its link"
    );
    let other_bytes = Chunk {
        sha256: hash(9),
        ..chunk(0, "k0c")
    };
    meta.record_chunk(&id("s1"), &other_bytes, expires)
        .await
        .expect("record");
    chunks = meta.chunks(&id("s1")).await.expect("chunks");
    assert_eq!(
        chunks.iter().map(|c| c.link.is_some()).collect::<Vec<_>>(),
        vec![false, false, false],
        "a chunk sent again with other bytes clears the links after it"
    );
    assert_eq!(
        meta.first_unlinked(&id("s1"))
            .await
            .expect("first")
            .map(|unlinked| unlinked.chunk.index),
        Some(0)
    );
}

/// Records chunks 0-2, 5, 7, 8 and 10 of an 11-chunk session `s1`
/// (105 bytes in chunks of 10) and answers what it then has received.
pub(crate) async fn record_scattered_chunks(meta: &dyn MetaStore) -> ReceivedChunks {
    meta.insert_session(&session("s1", "alice", 1, 105))
        .await
        .expect("insert");
    assert_eq!(
        meta.received(&id("s1")).await.expect("received"),
        ReceivedChunks::default(),
        "nothing received yet"
    );
    let expires = Utc::now() + Duration::hours(48);
    for index in [10, 0, 2, 1, 5, 8, 7, 5] {
        let size = if index == 10 { 5 } else { 10 };
        let mut chunk = chunk(index, &format!("k{index}"));
        chunk.size = size;
        meta.record_chunk(&id("s1"), &chunk, expires)
            .await
            .expect("record");
    }
    ReceivedChunks {
        runs: vec![[0, 2], [5, 5], [7, 8], [10, 10]],
        bytes: 65,
    }
}

pub(crate) async fn what_a_session_received_is_summed_up_in_runs(meta: &dyn MetaStore) {
    let expected = record_scattered_chunks(meta).await;
    assert_eq!(meta.received(&id("s1")).await.expect("received"), expected);
    assert_eq!(
        meta.received(&id("s2")).await.expect("received"),
        ReceivedChunks::default(),
        "an unknown session has received nothing"
    );
}

pub(crate) async fn a_reopened_merge_forgets_its_lost_chunks(meta: &dyn MetaStore) {
    meta.insert_session(&session("s1", "alice", 1, 20))
        .await
        .expect("insert");
    let expires = Utc::now() + Duration::hours(48);
    for (index, object) in [(0, "k0"), (1, "k1")] {
        meta.record_chunk(&id("s1"), &chunk(index, object), expires)
            .await
            .expect("record");
    }
    assert!(meta.start_merge(&id("s1")).await.expect("start"));
    assert!(
        !meta
            .reopen_merge(&hash(1), &id("s1"), &token("t1"), &[1])
            .await
            .expect("reopen"),
        "no lease, no change"
    );
    meta.claim_merge(&lease(1, "s1", "t1", 30), Utc::now())
        .await
        .expect("claim");
    assert!(
        meta.reopen_merge(&hash(1), &id("s1"), &token("t1"), &[1])
            .await
            .expect("reopen")
    );
    assert_eq!(
        status_of(meta, "alice", 1).await,
        Some(UploadStatus::Uploading)
    );
    assert_eq!(
        meta.chunks(&id("s1")).await.expect("chunks"),
        vec![chunk(0, "k0")]
    );
    assert_eq!(
        meta.received(&id("s1")).await.expect("received"),
        ReceivedChunks {
            runs: vec![[0, 0]],
            bytes: 10
        },
        "progress shows the lost chunk missing"
    );
    assert_eq!(
        meta.claim_merge(&lease(1, "s1", "t2", 30), Utc::now())
            .await
            .expect("claim"),
        Claim::Claimed {
            abandoned_key: None
        },
        "the lease was given up"
    );
    assert!(matches!(
        meta.record_chunk(&id("s1"), &chunk(1, "k2"), expires)
            .await
            .expect("record"),
        Recorded::Accepted {
            received_count: 2,
            ..
        }
    ));
}
