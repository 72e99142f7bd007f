//! `ferry download`: resuming the `.part` of the same content, verifying,
//! refusing bad bytes and answers that break the range contract.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::helpers::{
    Server, ferry, kill, number, part_path, random_file, run, run_json, upload, wait_for,
};
use crate::proxy::{Direction, Faults, Proxy};
use crate::stub::{Answers, Stub, answer};

/// More than the heads of the answers of one download can add up to.
const HEADS: u64 = 32 << 10;

/// The first and last byte a `Range: bytes=a-b` asks for.
fn asked_span(range: &str) -> (u64, u64) {
    let (first, last) = range
        .strip_prefix("bytes=")
        .and_then(|span| span.split_once('-'))
        .unwrap_or_else(|| panic!("a single range: {range}"));
    (
        first.parse().expect("first byte"),
        last.parse().expect("last byte"),
    )
}

#[test]
fn a_download_resumes_from_a_partial_file_with_range_and_if_range() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "part.bin", 2 << 20, 20);
    upload(&server.url, &path);
    let saved = folder.path().join("part.out");
    let part = part_path(&saved, &sha256);
    let kept = 777_777;
    std::fs::write(&part, &bytes[..kept]).expect("write the part");
    let witness = Proxy::start(&server.url, Faults::default());

    let reports = run_json(
        ferry(&witness.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert_eq!(number(&reports[0], "resumed_bytes"), kept as u64);
    assert!(std::fs::read(&saved).expect("read") == bytes);
    assert!(!part.exists());

    let missing = (bytes.len() - kept) as u64;
    let down = witness.forwarded(Direction::Down);
    assert!(
        down >= missing && down < missing + HEADS,
        "{down} bytes came down for the {missing} missing"
    );
    let gets: Vec<_> = witness
        .requests()
        .into_iter()
        .filter(|request| request.method == "GET")
        .collect();
    let quoted = format!("\"{sha256}\"");
    for get in &gets {
        assert_eq!(get.header("if-range"), Some(quoted.as_str()), "{get:?}");
    }
    let mut spans: Vec<(u64, u64)> = gets
        .iter()
        .map(|get| asked_span(get.header("range").expect("a Range header")))
        .collect();
    spans.sort_unstable();
    let resume = format!("bytes={kept}-");
    assert!(
        gets.iter().any(|get| get
            .header("range")
            .is_some_and(|range| range.starts_with(&resume))),
        "one range starts where the part ends: {gets:?}"
    );
    assert_eq!(
        spans[0].0, kept as u64,
        "nothing before the part is asked for"
    );
    let asked: u64 = spans.iter().map(|(first, last)| last - first + 1).sum();
    assert_eq!(asked, missing);
}

#[test]
fn a_download_killed_midway_resumes_where_it_stopped() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "killed.bin", 4 << 20, 21);
    upload(&server.url, &path);
    // Four ranges of 256 KiB are in flight; the budget lets them all finish,
    // so that a prefix reaches the disk, and then holds the rest of the file.
    let gate = Faults {
        gate: Some((Direction::Down, 2 << 20)),
        ..Faults::default()
    };
    let proxy = Proxy::start(&server.url, gate);
    let saved = folder.path().join("killed.out");
    let part = part_path(&saved, &sha256);

    let first = ferry(&proxy.url)
        .args(["download", "--json", "--parallel", "4", &sha256, "-o"])
        .arg(&saved)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the download");
    wait_for("part of the file on disk", || {
        std::fs::metadata(&part).ok().filter(|meta| meta.len() > 0)
    });
    kill(first);
    let kept = std::fs::metadata(&part).expect("the part stays").len();
    assert!(!saved.exists());

    let witness = Proxy::start(&server.url, Faults::default());
    let reports = run_json(
        ferry(&witness.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert_eq!(number(&reports[0], "resumed_bytes"), kept);
    let missing = bytes.len() as u64 - kept;
    let down = witness.forwarded(Direction::Down);
    assert!(
        down >= missing && down < missing + HEADS,
        "{down} bytes came down for the {missing} missing"
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}

#[test]
fn a_part_left_by_other_content_under_the_same_name_is_left_alone() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "report.pdf", 300_000, 24);
    upload(&server.url, &path);
    let saved = folder.path().join("report.out");
    let (_, older, older_sha) = random_file(folder.path(), "older.pdf", 100_000, 25);
    let legacy = folder.path().join("report.out.part");
    let other = part_path(&saved, &older_sha);
    std::fs::write(&legacy, &older).expect("write a stray part");
    std::fs::write(&other, &older).expect("write the part of the older file");

    let reports = run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert_eq!(number(&reports[0], "resumed_bytes"), 0);
    assert!(std::fs::read(&saved).expect("read") == bytes);
    assert!(std::fs::read(&legacy).expect("the stray part stays") == older);
    assert!(std::fs::read(&other).expect("the other part stays") == older);
}

