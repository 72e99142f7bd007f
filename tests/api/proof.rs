//! Proof of possession: with instant upload by proof, only a caller that
//! holds the bytes of a published file gets it at once; everyone else
//! uploads, and cannot tell from the answers whether the file exists or how
//! large it is. One-request uploads verify their bytes whenever instant
//! upload is not by hash alone.

use ferry::config::{DownloadAccess, InstantUploadMode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, proof_for, sha256_hex, spawn_app_with, test_bytes, with_tokens,
};

const DOWNLOAD_KEY: &str = "a download key shared by the instances";
const OWNERS: [&str; 3] = ["alice", "mallory", "bob"];

/// Signed downloads and tokens; instant upload by proof (the default with
/// signed downloads) unless `mode` says otherwise.
async fn server(backend: Backend, mode: Option<InstantUploadMode>) -> TestApp {
    spawn_app_with(backend, |settings| {
        with_tokens(settings);
        settings.security.downloads = DownloadAccess::Signed;
        settings.security.download_key = Some(DOWNLOAD_KEY.to_owned().into());
        settings.security.instant_upload = mode;
    })
    .await
}

/// Asserts a fresh session of `size` bytes with a challenge of 64 ranges
/// of `min(size, 64)` bytes within the file; returns the session.
async fn assert_new_session(response: reqwest::Response, size: u64) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED);
    let upload: Value = response.json().await.unwrap();
    assert_eq!(upload["status"], "uploading");
    assert_eq!(upload["size"], size);
    assert_eq!(upload["received_bytes"], 0);
    assert_eq!(upload["file"], Value::Null);
    let ranges = upload["proof_challenge"]["ranges"]
        .as_array()
        .expect("a challenge");
    assert_eq!(ranges.len(), 64, "{upload}");
    for range in ranges {
        let (first, last) = (range[0].as_u64().unwrap(), range[1].as_u64().unwrap());
        assert!(first <= last && last < size, "{range} in {size} bytes");
        assert_eq!(last - first + 1, size.min(64));
    }
    upload
}

async fn the_right_proof_publishes_at_once(backend: Backend) {
    let app = server(backend, None).await;
    let (alice, mallory) = (app.as_owner("alice"), app.as_owner("mallory"));
    let data = test_bytes(5000, 60);
    let sha = sha256_hex(&data);
    alice.upload(&data, 1024).await;
    let stored = app.stored_keys().await;

    let asked = mallory.create(json!({"sha256": sha, "size": 5000})).await;
    let session = assert_new_session(asked, 5000).await;
    let proof = proof_for(&data, &session["proof_challenge"]);
    let proved = mallory
        .create(json!({"sha256": sha, "size": 5000, "filename": "mine.bin", "proof": proof}))
        .await;
    assert_eq!(proved.status(), StatusCode::OK);
    let upload: Value = proved.json().await.unwrap();
    assert_eq!(upload["status"], "complete");
    assert_eq!(upload["received_bytes"], 5000);
    assert_eq!(upload["proof_challenge"], Value::Null);
    assert_eq!(upload["file"]["sha256"], sha);
    assert_eq!(upload["file"]["size"], 5000);
    let url = upload["file"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/v1/files/{sha}/mine.bin?expires=")),
        "{url}"
    );
    let fetched = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap(), data);
    assert_eq!(app.stored_keys().await, stored, "no bytes were staged");
    assert_eq!(
        app.snapshot(&["mallory"]).await.usage,
        [("mallory".to_owned(), 0, 0)],
        "the proved upload holds no live session"
    );
}

async fn a_wrong_or_absent_proof_uploads_normally(backend: Backend) {
    let app = server(backend, None).await;
    let alice = app.as_owner("alice");
    let data = test_bytes(5000, 61);
    let sha = sha256_hex(&data);
    alice.upload(&data, 1024).await;
    let first_bytes = sha256_hex(&data[..256]);
    let wrong_proofs = [
        Some(sha256_hex(b"a guess")),
        Some(sha.clone()),
        Some(first_bytes),
        None,
    ];
    for (i, proof) in wrong_proofs.into_iter().enumerate() {
        let owner = app.as_owner(&format!("caller{i}"));
        let mut body = json!({"sha256": sha, "size": 5000, "chunk_size": 1024});
        if let Some(proof) = &proof {
            body["proof"] = json!(proof);
        }
        let session = assert_new_session(owner.create(body).await, 5000).await;
        assert_eq!(session["chunk_count"], 5, "proof {proof:?}");
        for index in 0..5 {
            owner.send_chunk(&data, 1024, index).await;
        }
        let done = owner.complete(&sha).await;
        assert_eq!(done.status(), StatusCode::OK, "proof {proof:?}");
        let done: Value = done.json().await.unwrap();
        assert_eq!(done["status"], "complete");
        assert_eq!(done["file"]["sha256"], sha);
    }
}

