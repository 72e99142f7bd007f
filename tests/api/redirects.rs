//! Downloads redirected to the bucket (`FERRY_DOWNLOAD_REDIRECT=presigned`):
//! a GET of a file kept as one object answers a 307 to a short-lived
//! presigned URL of it, never cached, whole or ranged; HEAD and conditional
//! requests are still answered by ferry.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, IF_NONE_MATCH, LOCATION, RANGE};

use ferry::config::DownloadRedirect;

use crate::helpers::{Backend, TestApp, sha256_hex, spawn_app_over, test_bytes};
use crate::s3_server::S3Server;

async fn redirecting_app() -> TestApp {
    let s3 = S3Server::shared();
    let bucket = s3.new_bucket().await;
    spawn_app_over(Backend::Postgres, s3.store(&bucket, "ferry"), |settings| {
        settings.bucket.download_redirect = DownloadRedirect::Presigned;
    })
    .await
}

fn not_following() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_is_redirected_to_the_object_and_the_redirect_is_never_cached() {
    let app = redirecting_app().await;
    let data = test_bytes(200_000, 81);
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    let client = not_following();

    let answer = client
        .get(app.url(&format!("/v1/files/{sha}")))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(answer.headers()[CACHE_CONTROL], "no-store");
    let location = answer.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let fetched = client.get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert!(fetched.bytes().await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_get_is_redirected_and_the_range_is_answered_by_the_bucket() {
    let app = redirecting_app().await;
    let data = test_bytes(300_000, 82);
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );

    let followed = reqwest::Client::new()
        .get(app.url(&format!("/v1/files/{sha}")))
        .header(RANGE, "bytes=1000-1999")
        .send()
        .await
        .unwrap();

    assert_eq!(followed.status(), StatusCode::PARTIAL_CONTENT);
    assert_ne!(
        followed.url().as_str(),
        app.url(&format!("/v1/files/{sha}"))
    );
    assert!(followed.bytes().await.unwrap() == data[1000..2000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_conditional_requests_are_still_answered_by_ferry() {
    let app = redirecting_app().await;
    let data = test_bytes(100_000, 83);
    let sha = sha256_hex(&data);
    assert_eq!(
        app.put_file(&sha, &data).await.status(),
        StatusCode::CREATED
    );
    let client = not_following();
    let url = app.url(&format!("/v1/files/{sha}"));

    let head = client.head(&url).send().await.unwrap();
    let unchanged = client
        .get(&url)
        .header(IF_NONE_MATCH, format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    let unsatisfiable = client
        .get(&url)
        .header(RANGE, "bytes=500000-")
        .send()
        .await
        .unwrap();

    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unsatisfiable.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}
