//! `ferryd store move-parts` over a store that earlier versions filled
//! with files in parts: every file becomes its one object, named by its
//! hash, the parts go, the command says what it did, and a server started
//! after serves the same bytes; run again, it finds nothing to do.

use std::path::Path;

use ferry::blob::BlobStore;
use ferry::meta::sqlite::SqliteMeta;

use super::parts_layout::publish_in_parts;
use super::store_binding::{ferryd, files_under};
use super::{Instance, hex_sha256, random_bytes};

/// Publishes `files` in parts in the database and store, as an earlier
/// version did.
async fn publish_earlier(database: &Path, store: &Path, files: &[Vec<u8>]) {
    let meta = SqliteMeta::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("the database");
    let blobs = BlobStore::open(&store.display().to_string()).expect("the store");
    for data in files {
        publish_in_parts(&meta, &blobs, data, 64 << 10, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferryd_store_move_parts_makes_every_file_one_object() {
    let place = tempfile::tempdir().expect("a folder");
    let (database, store) = (place.path().join("ferry.db"), place.path().join("store"));
    let moving_nothing = [("FERRY_MIGRATE_PARTS", "false")];
    let mut first = Instance::start_local_with(&database, &store, &moving_nothing);
    assert!(first.terminate().success(), "the store and database bound");
    let files = [random_bytes(200_000, 51), random_bytes(64 << 10, 52)];
    publish_earlier(&database, &store, &files).await;
    let shas: Vec<String> = files.iter().map(|data| hex_sha256(data)).collect();
    assert_eq!(
        files_under(&store).len(),
        1 + 4 + 1,
        "the identity and six parts"
    );

    let moved = ferryd(&database, &store, &["store", "move-parts"]);

    let stderr = String::from_utf8_lossy(&moved.stderr);
    assert!(moved.status.success(), "{stderr}");
    assert!(stderr.contains("2 files published in parts"), "{stderr}");
    assert!(stderr.contains("0 files left in parts"), "{stderr}");
    let mut lines: Vec<String> = String::from_utf8_lossy(&moved.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    let mut expected: Vec<String> = files
        .iter()
        .zip(&shas)
        .map(|(data, sha)| format!("{sha}\t{}\tmoved", data.len()))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
    let mut one_objects: Vec<String> = shas
        .iter()
        .map(|sha| format!("files/sha256/{sha}"))
        .collect();
    one_objects.push("ferry-store.json".to_owned());
    one_objects.sort();
    assert_eq!(
        files_under(&store),
        one_objects,
        "one object a file, no part"
    );
    for sha in &shas {
        let stored = std::fs::read(store.join(format!("files/sha256/{sha}"))).unwrap();
        assert_eq!(&hex_sha256(&stored), sha);
    }

    let mut server = Instance::start_local_with(&database, &store, &moving_nothing);
    let client = reqwest::Client::new();
    for (data, sha) in files.iter().zip(&shas) {
        let served = client
            .get(server.url(&format!("/v1/files/{sha}")))
            .send()
            .await
            .unwrap();
        assert_eq!(served.bytes().await.unwrap(), data.as_slice());
    }
    server.kill();

    let again = ferryd(&database, &store, &["store", "move-parts"]);
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "",
        "nothing left to move"
    );
}
