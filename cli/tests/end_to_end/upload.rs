//! `ferry upload`: publishing, resuming after interruptions, instant upload.

use std::process::Stdio;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::helpers::{
    CHUNK, Server, ferry, kill, number, random_file, run, run_json, status, upload,
    wait_for_received_bytes,
};
use crate::proxy::{Direction, Faults, Proxy, Request};
use crate::stub::{Stub, json};

#[test]
fn an_uploaded_file_downloads_byte_identical() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "lecture.bin", 3 << 20 | 12_345, 1);

    let report = upload(&server.url, &path);
    assert_eq!(report["sha256"], sha256.as_str());
    assert_eq!(number(&report, "size"), bytes.len() as u64);
    assert_eq!(number(&report, "uploaded_bytes"), bytes.len() as u64);
    assert_eq!(number(&report, "reused_bytes"), 0);
    let url = report["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/v1/files/{sha256}/lecture.bin", server.url));

    let saved = folder.path().join("saved");
    std::fs::create_dir(&saved).expect("mkdir");
    run_json(
        ferry(&server.url)
            .args(["download", "--json", url, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(saved.join("lecture.bin")).expect("read") == bytes);
}

#[test]
fn a_file_the_server_already_has_is_uploaded_instantly() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, _) = random_file(folder.path(), "twice.bin", 1 << 20, 2);
    upload(&server.url, &path);

    let again = upload(&server.url, &path);
    assert_eq!(number(&again, "uploaded_bytes"), 0);
    assert_eq!(number(&again, "reused_bytes"), bytes.len() as u64);
}

#[test]
fn an_upload_killed_midway_sends_only_the_missing_chunks_when_run_again() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let size = 4 << 20;
    let (path, bytes, sha256) = random_file(folder.path(), "big.bin", size, 3);
    let gate = Faults {
        gate: Some((Direction::Up, 1 << 20)),
        ..Faults::default()
    };
    let proxy = Proxy::start(&server.url, gate);

    let first = ferry(&proxy.url)
        .args([
            "upload",
            "--json",
            "--chunk-size",
            "64KiB",
            "--parallel",
            "4",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the upload");
    wait_for_received_bytes(&server.url, &sha256);
    kill(first);
    let held = number(
        &status(&server.url, &sha256).expect("a session"),
        "received_bytes",
    );
    assert!(
        held > 0 && held < size as u64,
        "the server holds part: {held}"
    );

    let witness = Proxy::start(&server.url, Faults::default());
    let second = upload(&witness.url, &path);
    let puts: Vec<Request> = witness
        .requests()
        .into_iter()
        .filter(|request| request.method == "PUT")
        .collect();
    let put_bytes: u64 = puts.iter().map(|put| put.body_bytes).sum();
    // Chunks still being stored when the first run was killed may have
    // landed after `held` was read: at most one per parallel slot.
    let missing = size as u64 - held;
    assert!(
        put_bytes > 0 && put_bytes <= missing + 4 * CHUNK,
        "{put_bytes} bytes of chunks went up, but only {missing} were missing"
    );
    assert_eq!(number(&second, "uploaded_bytes"), put_bytes);
    let mut targets: Vec<&str> = puts.iter().map(|put| put.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    assert_eq!(targets.len(), puts.len(), "no chunk was sent twice");

    let published = status(&server.url, &sha256).expect("a session");
    assert_eq!(published["status"], "complete");
    let saved = folder.path().join("big.out");
    run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}

#[test]
fn every_chunk_is_sent_with_the_content_digest_of_its_bytes() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "digest.bin", 5 << 16 | 1_234, 11);
    let witness = Proxy::start(&server.url, Faults::default());

    upload(&witness.url, &path);
    let puts: Vec<Request> = witness
        .requests()
        .into_iter()
        .filter(|request| request.method == "PUT")
        .collect();
    let mut indices: Vec<usize> = puts
        .iter()
        .map(|put| {
            let prefix = format!("/v1/uploads/{sha256}/chunks/");
            let index = put.target.strip_prefix(&prefix).expect("a chunk PUT");
            let index: usize = index.parse().expect("a chunk index");
            let chunk = CHUNK as usize;
            let span = &bytes[index * chunk..bytes.len().min((index + 1) * chunk)];
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(span));
            assert_eq!(
                put.header("content-digest"),
                Some(format!("sha-256=:{digest}:").as_str()),
                "chunk {index}"
            );
            assert_eq!(put.body_bytes, span.len() as u64, "chunk {index}");
            index
        })
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..6).collect::<Vec<_>>());
}