/// Everything a caller without the bytes can ask about `data` on `app` as
/// `owner`, answered as (status, body without the sliding `expires_at`).
async fn probe(app: &TestApp, owner: &str, body: Value) -> Vec<(StatusCode, Value)> {
    let caller = app.as_owner(owner);
    let sha = body["sha256"].as_str().unwrap().to_owned();
    let mut answers = Vec::new();
    let mut record = |status: StatusCode, mut body: Value| {
        if let Some(fields) = body.as_object_mut() {
            let expires = fields.remove("expires_at");
            assert!(
                expires.is_none_or(|at| at.as_str().is_some_and(|at| at.ends_with('Z'))),
                "{body}"
            );
        }
        if let Some(ranges) = body["proof_challenge"]["ranges"].as_array_mut() {
            let lengths = ranges
                .iter()
                .map(|range| json!(range[1].as_u64().unwrap() - range[0].as_u64().unwrap() + 1))
                .collect();
            *ranges = lengths;
        }
        answers.push((status, body));
    };
    for response in [
        caller.create(body.clone()).await,
        caller.create(body.clone()).await,
        caller.progress(&sha).await,
        caller.complete(&sha).await,
    ] {
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{body}"
        );
        let status = response.status();
        record(status, response.json().await.unwrap());
    }
    let wrong_bytes = caller
        .client
        .put(caller.url(&format!("/v1/files/{sha}")))
        .body(vec![7; 100])
        .send()
        .await
        .unwrap();
    let status = wrong_bytes.status();
    record(status, wrong_bytes.json().await.unwrap());
    answers
}

async fn answers_for_an_existing_and_a_missing_file_are_the_same_without_the_bytes(
    backend: Backend,
) {
    let (holding, empty) = (server(backend, None).await, server(backend, None).await);
    let data = test_bytes(5000, 62);
    let sha = sha256_hex(&data);
    holding.as_owner("alice").upload(&data, 1024).await;
    let probes = [
        json!({"sha256": sha, "size": 5000}),
        json!({"sha256": sha, "size": 5000, "proof": sha256_hex(b"a guess")}),
        json!({"sha256": sha, "size": 5001, "chunk_size": 1024}),
        json!({"sha256": sha, "size": 4999, "proof": sha256_hex(b"a guess")}),
        json!({"sha256": sha, "size": 1}),
        json!({"sha256": sha, "size": 100_000, "filename": "x.bin"}),
    ];
    for (i, body) in probes.into_iter().enumerate() {
        let owner = format!("prober{i}");
        let here = probe(&holding, &owner, body.clone()).await;
        let not_here = probe(&empty, &owner, body.clone()).await;
        assert_eq!(here, not_here, "probe {body}");
        let (status, created) = &here[0];
        assert_eq!(*status, StatusCode::CREATED, "{body}: {created}");
        assert_eq!(here[1].0, StatusCode::OK, "the second create resumes");
        assert_eq!(here[3].1["code"], "chunks-missing");
        assert_eq!(here[4].1["code"], "hash-mismatch");
    }
}

