//! Several ranges in one request: multipart/byteranges bodies, coalescing, the cap.

use super::*;

async fn two_ranges_give_a_multipart_body_with_exact_part_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get_range(&app, &sha, "bytes=0-9,100-199").await;
    assert_cdn_headers(&response, &sha);
    let content_type = header(&response, "content-type").to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let mut expected = Vec::new();
    for (start, end) in [(0, 9), (100, 199)] {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes {start}-{end}/10000\r\n\r\n"
        );
        expected.extend_from_slice(head.as_bytes());
        expected.extend_from_slice(&data[start..=end]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_sized(&response, expected.len());
    assert_eq!(response.bytes().await.unwrap(), expected);
}

async fn many_ranges_are_parsed_back_to_the_file_slices(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let range = "bytes=0-0,10-19,20-29,1000-1999,5000-5000,7777-8888,9990-";
    let expected = [
        (0, 0),
        (10, 19),
        (20, 29),
        (1000, 1999),
        (5000, 5000),
        (7777, 8888),
        (9990, 9999),
    ];
    assert_multipart(get_range(&app, &sha, range).await, &data, &expected).await;
}

async fn a_multipart_answer_carries_the_validators_of_the_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, _) = text_file(&app).await;
    let full = get(&app, &sha, &[]).await;
    let response = get_range(&app, &sha, "bytes=0-1,3-4").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_cdn_headers(&response, &sha);
    for name in ["etag", "last-modified", "cache-control"] {
        assert_eq!(header(&response, name), header(&full, name), "{name}");
    }
}

async fn overlapping_ranges_are_coalesced_into_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    assert_partial(get_range(&app, &sha, "bytes=0-10,5-20").await, &data, 0, 20).await;
    let response = get_range(&app, &sha, "bytes=100-199,0-9,150-300,-10").await;
    assert_multipart(response, &data, &[(0, 9), (100, 300), (9990, 9999)]).await;
}

async fn ranges_out_of_order_are_sorted_and_merged(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let response = get_range(&app, &sha, "bytes=500-599,0-9,600-700").await;
    assert_multipart(response, &data, &[(0, 9), (500, 700)]).await;
}

async fn many_small_overlapping_ranges_never_exceed_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let members: Vec<String> = (0..50).map(|i| format!("{}-", i * 3)).collect();
    let range = format!("bytes={}", members.join(","));
    assert_partial(get_range(&app, &sha, &range).await, &data, 0, 9999).await;
}

async fn more_ranges_than_the_cap_are_answered_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let (sha, data) = text_file(&app).await;
    let members: Vec<String> = (0..100).map(|i| format!("{0}-{0}", i * 10)).collect();
    let range = format!("bytes={}", members.join(","));
    assert_full(get_range(&app, &sha, &range).await, &data).await;
    let at_cap: Vec<(usize, usize)> = (0..64).map(|i| (i * 10, i * 10)).collect();
    let members: Vec<String> = at_cap.iter().map(|(s, e)| format!("{s}-{e}")).collect();
    let range = format!("bytes={}", members.join(","));
    assert_multipart(get_range(&app, &sha, &range).await, &data, &at_cap).await;
}

on_both_backends!(
    two_ranges_give_a_multipart_body_with_exact_part_headers,
    many_ranges_are_parsed_back_to_the_file_slices,
    a_multipart_answer_carries_the_validators_of_the_200,
    overlapping_ranges_are_coalesced_into_one,
    ranges_out_of_order_are_sorted_and_merged,
    many_small_overlapping_ranges_never_exceed_the_file,
    more_ranges_than_the_cap_are_answered_200,
);
