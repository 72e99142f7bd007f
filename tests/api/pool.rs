//! Database connections are held for statements only: chunk bodies that
//! trickle in hold none, so that other requests are answered meanwhile.

use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use reqwest::StatusCode;

use crate::helpers::{Backend, scrape, sha256_hex, spawn_app_with, test_bytes};

const CHUNK: usize = 4096;
const UPLOADS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_chunk_bodies_hold_no_database_connection() {
    let app = spawn_app_with(Backend::Postgres, |settings| {
        settings.db_max_connections = 1;
    })
    .await;
    let files: Vec<Vec<u8>> = (0..UPLOADS)
        .map(|seed| test_bytes(CHUNK, seed as u8))
        .collect();
    let mut bodies = Vec::new();
    let mut running = Vec::new();
    for data in &files {
        let sha = sha256_hex(data);
        app.create_for(data, CHUNK as u64).await;
        let (mut sender, body) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
        sender
            .send(Ok(Bytes::copy_from_slice(&data[..CHUNK / 2])))
            .await
            .unwrap();
        let request = app
            .client
            .put(app.url(&format!("/v1/uploads/{sha}/chunks/0")))
            .header("content-length", CHUNK)
            .body(reqwest::Body::wrap_stream(body))
            .send();
        running.push(tokio::spawn(request));
        bodies.push(sender);
    }
    let all_reading = async {
        while scrape(&app).await.value("ferry_body_buffers_bytes") < (UPLOADS * CHUNK) as f64 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), all_reading)
        .await
        .expect("every chunk PUT is reading its body");

    let status = app.progress(&sha256_hex(&files[0])).await;
    assert_eq!(
        status.status(),
        StatusCode::OK,
        "a status request is answered while 20 bodies trickle in over a pool of one connection"
    );

    for (mut sender, data) in bodies.into_iter().zip(&files) {
        sender
            .send(Ok(Bytes::copy_from_slice(&data[CHUNK / 2..])))
            .await
            .unwrap();
    }
    for request in running {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    for data in &files {
        assert_eq!(
            app.complete(&sha256_hex(data)).await.status(),
            StatusCode::OK
        );
    }
}