#[test]
fn a_file_rewritten_after_it_was_hashed_is_refused_as_changed() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, _, sha256) = random_file(folder.path(), "rewritten.bin", 1 << 16, 12);
    let rewritten = path.clone();
    let session = serde_json::json!({
        "sha256": sha256, "size": 1 << 16, "chunk_size": 1 << 16, "chunk_count": 1,
        "status": "uploading", "received_chunks": [], "received_bytes": 0,
        "filename": null, "content_type": null,
        "expires_at": "2026-11-22T22:00:00Z", "file": null
    })
    .to_string();
    let puts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = puts.clone();
    let server = Stub::serving(move |head| {
        if head.starts_with("POST /v1/uploads ") {
            std::fs::write(&rewritten, [7u8; 1 << 16]).expect("rewrite the file");
            json("201 Created", &session)
        } else if head.starts_with("PUT ") {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            json(
                "400 Bad Request",
                r#"{"code": "digest-mismatch", "message": "the chunk does not match its digest"}"#,
            )
        } else {
            json("404 Not Found", r#"{"code": "not-found", "message": "no"}"#)
        }
    });

    let output = run(ferry(&server.url)
        .env("FERRY_RETRIES", "3")
        .args(["upload", "--chunk-size", "64KiB"])
        .arg(&path));

    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{message}");
    assert!(
        message.contains("changed while it was being uploaded"),
        "{message}"
    );
    assert_eq!(
        puts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a digest computed before the file changed is not sent again"
    );
}

#[test]
fn an_upload_rides_out_a_server_restart() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "restart.bin", 3 << 20, 4);
    let gate = Faults {
        gate: Some((Direction::Up, 1 << 20)),
        ..Faults::default()
    };
    let proxy = Proxy::start(&server.url, gate);
    let cli = ferry(&proxy.url)
        .args(["upload", "--json", "--chunk-size", "64KiB"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the upload");
    let held = wait_for_received_bytes(&server.url, &sha256);

    server.kill();
    let restarted = Server::start(folder.path());
    let kept = number(
        &status(&restarted.url, &sha256).expect("the session"),
        "received_bytes",
    );
    assert!(
        kept >= held,
        "accepted chunks survive the restart: {kept} < {held}"
    );
    proxy.set_upstream(&restarted.url);
    proxy.open_gate();

    let output = cli.wait_with_output().expect("the upload ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = crate::helpers::json_lines(&output).remove(0);
    assert_eq!(number(&report, "size"), bytes.len() as u64);
    let saved = folder.path().join("restart.out");
    run_json(
        ferry(&restarted.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}

#[test]
fn a_flaky_network_still_ends_with_a_verified_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "flaky.bin", 2 << 20, 5);
    let flaky = Faults {
        drop_every: Some(5),
        cut_every: Some((3, 150_000)),
        gate: None,
    };
    let proxy = Proxy::start(&server.url, flaky);

    let report = upload(&proxy.url, &path);
    assert_eq!(report["sha256"], sha256.as_str());
    let saved = folder.path().join("flaky.out");
    run_json(
        ferry(&proxy.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
    assert!(
        proxy.faults_met() >= 3,
        "faults met: {}",
        proxy.faults_met()
    );
}

#[test]
fn a_merge_that_outlasts_complete_is_waited_for() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(folder.path(), &[("FERRY_MERGE_WAIT", "0ms")]);
    let (path, _, sha256) = random_file(folder.path(), "slow.bin", 1 << 20, 6);

    let report = upload(&server.url, &path);
    assert_eq!(report["sha256"], sha256.as_str());
    assert_eq!(
        status(&server.url, &sha256).expect("a session")["status"],
        "complete"
    );
    assert!(
        server
            .log()
            .iter()
            .any(|line| line.contains("answering 202")),
        "complete answered 202 at least once"
    );
}

#[test]
fn an_empty_file_is_published() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, _, sha256) = random_file(folder.path(), "empty", 0, 7);

    let report = upload(&server.url, &path);
    assert_eq!(
        (number(&report, "size"), report["sha256"].as_str()),
        (0, Some(sha256.as_str()))
    );
    let saved = folder.path().join("empty.out");
    run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read").is_empty());
}

#[test]
fn several_files_give_one_json_object_each() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (a, _, sha_a) = random_file(folder.path(), "a.bin", 100_000, 8);
    let (b, _, sha_b) = random_file(folder.path(), "b.bin", 200_000, 9);

    let reports = run_json(
        ferry(&server.url)
            .args(["upload", "--json"])
            .arg(&a)
            .arg(&b),
    );
    let hashes: Vec<&str> = reports
        .iter()
        .filter_map(|r| r["sha256"].as_str())
        .collect();
    assert_eq!(hashes, [sha_a.as_str(), sha_b.as_str()]);
    for report in &reports {
        for field in [
            "sha256",
            "size",
            "url",
            "uploaded_bytes",
            "reused_bytes",
            "seconds",
        ] {
            assert!(!report[field].is_null(), "{field} in {report}");
        }
    }
}

#[test]
fn one_missing_file_fails_the_command_but_not_the_others() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (a, _, sha_a) = random_file(folder.path(), "a.bin", 10_000, 10);

    let output = run(ferry(&server.url)
        .args(["upload", "--json"])
        .arg(&a)
        .arg(folder.path().join("nope")));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        crate::helpers::json_lines(&output)[0]["sha256"],
        sha_a.as_str()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("1 of 2 files failed"),
        "{stderr}"
    );
}
