//! An upload with the CLI reaches the app: one `upload.completed` arrives at
//! a real receiver, signed as the Standard Webhooks specification says.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{Server, random_file, upload, wait_for};

/// The secret ferryd signs with here.
const SECRET: &str = "whsec_dGhlIHRlc3Qgd2ViaG9vayBzZWNyZXQh";

/// One webhook request: its headers (lower-case names) and body.
type Received = (HashMap<String, String>, Vec<u8>);

/// A receiver on loopback answering 204 to every request; answers its URL
/// and what it received.
fn start_receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a receiver port");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("a stream"));
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).ok();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                }
            }
            let length: usize = headers
                .get("content-length")
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok();
            kept.lock().unwrap().push((headers, body));
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, received)
}

/// HMAC-SHA256 as RFC 2104 defines it.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The event in `request` once its signature checks out.
fn verified((headers, body): &Received) -> Value {
    let key = STANDARD.decode(&SECRET["whsec_".len()..]).expect("base64");
    let mut signed = format!(
        "{}.{}.",
        headers["webhook-id"], headers["webhook-timestamp"]
    )
    .into_bytes();
    signed.extend_from_slice(body);
    let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed)));
    assert!(
        headers["webhook-signature"]
            .split(' ')
            .any(|s| s == expected),
        "the signature does not verify: {headers:?}"
    );
    serde_json::from_slice(body).expect("a JSON event")
}

#[test]
fn an_upload_with_the_cli_reaches_the_app_once_signed() {
    let (url, received) = start_receiver();
    let folder = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        folder.path(),
        &[
            ("FERRY_WEBHOOK_URL", &url),
            ("FERRY_WEBHOOK_SECRET", SECRET),
        ],
    );
    let (path, bytes, sha256) = random_file(folder.path(), "talk.mp4", 300_000, 11);
    upload(&server.url, &path);

    let completed = |all: &[Received]| {
        all.iter()
            .filter(|request| {
                serde_json::from_slice::<Value>(&request.1)
                    .is_ok_and(|event| event["type"] == "upload.completed")
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let events = wait_for("upload.completed at the receiver", || {
        let found = completed(&received.lock().unwrap());
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(events.len(), 1);
    let event = verified(&events[0]);
    assert_eq!(event["data"]["sha256"], sha256.as_str());
    assert_eq!(event["data"]["size"], bytes.len());
    assert_eq!(event["data"]["filename"], "talk.mp4");
    assert_eq!(event["data"]["url"], format!("/v1/files/{sha256}/talk.mp4"));
}
