//! The command line itself: help, usage errors, exit statuses, status, token.

use std::process::Stdio;

use crate::helpers::{
    Server, ferry, kill, number, random_file, run, upload, wait_for_received_bytes,
};
use crate::proxy::{Direction, Faults, Proxy};

#[test]
fn help_documents_the_exit_statuses() {
    let output = run(ferry("http://127.0.0.1:9").arg("--help"));
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0  every file",
        "2  usage",
        "3  the server refused",
        "4  network",
        "5  verification",
    ] {
        assert!(help.contains(line), "{line:?} in {help}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let server = "http://127.0.0.1:9";
    let no_files = run(ferry(server).arg("upload"));
    let name_for_two = run(ferry(server).args(["upload", "--name", "x", "a", "b"]));
    let not_a_hash = run(ferry(server).args(["download", "not-a-hash"]));
    let bad_size = run(ferry(server).args(["upload", "--chunk-size", "8 parsecs", "a"]));
    for output in [no_files, name_for_two, not_a_hash, bad_size] {
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn an_unreachable_server_is_a_network_failure() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, _, _) = random_file(folder.path(), "a.bin", 10, 30);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);

    let output = run(ferry(&url)
        .env("FERRY_RETRIES", "2")
        .arg("upload")
        .arg(&path));
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("ferry: ") && stderr.contains("network error"),
        "{stderr}"
    );
}

#[test]
fn a_file_over_the_limit_is_a_server_refusal() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(folder.path(), &[("FERRY_MAX_FILE_SIZE", "1KiB")]);
    let (path, _, _) = random_file(folder.path(), "big.bin", 2048, 31);

    let output = run(ferry(&server.url).arg("upload").arg(&path));
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("file-too-large"));
}

#[test]
fn status_tells_an_unfinished_upload_in_words_and_json() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "half.bin", 2 << 20, 32);
    let gate = Faults {
        gate: Some((Direction::Up, 700_000)),
        ..Faults::default()
    };
    let proxy = Proxy::start(&server.url, gate);
    let cli = ferry(&proxy.url)
        .args(["upload", "--chunk-size", "64KiB"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the upload");
    wait_for_received_bytes(&server.url, &sha256);
    kill(cli);

    let by_file = run(ferry(&server.url).args(["status", "--json"]).arg(&path));
    let report: serde_json::Value = serde_json::from_slice(&by_file.stdout).expect("json");
    assert_eq!(report["status"], "uploading");
    assert_eq!(number(&report, "size"), bytes.len() as u64);
    assert_eq!(number(&report, "chunk_count"), 32);
    assert!(
        !report["missing_chunks"]
            .as_array()
            .expect("ranges")
            .is_empty()
    );

    let words = run(ferry(&server.url).args(["status", &sha256]));
    let words = String::from_utf8_lossy(&words.stdout);
    assert!(
        words.contains("uploading") && words.contains("missing chunks"),
        "{words}"
    );

    upload(&server.url, &path);
    let done = run(ferry(&server.url).args(["status", &sha256]));
    assert!(String::from_utf8_lossy(&done.stdout).contains("complete"));
}

#[test]
fn status_of_an_unknown_hash_is_a_refusal() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let output = run(ferry(&server.url).args(["status", &"cd".repeat(32)]));
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("upload-not-found"));
}

#[test]
fn the_token_is_sent_as_a_bearer_token() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let proxy = Proxy::start(&server.url, Faults::default());
    let (path, _, _) = random_file(folder.path(), "t.bin", 1000, 33);

    let output = run(ferry(&proxy.url)
        .env("FERRY_TOKEN", "s3cret")
        .arg("upload")
        .arg(&path));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests = proxy.requests();
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer s3cret"),
            "{request:?}"
        );
    }
}

#[test]
fn the_token_is_not_sent_to_a_download_url_on_another_origin() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "t.bin", 100_000, 34);
    upload(&server.url, &path);
    let elsewhere = Proxy::start(&server.url, Faults::default());
    let url = format!("{}/v1/files/{sha256}/x", elsewhere.url);
    let saved = folder.path().join("x.out");

    let output = run(ferry(&server.url)
        .env("FERRY_TOKEN", "s3cret")
        .args(["download", &url, "-o"])
        .arg(&saved));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
    let requests = elsewhere.requests();
    assert!(requests.len() >= 2, "a HEAD and a GET: {requests:?}");
    for request in requests {
        assert_eq!(request.header("authorization"), None, "{request:?}");
    }

    let own = run(ferry(&elsewhere.url)
        .env("FERRY_TOKEN", "s3cret")
        .args(["download", &url, "-o"])
        .arg(folder.path().join("y.out")));
    assert!(own.status.success());
    let last = elsewhere.requests().pop().expect("requests");
    assert_eq!(
        last.header("authorization"),
        Some("Bearer s3cret"),
        "the server named by --server is sent the token: {last:?}"
    );
}
