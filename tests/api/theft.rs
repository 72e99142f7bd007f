//! A file is never given to whoever knows its hash: a session completes
//! only once the server hashed its own chunks to its key, whether or not a
//! file of that hash is published, and its answers say the same either way.

use ferry::config::{DownloadAccess, InstantUploadMode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, proof_for, sha256_hex, spawn_app_with, test_bytes, with_tokens,
};

/// The file of the red team's report: 600 KiB in chunks of 256 KiB.
const SIZE: usize = 614_400;
const CHUNK: usize = 262_144;

/// Tokens and signed downloads, with instant upload as `mode` says.
async fn server(backend: Backend, mode: InstantUploadMode) -> TestApp {
    spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.downloads = DownloadAccess::Signed;
        settings.security.download_key = Some("a download key of the test".to_owned().into());
        settings.security.instant_upload = Some(mode);
        settings.min_chunk_size = 1024;
    })
    .await
}

/// How a caller sends a chunk: raw `PUT`, as the CLI does, or a multipart
/// `POST`, as the JavaScript client does in a mini-program.
#[derive(Debug, Clone, Copy)]
enum Path {
    Put,
    Form,
}

async fn send(caller: &TestApp, sha: &str, index: usize, bytes: Vec<u8>, path: Path) -> StatusCode {
    let url = caller.url(&format!("/v1/uploads/{sha}/chunks/{index}"));
    let request = match path {
        Path::Put => caller.client.put(url).body(bytes),
        Path::Form => {
            let part = reqwest::multipart::Part::bytes(bytes).file_name("wxfile://tmp.bin");
            let form = reqwest::multipart::Form::new().part("file", part);
            caller.client.post(url).multipart(form)
        }
    };
    request.send().await.unwrap().status()
}

