//! Against the real `ferryd` with its security settings on: tokens, proof
//! of possession, and files a download must not replace.

use std::time::{Duration, Instant};

use crate::helpers::{Server, ferry, number, random_file, run, run_json, token, upload};
use crate::proxy::{Faults, Proxy};

/// An HS256 secret of the length ferryd asks for.
const JWT_SECRET: &str = "an hs256 secret of at least thirty-two bytes";

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_file_another_owner_published_is_uploaded_instantly_by_proof_of_possession() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        folder.path(),
        &[
            ("FERRY_JWT_SECRET", JWT_SECRET),
            ("FERRY_DOWNLOADS", "signed"),
            ("FERRY_DOWNLOAD_KEY", "a download key of some length"),
            ("FERRY_INSTANT_UPLOAD", "proof"),
            ("FERRY_PROOF_KEY", "a proof key of some length"),
        ],
    );
    let (path, bytes, sha256) = random_file(folder.path(), "shared.bin", 300_000, 40);
    let alice = run_json(
        ferry(&server.url)
            .env("FERRY_TOKEN", token(JWT_SECRET, "alice"))
            .args(["upload", "--json", "--chunk-size", "64KiB"])
            .arg(&path),
    );
    assert_eq!(number(&alice[0], "uploaded_bytes"), bytes.len() as u64);
    let witness = Proxy::start(&server.url, Faults::default());

    let bob = run_json(
        ferry(&witness.url)
            .env("FERRY_TOKEN", token(JWT_SECRET, "bob"))
            .args(["upload", "--json", "--chunk-size", "64KiB"])
            .arg(&path),
    );

    assert_eq!(bob[0]["sha256"], sha256.as_str());
    assert_eq!(number(&bob[0], "uploaded_bytes"), 0);
    assert_eq!(number(&bob[0], "reused_bytes"), bytes.len() as u64);
    let requests = witness.requests();
    let creates = requests
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/v1/uploads")
        .count();
    assert_eq!(
        creates, 2,
        "one create for the challenge, one with the proof: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.method != "PUT"),
        "no chunk was sent: {requests:?}"
    );
}

#[test]
fn a_server_that_wants_a_token_gets_it_and_a_missing_one_is_not_retried() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(folder.path(), &[("FERRY_JWT_SECRET", JWT_SECRET)]);
    let witness = Proxy::start(&server.url, Faults::default());
    let (path, _, _) = random_file(folder.path(), "mine.bin", 100_000, 41);

    let without = run(ferry(&witness.url).arg("upload").arg(&path));
    assert_eq!(without.status.code(), Some(3), "{}", stderr(&without));
    let message = stderr(&without);
    assert!(
        message.contains("token is missing") && message.contains("--token"),
        "{message}"
    );
    assert!(message.contains("(unauthorized)"), "{message}");
    assert_eq!(witness.requests().len(), 1, "a 401 is not tried again");

    let forged = token("another secret of at least thirty-two bytes", "alice");
    let wrong = run(ferry(&server.url)
        .env("FERRY_TOKEN", forged)
        .arg("upload")
        .arg(&path));
    assert_eq!(wrong.status.code(), Some(3));
    assert!(
        stderr(&wrong).contains("not accepted"),
        "{}",
        stderr(&wrong)
    );

    let with = run(ferry(&server.url)
        .env("FERRY_TOKEN", token(JWT_SECRET, "alice"))
        .args(["upload", "--json"])
        .arg(&path));
    assert!(with.status.success(), "{}", stderr(&with));
}

#[test]
fn the_token_is_refused_over_plain_http_to_another_host_before_connecting() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, _, sha256) = random_file(folder.path(), "a.bin", 10, 42);
    let far = "http://10.255.255.1:1";
    let commands = [
        vec!["upload".to_owned(), path.display().to_string()],
        vec!["download".to_owned(), sha256.clone()],
        vec!["status".to_owned(), sha256],
    ];
    for arguments in commands {
        let started = Instant::now();
        let output = run(ferry(far)
            .env("FERRY_TOKEN", "s3cret-token")
            .current_dir(folder.path())
            .args(&arguments));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {message}");
        assert!(
            message.contains("refusing to send the token over plain http to 10.255.255.1")
                && message.contains("--allow-insecure-token"),
            "{message}"
        );
        assert!(!message.contains("s3cret-token"), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused before any connection, which would hang on {far}"
        );
    }
}

#[test]
fn a_download_never_replaces_an_existing_file_without_force() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "new.bin", 100_000, 43);
    upload(&server.url, &path);
    let saved = folder.path().join("mine.txt");
    std::fs::write(&saved, b"precious").expect("write");

    let refused = run(ferry(&server.url)
        .args(["download", &sha256, "-o"])
        .arg(&saved));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(&saved).expect("read"), b"precious");

    let into = folder.path().join("into");
    std::fs::create_dir(&into).expect("mkdir");
    std::fs::write(into.join("new.bin"), b"precious too").expect("write");
    let url = format!("{}/v1/files/{sha256}/new.bin", server.url);
    let named = run(ferry(&server.url).args(["download", &url, "-o"]).arg(&into));
    assert_eq!(named.status.code(), Some(1), "{}", stderr(&named));
    assert_eq!(
        std::fs::read(into.join("new.bin")).expect("read"),
        b"precious too"
    );

    let forced = run(ferry(&server.url)
        .args(["download", "--force", &sha256, "-o"])
        .arg(&saved));
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(std::fs::read(&saved).expect("read") == bytes);
}