#[tokio::test]
async fn a_size_mismatch_does_not_reveal_an_existing_files_size() {
    let app = server(Backend::Sqlite, None).await;
    let data = test_bytes(5000, 63);
    let sha = sha256_hex(&data);
    app.as_owner("alice").upload(&data, 1024).await;
    let unknown = sha256_hex(b"no such file");
    for (i, size) in [1_u64, 4999, 5001, 10_000, 1 << 20].into_iter().enumerate() {
        let caller = app.as_owner(&format!("prober{i}"));
        let existing = caller.create(json!({"sha256": sha, "size": size})).await;
        let existing = assert_new_session(existing, size).await;
        let missing = caller
            .create(json!({"sha256": unknown, "size": size}))
            .await;
        let missing = assert_new_session(missing, size).await;
        let fields = |upload: &Value| -> Vec<String> {
            upload.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(fields(&existing), fields(&missing), "size {size}");
        for field in [
            "size",
            "chunk_size",
            "chunk_count",
            "received_chunks",
            "file",
        ] {
            assert_eq!(existing[field], missing[field], "{field} at size {size}");
        }
    }
}

/// One-request uploads of wrong bytes for a published hash are 422 and
/// store nothing; the right bytes answer 200 with the published file.
async fn direct_uploads_verify_the_bytes_of_a_published_hash(
    backend: Backend,
    mode: InstantUploadMode,
) {
    let app = server(backend, Some(mode)).await;
    let (alice, mallory) = (app.as_owner("alice"), app.as_owner("mallory"));
    let data = test_bytes(3000, 64);
    let sha = sha256_hex(&data);
    let put = |who: &TestApp, body: Vec<u8>| {
        who.client
            .put(who.url(&format!("/v1/files/{sha}?filename=a.bin")))
            .body(body)
            .send()
    };
    let post = |who: &TestApp, body: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("sha256", sha.clone())
            .part("file", reqwest::multipart::Part::bytes(body));
        who.client.post(who.url("/v1/files")).multipart(form).send()
    };
    assert_eq!(
        put(&alice, data.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    let before = app.snapshot(&OWNERS).await;

    let mut wrong = data.clone();
    wrong[1500] ^= 1;
    for body in [wrong.clone(), Vec::new(), data[..2999].to_vec()] {
        let answer = put(&mallory, body.clone()).await.unwrap();
        assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
        let answer = post(&mallory, body).await.unwrap();
        assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "hash-mismatch").await;
        assert_eq!(app.snapshot(&OWNERS).await, before);
    }

    for answer in [
        put(&mallory, data.clone()).await.unwrap(),
        post(&mallory, data.clone()).await.unwrap(),
    ] {
        assert_eq!(answer.status(), StatusCode::OK);
        let file: Value = answer.json().await.unwrap();
        assert_eq!(file["sha256"], sha);
        assert_eq!(file["size"], 3000);
        let fetched = app
            .client
            .get(app.url(file["url"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(fetched.bytes().await.unwrap(), data);
    }
    assert_eq!(
        app.snapshot(&OWNERS).await,
        before,
        "the second copy is not kept"
    );
}

async fn direct_uploads_verify_the_bytes_of_a_published_hash_in_proof_mode(backend: Backend) {
    direct_uploads_verify_the_bytes_of_a_published_hash(backend, InstantUploadMode::Proof).await;
}

async fn direct_uploads_verify_the_bytes_of_a_published_hash_in_off_mode(backend: Backend) {
    direct_uploads_verify_the_bytes_of_a_published_hash(backend, InstantUploadMode::Off).await;
}

#[tokio::test]
async fn with_instant_upload_off_a_published_file_is_uploaded_again() {
    let app = server(Backend::Sqlite, Some(InstantUploadMode::Off)).await;
    let data = test_bytes(3000, 65);
    let sha = sha256_hex(&data);
    app.as_owner("alice").upload(&data, 1024).await;
    let mallory = app.as_owner("mallory");
    let created = mallory.create(json!({"sha256": sha, "size": 3000})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["status"], "uploading");
    assert_eq!(created["proof_challenge"], Value::Null);
    let other_size = app
        .as_owner("bob")
        .create(json!({"sha256": sha, "size": 3001}))
        .await;
    assert_eq!(other_size.status(), StatusCode::CREATED, "no size-mismatch");
}

on_both_backends!(
    the_right_proof_publishes_at_once,
    a_wrong_or_absent_proof_uploads_normally,
    answers_for_an_existing_and_a_missing_file_are_the_same_without_the_bytes,
    direct_uploads_verify_the_bytes_of_a_published_hash_in_proof_mode,
    direct_uploads_verify_the_bytes_of_a_published_hash_in_off_mode,
);