/// Mallory knows the hash and size of alice's file and sends chunks of
/// other bytes (empty ones, and ones of the right sizes), by each path;
/// what `complete` answers, as (status, body).
async fn steal(app: &TestApp, sha: &str, chunks: Vec<Vec<u8>>, path: Path) -> (StatusCode, Value) {
    let mallory = app.as_owner("mallory");
    let created = mallory
        .create(json!({"sha256": sha, "size": SIZE, "chunk_size": CHUNK}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["file"], Value::Null, "{created}");
    for (index, bytes) in chunks.into_iter().enumerate() {
        let status = send(&mallory, sha, index, bytes, path).await;
        assert!(status.is_success() || status.is_client_error(), "{status}");
    }
    let answer = mallory.complete(sha).await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    let progress: Value = mallory.progress(sha).await.json().await.unwrap();
    assert_ne!(progress["status"], "complete", "{progress}");
    assert_eq!(progress["file"], Value::Null, "{progress}");
    mallory.abort(sha).await;
    (status, body)
}

async fn knowing_a_files_hash_and_size_does_not_get_it(backend: Backend, mode: InstantUploadMode) {
    let app = server(backend, mode).await;
    let data = test_bytes(SIZE, 90);
    let sha = sha256_hex(&data);
    app.as_owner("alice").upload(&data, CHUNK).await;
    let unknown = test_bytes(SIZE, 91);
    let unknown_sha = sha256_hex(&unknown);
    let forgeries = [
        (
            vec![Vec::new(), Vec::new(), Vec::new()],
            StatusCode::CONFLICT,
        ),
        (
            vec![vec![0; CHUNK], vec![0; CHUNK], vec![0; SIZE - 2 * CHUNK]],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for path in [Path::Put, Path::Form] {
        for (chunks, refused) in &forgeries {
            let stolen = steal(&app, &sha, chunks.clone(), path).await;
            let unknown = steal(&app, &unknown_sha, chunks.clone(), path).await;
            assert_eq!(stolen.0, *refused, "{path:?}: {}", stolen.1);
            assert_eq!(
                stolen, unknown,
                "{path:?}: a published hash answers as an unknown one"
            );
        }
    }
    let failed = app
        .as_owner("mallory")
        .create(json!({"sha256": sha, "size": SIZE}))
        .await;
    let failed: Value = failed.json().await.unwrap();
    assert_eq!(failed["file"], Value::Null, "{failed}");
}

async fn in_proof_mode(backend: Backend) {
    knowing_a_files_hash_and_size_does_not_get_it(backend, InstantUploadMode::Proof).await;
}

async fn with_instant_upload_off(backend: Backend) {
    knowing_a_files_hash_and_size_does_not_get_it(backend, InstantUploadMode::Off).await;
}

/// The owner who really holds the bytes still completes by sending them,
/// with instant upload off; nothing is copied a second time.
async fn the_right_chunks_of_a_published_file_complete(backend: Backend) {
    let app = server(backend, InstantUploadMode::Off).await;
    let data = test_bytes(5000, 92);
    app.as_owner("alice").upload(&data, 1024).await;
    let stored = app.stored_keys().await;
    let bob = app.as_owner("bob");
    let done = bob.upload(&data, 1024).await;
    assert_eq!(done["status"], "complete", "{done}");
    let url = done["file"]["url"].as_str().unwrap();
    let fetched = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap(), data);
    assert_eq!(app.stored_keys().await, stored, "one copy of the file");
}

/// A second create with a proof that answers another session's challenge
/// does not pass: every session has its own ranges.
async fn a_proof_for_another_session_does_not_pass(backend: Backend) {
    let app = server(backend, InstantUploadMode::Proof).await;
    let data = test_bytes(50_000, 93);
    let sha = sha256_hex(&data);
    app.as_owner("alice").upload(&data, 1024).await;
    let mallory = app.as_owner("mallory");
    let first: Value = mallory
        .create(json!({"sha256": sha, "size": 50_000}))
        .await
        .json()
        .await
        .unwrap();
    mallory.abort(&sha).await;
    let second: Value = mallory
        .create(json!({"sha256": sha, "size": 50_000}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["proof_challenge"], second["proof_challenge"]);
    let stale = proof_for(&data, &first["proof_challenge"]);
    let answer = mallory
        .create(json!({"sha256": sha, "size": 50_000, "proof": stale}))
        .await;
    assert_eq!(answer.status(), StatusCode::OK, "the session resumes");
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["status"], "uploading", "{answer}");
    let right = proof_for(&data, &second["proof_challenge"]);
    let answer: Value = mallory
        .create(json!({"sha256": sha, "size": 50_000, "proof": right}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "complete", "{answer}");
}

/// A proof sent when no session of the caller shows a challenge is no
/// proof, even one that answered an earlier session's challenge right.
async fn a_proof_without_a_live_session_is_an_ordinary_create(backend: Backend) {
    let app = server(backend, InstantUploadMode::Proof).await;
    let data = test_bytes(5000, 94);
    let sha = sha256_hex(&data);
    app.as_owner("alice").upload(&data, 1024).await;
    let mallory = app.as_owner("mallory");
    let earlier: Value = mallory
        .create(json!({"sha256": sha, "size": 5000}))
        .await
        .json()
        .await
        .unwrap();
    let answered = proof_for(&data, &earlier["proof_challenge"]);
    mallory.abort(&sha).await;
    let answer = mallory
        .create(json!({"sha256": sha, "size": 5000, "proof": answered}))
        .await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["status"], "uploading", "{answer}");
    assert_eq!(answer["file"], Value::Null, "{answer}");
    let wrong = mallory.complete(&sha).await;
    assert_error(wrong, StatusCode::CONFLICT, "chunks-missing").await;
}

/// Drawing challenge after challenge until one misses the bytes a caller
/// lacks ends after a handful of sessions a day, for a published hash as
/// for an unknown one; resuming the session draws nothing.
async fn challenges_cannot_be_drawn_without_end(backend: Backend) {
    let app = server(backend, InstantUploadMode::Proof).await;
    let data = test_bytes(50_000, 95);
    app.as_owner("alice").upload(&data, 1024).await;
    let mallory = app.as_owner("mallory");
    let mut answers = Vec::new();
    for sha in [sha256_hex(&data), sha256_hex(b"nothing of the kind")] {
        let mut challenges = Vec::new();
        for _ in 0..8 {
            let created = mallory.create(json!({"sha256": sha, "size": 50_000})).await;
            assert_eq!(created.status(), StatusCode::CREATED);
            let resumed = mallory.create(json!({"sha256": sha, "size": 50_000})).await;
            assert_eq!(resumed.status(), StatusCode::OK, "resuming is free");
            let resumed: Value = resumed.json().await.unwrap();
            challenges.push(resumed["proof_challenge"].clone());
            mallory.abort(&sha).await;
        }
        challenges.dedup();
        assert_eq!(challenges.len(), 8, "each session its own challenge");
        let refused = mallory.create(json!({"sha256": sha, "size": 50_000})).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            wait > 23 * 3600 && wait <= 24 * 3600,
            "retry after {wait} s"
        );
        let body: Value = refused.json().await.unwrap();
        answers.push((body["code"].clone(), body["message"].clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "the same refusal whether the file exists or not"
    );
    let bob = app.as_owner("bob");
    let other = bob
        .create(json!({"sha256": sha256_hex(&data), "size": 50_000}))
        .await;
    assert_eq!(
        other.status(),
        StatusCode::CREATED,
        "another owner is not held back"
    );
}

on_both_backends!(
    in_proof_mode,
    with_instant_upload_off,
    the_right_chunks_of_a_published_file_complete,
    a_proof_for_another_session_does_not_pass,
    a_proof_without_a_live_session_is_an_ordinary_create,
    challenges_cannot_be_drawn_without_end,
);
