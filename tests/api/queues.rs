//! What waits before a request is served is measured: connections the
//! kernel's accept queue could not hold, and time spent waiting for a
//! connection of the database pool.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::net::TcpStream;

use crate::helpers::{
    Backend, Scrape, TestApp, scrape, sha256_hex, spawn_app, spawn_app_with, test_bytes,
};

on_both_backends!(every_wait_for_a_database_connection_is_measured);

async fn every_wait_for_a_database_connection_is_measured(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = scrape(&app)
        .await
        .value("ferry_db_acquire_duration_seconds_count");
    let data = test_bytes(3000, 40);
    app.upload(&data, 1024).await;
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
    let metrics = scrape(&app).await;
    let waits = metrics.value("ferry_db_acquire_duration_seconds_count") - before;
    assert!(waits >= 5.0, "{waits} waits for a connection were measured");
    let slowest = metrics.value("ferry_db_acquire_duration_seconds_bucket{le=\"+Inf\"}");
    assert!(slowest >= waits);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_accept_queue_cannot_hold_are_counted() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.admin_bind = Some("127.0.0.1:0".parse().unwrap());
        settings.security.max_connections = 2;
        settings.security.max_connections_per_address = 0;
        settings.listen_backlog = 1;
    })
    .await;
    let before = admin_scrape(&app)
        .await
        .value("ferry_listen_overflows_total");
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..16 {
        let connecting = TcpStream::connect(&address);
        if let Ok(Ok(connection)) =
            tokio::time::timeout(Duration::from_millis(100), connecting).await
        {
            held.push(connection);
        }
    }
    let after = admin_scrape(&app)
        .await
        .value("ferry_listen_overflows_total");
    assert!(
        after > before,
        "{} connections held, overflows {before} then {after}",
        held.len()
    );
}

/// The metrics of a server whose main address is full, from its admin one.
async fn admin_scrape(app: &TestApp) -> Scrape {
    let admin = app.admin.as_deref().expect("an admin address");
    let response = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Scrape(response.text().await.unwrap())
}
