//! A chunk body cut by a kill leaves the temporary file its write was
//! filling (`chunks/<upload>/<index>.<token>#1`), which listings of the
//! store never show: the abort and the sweep of its session remove it, and
//! the leftover listing removes it (and empty chunk folders) once, saying
//! only what it really removed.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use super::store_binding::ferryd;
use super::{CHUNK, Instance, PATIENCE, hex_sha256, random_bytes};

/// Every folder and file under the store's `chunks/`.
fn chunk_paths(store: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![store.join("chunks")];
    while let Some(next) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Starts an upload of two chunks, sends half of the first chunk's body
/// and kills the instance once the write's temporary file is on disk.
/// Answers the upload's hash and the temporary file.
async fn cut_a_chunk(
    database: &Path,
    store: &Path,
    env: &[(&str, &str)],
    seed: u64,
) -> (String, PathBuf) {
    let mut instance = Instance::start_local_with(database, store, env);
    let data = random_bytes(2 * CHUNK, seed);
    let sha = hex_sha256(&data);
    let created = reqwest::Client::new()
        .post(instance.url("/v1/uploads"))
        .json(&json!({"sha256": sha, "size": data.len(), "chunk_size": CHUNK}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut cut = TcpStream::connect(instance.url.trim_start_matches("http://")).unwrap();
    write!(
        cut,
        "PUT /v1/uploads/{sha}/chunks/0 HTTP/1.1\r\nHost: ferry\r\nContent-Length: {CHUNK}\r\n\r\n"
    )
    .unwrap();
    cut.write_all(&data[..CHUNK / 2]).unwrap();
    let started = Instant::now();
    let temporary = loop {
        let temporary = chunk_paths(store)
            .into_iter()
            .find(|path| path.to_string_lossy().ends_with("#1"));
        if let Some(temporary) = temporary {
            break temporary;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no temporary file was written"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    instance.kill();
    assert!(temporary.exists(), "the kill left {}", temporary.display());
    (sha, temporary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_removes_a_chunk_cut_by_a_kill() {
    let folder = tempfile::tempdir().unwrap();
    let (database, store) = (folder.path().join("ferry.db"), folder.path().join("store"));
    let (sha, _) = cut_a_chunk(&database, &store, &[], 11).await;
    let restarted = Instance::start_local(&database, &store);
    let aborted = reqwest::Client::new()
        .delete(restarted.url(&format!("/v1/uploads/{sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), StatusCode::NO_CONTENT);
    assert_eq!(chunk_paths(&store), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_a_chunk_cut_by_a_kill_with_its_expired_session() {
    let folder = tempfile::tempdir().unwrap();
    let (database, store) = (folder.path().join("ferry.db"), folder.path().join("store"));
    cut_a_chunk(&database, &store, &[("FERRY_SESSION_TTL", "2s")], 12).await;
    let _restarted = Instance::start_local(&database, &store);
    let started = Instant::now();
    while !chunk_paths(&store).is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "the sweep left {:?}",
            chunk_paths(&store)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leftover_listing_removes_cut_chunks_and_empty_folders_once() {
    let folder = tempfile::tempdir().unwrap();
    let (database, store) = (folder.path().join("ferry.db"), folder.path().join("store"));
    let (sha, temporary) = cut_a_chunk(&database, &store, &[], 13).await;
    let mut connection = SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM uploads WHERE sha256 = ?")
        .bind(&sha)
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let empty = store.join("chunks").join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&empty).unwrap();

    let first = ferryd(&database, &store, &["store", "leftovers", "--delete"]);
    let listed = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let cut_folder = temporary
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let empty_folder = empty.file_name().unwrap().to_string_lossy().into_owned();
    for folder in [&cut_folder, &empty_folder] {
        let line = format!("chunk-folder\tchunks/{folder}/\t-\tdeleted");
        assert!(listed.lines().any(|listed| listed == line), "{listed}");
    }
    assert!(String::from_utf8_lossy(&first.stderr).contains("2 leftovers, 2 deleted"));
    assert_eq!(chunk_paths(&store), Vec::<PathBuf>::new());

    let second = ferryd(&database, &store, &["store", "leftovers", "--delete"]);
    assert!(second.status.success());
    assert_eq!(String::from_utf8_lossy(&second.stdout), "");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("0 leftovers, 0 deleted"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}