#[test]
fn a_corrupted_part_is_detected_and_not_renamed_into_place() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "bad.bin", 1 << 20, 22);
    upload(&server.url, &path);
    let saved = folder.path().join("bad.out");
    let part = part_path(&saved, &sha256);
    let mut damaged = bytes[..300_000].to_vec();
    damaged[1234] ^= 0xff;
    std::fs::write(&part, &damaged).expect("write the part");

    let output = run(ferry(&server.url)
        .args(["download", &sha256, "-o"])
        .arg(&saved));
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hash to") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(
        !saved.exists(),
        "a file that does not verify is not put in place"
    );
    assert!(
        !part.exists(),
        "the bad part is removed so that a new run starts afresh"
    );

    run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}

#[test]
fn a_range_cut_short_on_every_attempt_is_given_up_after_the_retries() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, _, sha256) = random_file(folder.path(), "cut.bin", 256 << 10, 26);
    upload(&server.url, &path);
    // Every connection is cut after 2,000 bytes both ways: each attempt
    // brings some bytes of the range, and none brings all of it.
    let cutting = Faults {
        cut_every: Some((1, 2_000)),
        ..Faults::default()
    };
    let proxy = Proxy::start(&server.url, cutting);
    let saved = folder.path().join("cut.out");

    let output = run(ferry(&proxy.url)
        .env("FERRY_RETRIES", "3")
        .args(["download", "--parallel", "1", &sha256, "-o"])
        .arg(&saved));
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!saved.exists());
    assert!(
        proxy.connections() <= 1 + 3,
        "one HEAD and three attempts, not {} connections",
        proxy.connections()
    );
}

/// Downloads from a stub whose `HEAD` describes `body` under its sha256 and
/// whose `GET` answers `get`, into `folder/out`.
fn download_from_stub(folder: &Path, body: &[u8], sha256: &str, get: Vec<u8>) -> Output {
    let etag = format!("\"{sha256}\"");
    let head = answer("200 OK", &[("etag", &etag)], body.len(), b"");
    let stub = Stub::start(Answers { head, get });
    run(ferry(&stub.url)
        .args([
            "download",
            &format!("{}/v1/files/{sha256}/x", stub.url),
            "-o",
        ])
        .arg(folder.join("out")))
}

#[test]
fn a_range_answered_with_the_whole_file_is_not_put_in_place() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (_, bytes, sha256) = random_file(folder.path(), "whole.bin", 1_000, 27);
    let part = part_path(&folder.path().join("out"), &sha256);
    std::fs::write(&part, &bytes[..100]).expect("write the part");
    let etag = format!("\"{sha256}\"");
    let whole = answer("200 OK", &[("etag", &etag)], bytes.len(), &bytes);

    let output = download_from_stub(folder.path(), &bytes, &sha256, whole);
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("whole file"));
    assert!(!folder.path().join("out").exists());
    assert!(std::fs::read(&part).expect("the part stays") == bytes[..100]);
}

#[test]
fn a_range_answered_with_another_span_or_size_is_not_put_in_place() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (_, bytes, sha256) = random_file(folder.path(), "span.bin", 1_000, 28);
    let partial = |content_range: &str, body: &[u8]| {
        answer(
            "206 Partial Content",
            &[("content-range", content_range)],
            body.len(),
            body,
        )
    };
    let answers = [
        partial("bytes 0-9/1000", &bytes[..10]),
        partial("bytes 0-999/5000", &bytes),
        partial("octets 0-999/1000", &bytes),
    ];
    for get in answers {
        let label = String::from_utf8_lossy(&get[..60]).into_owned();
        let output = download_from_stub(folder.path(), &bytes, &sha256, get);
        assert_eq!(output.status.code(), Some(4), "{label}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("Content-Range"), "{label}: {stderr}");
        assert!(!folder.path().join("out").exists(), "{label}");
    }
}

#[test]
fn the_file_name_comes_from_the_url() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, _) = random_file(folder.path(), "课程 第1讲.bin", 70_000, 23);
    let report = upload(&server.url, &path);
    let into = folder.path().join("into");
    std::fs::create_dir(&into).expect("mkdir");

    let url = report["url"].as_str().expect("url");
    run_json(
        ferry(&server.url)
            .current_dir(&into)
            .args(["download", "--json", url]),
    );
    assert!(std::fs::read(into.join("课程 第1讲.bin")).expect("read") == bytes);
}

#[test]
fn an_unknown_file_is_a_server_refusal() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let output = run(ferry(&server.url)
        .current_dir(folder.path())
        .args(["download", &"ab".repeat(32)]));
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("file-not-found"));
}
