//! A CLI that sends its own bytes under the hash of a file another owner
//! published, as a modified client would: a proxy puts the published
//! file's SHA-256 in place of the CLI's own in every request it sends. The
//! server hashes the chunks it received and refuses to complete; the CLI
//! gets no URL of the file, and the file stays the owner's.

use std::process::Output;

use serde_json::Value;

use crate::helpers::{Server, ferry, json_lines, random_file, run, run_json, token};
use crate::proxy::{Faults, Proxy};

const JWT_SECRET: &str = "an hs256 secret of at least thirty-two bytes";
/// Five chunks of 64 KiB, the last one short.
const SIZE: usize = 300_000;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Alice publishes a file; mallory's CLI uploads a file of the same size
/// under its hash, on a server with tokens, signed downloads and the
/// instant upload of `env`; `challenged` says whether a proof is asked for.
fn a_lying_upload_is_refused(env: &[(&str, &str)], challenged: bool) {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut settings = vec![
        ("FERRY_JWT_SECRET", JWT_SECRET),
        ("FERRY_DOWNLOADS", "signed"),
        ("FERRY_DOWNLOAD_KEY", "a download key of some length"),
    ];
    settings.extend_from_slice(env);
    let server = Server::start_with(folder.path(), &settings);
    let (published, bytes, sha256) = random_file(folder.path(), "published.bin", SIZE, 60);
    let alice = run_json(
        ferry(&server.url)
            .env("FERRY_TOKEN", token(JWT_SECRET, "alice"))
            .args(["upload", "--json", "--chunk-size", "64KiB"])
            .arg(&published),
    );
    let alices_url = alice[0]["url"].as_str().expect("alice's url");
    let (own, _, own_sha256) = random_file(folder.path(), "other.bin", SIZE, 61);
    assert_ne!(own_sha256, sha256);
    let liar = Proxy::start(&server.url, Faults::default());
    liar.replace_in_requests(&own_sha256, &sha256);
    let mallory = token(JWT_SECRET, "mallory");

    let theft = run(ferry(&liar.url)
        .env("FERRY_TOKEN", &mallory)
        .args(["upload", "--json", "--chunk-size", "64KiB"])
        .arg(&own));

    let message = stderr(&theft);
    assert_eq!(theft.status.code(), Some(5), "{message}");
    assert!(
        message.contains(&format!("does not hash to {sha256}")),
        "{message}"
    );
    assert!(theft.stdout.is_empty(), "no report of a published file");
    assert!(!message.contains("/v1/files/"), "{message}");
    let requests = liar.requests();
    let creates = requests
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/v1/uploads")
        .count();
    assert_eq!(creates, if challenged { 2 } else { 1 }, "{requests:?}");
    let chunks = format!("/v1/uploads/{sha256}/chunks/");
    let puts = requests.iter().filter(|r| r.target.starts_with(&chunks));
    assert_eq!(puts.count(), 5, "every chunk was sent: {requests:?}");
    let complete = format!("/v1/uploads/{sha256}/complete");
    assert!(
        requests.iter().any(|r| r.target == complete),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| !r.target.contains(&own_sha256)),
        "{requests:?}"
    );

    let status = run(ferry(&server.url)
        .env("FERRY_TOKEN", &mallory)
        .args(["status", "--json", &sha256]));
    let session = json_lines(&status);
    assert_eq!(session[0]["status"], "failed", "{}", stderr(&status));
    assert_eq!(session[0]["url"], Value::Null);
    let fetched = folder.path().join("fetched.bin");
    run_json(
        ferry(&server.url)
            .args(["download", "--json", alices_url, "-o"])
            .arg(&fetched),
    );
    assert!(
        std::fs::read(&fetched).expect("read") == bytes,
        "the published file is still alice's bytes"
    );
}

#[test]
fn another_files_bytes_under_a_published_hash_fail_the_proof_and_then_the_hash() {
    a_lying_upload_is_refused(&[], true);
}

#[test]
fn another_files_bytes_under_a_published_hash_fail_the_hash_with_instant_upload_off() {
    a_lying_upload_is_refused(&[("FERRY_INSTANT_UPLOAD", "off")], false);
}
