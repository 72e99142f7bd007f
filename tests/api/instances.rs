//! Several instances over one PostgreSQL database and one store: chunks go
//! to any instance, and one merge per content hash runs across all of them.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{sha256_hex, spawn_cluster, test_bytes};
use crate::listing::files_among;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_sent_to_any_instance_make_one_file_that_every_instance_serves() {
    let instances = spawn_cluster(3).await;
    let data = test_bytes(100_000, 50);
    let sha = sha256_hex(&data);
    instances[0].create_for(&data, 4096).await;
    let resumed = instances[2]
        .create(json!({"sha256": sha, "size": data.len(), "chunk_size": 4096}))
        .await;
    assert_eq!(
        resumed.status(),
        StatusCode::OK,
        "another instance resumes the same session"
    );
    let sends = (0..25).map(|index| instances[index % 3].send_chunk(&data, 4096, index));
    join_all(sends).await;
    let progress: Value = instances[1].progress(&sha).await.json().await.unwrap();
    assert_eq!(progress["received_chunks"], json!([[0, 24]]));

    let completes = join_all(instances.iter().map(|instance| instance.complete(&sha))).await;
    for answer in completes {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let files = files_among(&instances[0].stored_keys().await);
    assert_eq!(files.len(), 1, "one merged file, no chunks left: {files:?}");
    for instance in &instances {
        let download = instance.download(&sha).await;
        assert_eq!(download.headers()["etag"], format!("\"{sha}\""));
        let last_modified = download.headers()["last-modified"].clone();
        assert_eq!(
            last_modified,
            instances[0].download(&sha).await.headers()["last-modified"]
        );
        assert_eq!(download.bytes().await.unwrap(), data);
    }
}
