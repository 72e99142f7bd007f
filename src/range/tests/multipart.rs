//! The multipart/byteranges layout and HTTP dates.

use super::*;

#[test]
fn multipart_preambles_have_the_exact_layout() {
    let layout = multipart_layout(&[br(0, 1), br(5, 9)], "text/plain", 10, "XYZ");
    assert_eq!(layout.boundary, "XYZ");
    assert_eq!(
        layout.parts,
        vec![
            (
                "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n"
                    .to_string(),
                br(0, 1)
            ),
            (
                "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/10\r\n\r\n"
                    .to_string(),
                br(5, 9)
            ),
        ]
    );
    assert_eq!(layout.epilogue, "\r\n--XYZ--\r\n");
}

#[test]
fn multipart_content_length_equals_the_length_of_the_concatenated_body() {
    let data: Vec<u8> = (0..=255).collect();
    let layout = multipart_layout(
        &[br(0, 0), br(10, 99), br(200, 255)],
        "application/octet-stream",
        256,
        "0123456789abcdef",
    );
    let body = build_body(&layout, &data);
    assert_eq!(layout.content_length, body.len() as u64);
}

#[test]
fn multipart_content_length_saturates_instead_of_overflowing() {
    let layout = multipart_layout(
        &[br(0, u64::MAX - 1), br(0, u64::MAX)],
        "a/b",
        u64::MAX,
        "B",
    );
    assert_eq!(layout.content_length, u64::MAX);
}

#[test]
fn multipart_content_type_names_the_boundary_and_quotes_it_when_needed() {
    assert_eq!(
        multipart_content_type("abc123"),
        "multipart/byteranges; boundary=abc123"
    );
    assert_eq!(
        multipart_content_type("a b:c"),
        "multipart/byteranges; boundary=\"a b:c\""
    );
}

#[test]
fn http_dates_are_formatted_as_imf_fixdate() {
    assert_eq!(format_http_date(at(MODIFIED_SECS)), MODIFIED);
    assert_eq!(
        format_http_date(at(MODIFIED_SECS) + Duration::from_millis(999)),
        MODIFIED
    );
}

#[test]
fn http_dates_outside_the_expressible_span_are_clamped() {
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    assert_eq!(
        format_http_date(before_epoch),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert_eq!(
        format_http_date(at(400_000_000_000)),
        "Fri, 31 Dec 9999 23:59:59 GMT"
    );
}
