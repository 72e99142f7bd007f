//! A chunk the server had accepted and then lost from its store: `ferry
//! upload` is told it is missing, sends it again and publishes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::helpers::{CHUNK, Server, ferry, number, random_file, run_json, upload};

/// One HTTP/1.1 request to `server` (`http://host:port`); answers the status.
fn request(server: &str, method: &str, path: &str, kind: &str, body: &[u8]) -> u16 {
    let address = server.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect to ferryd");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {kind}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    stream.write_all(body).expect("send the body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer[9..12].parse().expect("a status")
}

/// Deletes the staged copies of chunk `index` from the folder store `objects`.
fn lose_chunk(objects: &Path, index: u64) -> usize {
    let mut lost = 0;
    for session in std::fs::read_dir(objects.join("chunks")).expect("chunk folders") {
        for copy in std::fs::read_dir(session.expect("a folder").path()).expect("chunks") {
            let copy = copy.expect("a chunk").path();
            let name = copy
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            if name.starts_with(&format!("{index}.")) {
                std::fs::remove_file(&copy).expect("delete the chunk");
                lost += 1;
            }
        }
    }
    lost
}

#[test]
fn a_chunk_lost_by_the_store_is_sent_again_and_the_file_published() {
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start(folder.path());
    let size = 3 * CHUNK as usize - 100;
    let (path, bytes, sha256) = random_file(folder.path(), "lost.bin", size, 9);
    let create = format!(r#"{{"sha256":"{sha256}","size":{size},"chunk_size":{CHUNK}}}"#);
    let created = request(
        &server.url,
        "POST",
        "/v1/uploads",
        "application/json",
        create.as_bytes(),
    );
    assert_eq!(created, 201);
    for (index, chunk) in bytes.chunks(CHUNK as usize).enumerate() {
        let path = format!("/v1/uploads/{sha256}/chunks/{index}");
        let sent = request(&server.url, "PUT", &path, "application/octet-stream", chunk);
        assert_eq!(sent, 200, "chunk {index}");
    }
    assert_eq!(lose_chunk(&folder.path().join("objects"), 1), 1);

    let report = upload(&server.url, &path);

    assert_eq!(report["sha256"], sha256.as_str());
    assert_eq!(
        number(&report, "uploaded_bytes"),
        CHUNK,
        "only the lost chunk went up"
    );
    assert!(
        server
            .log()
            .iter()
            .any(|line| line.contains("gone from the store")),
        "{:?}",
        server.log()
    );
    let saved = folder.path().join("lost.out");
    run_json(
        ferry(&server.url)
            .args(["download", "--json", &sha256, "-o"])
            .arg(&saved),
    );
    assert!(std::fs::read(&saved).expect("read") == bytes);
}
