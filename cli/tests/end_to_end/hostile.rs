//! Against a stub playing a hostile or broken server: redirects, endless
//! bodies, absurd chunk layouts and file names meant to escape or deceive.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::helpers::{ferry, random_file, run};
use crate::stub::{Reply, Stub, answer, json};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The upload resource of a fresh session of a `size`-byte file.
fn session(sha256: &str, size: u64, chunk_size: u64, chunk_count: u64) -> String {
    serde_json::json!({
        "sha256": sha256, "size": size, "chunk_size": chunk_size,
        "chunk_count": chunk_count, "status": "uploading",
        "received_chunks": [], "received_bytes": 0,
        "filename": null, "content_type": null,
        "expires_at": "2026-11-22T22:00:00Z", "file": null
    })
    .to_string()
}

#[test]
fn a_redirect_is_not_followed_and_the_token_stays_home() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, _, _) = random_file(folder.path(), "a.bin", 1000, 50);
    let elsewhere = Stub::serving(|_| json("200 OK", "{}"));
    let location = format!("{}/v1/uploads", elsewhere.url);
    let redirecting = Stub::serving(move |_| {
        Reply::Bytes(answer("302 Found", &[("location", &location)], 0, b""))
    });

    let output = run(ferry(&redirecting.url)
        .env("FERRY_TOKEN", "s3cret")
        .env("FERRY_RETRIES", "2")
        .arg("upload")
        .arg(&path));

    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("302 Found") && message.contains("follows no redirects"),
        "{message}"
    );
    assert_eq!(redirecting.requests(), 1, "a redirect is not tried again");
    assert_eq!(elsewhere.requests(), 0, "nothing went where it pointed");
}

#[test]
fn an_endless_answer_is_cut_off_at_one_mebibyte() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, _, _) = random_file(folder.path(), "a.bin", 1000, 51);
    let endless = Stub::serving(|_| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
            .to_vec(),
        piece: b"{\"sha256\":\"".repeat(1000),
    });
    let declared = Stub::serving(|_| {
        Reply::Bytes(answer(
            "200 OK",
            &[("content-type", "application/json")],
            1 << 40,
            b"{",
        ))
    });

    for stub in [&endless, &declared] {
        let started = Instant::now();
        let output = run(ferry(&stub.url).arg("upload").arg(&path));
        assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("over 1024 KiB"), "{message}");
        assert_eq!(stub.requests(), 1, "an oversized answer is not tried again");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

#[test]
fn an_absurd_chunk_layout_is_refused_before_any_chunk_is_sent() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (path, bytes, sha256) = random_file(folder.path(), "a.bin", 200_000, 52);
    let size = bytes.len() as u64;
    let layouts = [
        (1, size, "outside the 64 KiB to 256 MiB"),
        (1 << 40, 1, "outside the 64 KiB to 256 MiB"),
        (64 << 10, 1 << 40, "counts 1099511627776 chunks"),
    ];
    for (chunk_size, chunk_count, complaint) in layouts {
        let body = session(&sha256, size, chunk_size, chunk_count);
        let stub = Stub::serving(move |_| json("201 Created", &body));
        let output = run(ferry(&stub.url).arg("upload").arg(&path));
        assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
        assert!(stderr(&output).contains(complaint), "{}", stderr(&output));
        assert_eq!(stub.requests(), 1, "no chunk follows the create");
    }
}

#[test]
fn a_name_offered_by_the_server_is_cleaned_before_it_names_a_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (_, bytes, sha256) = random_file(folder.path(), "source.bin", 1000, 53);
    let into = folder.path().join("a").join("b");
    std::fs::create_dir_all(&into).expect("mkdir");
    let etag = format!("\"{sha256}\"");
    let disposition = "attachment; filename*=UTF-8''..%2F..%2F.%E2%80%AEhs.%0Aevil.txt";
    let head = answer(
        "200 OK",
        &[("etag", &etag), ("content-disposition", disposition)],
        bytes.len(),
        b"",
    );
    let range = format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len());
    let get = answer(
        "206 Partial Content",
        &[("content-range", &range)],
        bytes.len(),
        &bytes,
    );
    let stub = Stub::serving(move |request| {
        Reply::Bytes(if request.starts_with("HEAD ") {
            head.clone()
        } else {
            get.clone()
        })
    });

    let output = run(ferry(&stub.url)
        .current_dir(&into)
        .args(["download", &sha256]));

    assert!(output.status.success(), "{}", stderr(&output));
    let names: Vec<String> = std::fs::read_dir(&into)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["hs.evil.txt"]);
    assert!(std::fs::read(into.join("hs.evil.txt")).expect("read") == bytes);
    let above: Vec<_> = std::fs::read_dir(folder.path().join("a"))
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(above, ["b"], "nothing landed outside the folder");
}
