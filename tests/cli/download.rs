//! `ferry download`: resuming a `.part`, verifying, refusing bad bytes.

use std::process::Stdio;

use crate::helpers::{Server, ferry, kill, number, random_file, run, run_json, upload, wait_for};
use crate::proxy::{Direction, Faults, Proxy};

#[test]
fn a_download_resumes_from_a_partial_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "part.bin", 2 << 20, 20);
    upload(&server.url, &path);
    let saved = folder.path().join("part.out");
    let kept = 777_777;
    std::fs::write(folder.path().join("part.out.part"), &bytes[..kept]).expect("write the part");

    let reports = run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert_eq!(number(&reports[0], "resumed_bytes"), kept as u64);
    assert_eq!(
        number(&reports[0], "downloaded_bytes"),
        (bytes.len() - kept) as u64
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
    assert!(!folder.path().join("part.out.part").exists());
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
    let part = folder.path().join("killed.out.part");

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

    let reports = run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert_eq!(number(&reports[0], "resumed_bytes"), kept);
    assert_eq!(
        number(&reports[0], "downloaded_bytes"),
        bytes.len() as u64 - kept
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}

#[test]
fn a_corrupted_part_is_detected_and_not_renamed_into_place() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let (path, bytes, sha256) = random_file(folder.path(), "bad.bin", 1 << 20, 22);
    upload(&server.url, &path);
    let saved = folder.path().join("bad.out");
    let part = folder.path().join("bad.out.part");
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
