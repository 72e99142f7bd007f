use futures::StreamExt;
use proptest::prelude::*;

use super::*;

const BOUNDARY: &str = "----ferryFormBoundary7MA4YWxkTrZu0gW";

/// Feeds `body` in pieces of the given sizes (the last one repeated) and
/// collects the fields, checking that the parser never holds much more than
/// a piece.
fn parse(
    body: &[u8],
    boundary: &str,
    sizes: &[usize],
) -> Result<Vec<(String, Vec<u8>)>, Malformed> {
    let mut parser = FormParser::new(boundary)?;
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rest = body;
    let mut sizes = sizes
        .iter()
        .copied()
        .chain(std::iter::repeat(*sizes.last().unwrap_or(&7)));
    loop {
        while let Some(event) = parser.next_event()? {
            match event {
                Event::Part(head) => fields.push((head.name, Vec::new())),
                Event::Data(piece) => fields
                    .last_mut()
                    .expect("data inside a part")
                    .1
                    .extend_from_slice(&piece),
                Event::End => return Ok(fields),
            }
        }
        if rest.is_empty() {
            return Err(Malformed("ended early"));
        }
        let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
        let (piece, remainder) = rest.split_at(size);
        parser.feed(piece);
        rest = remainder;
        assert!(
            parser.buffered() <= MAX_PART_HEAD + size + 2 * MAX_BOUNDARY,
            "held {} bytes",
            parser.buffered()
        );
    }
}

fn form(fields: &[(&str, &[u8])], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn owned(fields: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    fields
        .iter()
        .map(|(name, content)| (name.to_string(), content.to_vec()))
        .collect()
}

#[test]
fn a_browser_form_reads_the_same_whatever_the_pieces() {
    let fields: [(&str, &[u8]); 2] = [
        ("sha256", b"ab12"),
        ("file", b"\r\n--almost a boundary\r\n\r\n"),
    ];
    let body = form(&fields, BOUNDARY);
    for size in 1..body.len() {
        assert_eq!(
            parse(&body, BOUNDARY, &[size]).unwrap(),
            owned(&fields),
            "pieces of {size}"
        );
    }
}

#[test]
fn a_preamble_padding_and_epilogue_are_passed_over() {
    let body = format!(
        "preamble\r\n--{BOUNDARY} \t\r\ncontent-disposition: form-data; name=a\r\n\r\n1\r\n--{BOUNDARY}--\r\nepilogue"
    );
    assert_eq!(
        parse(body.as_bytes(), BOUNDARY, &[3]).unwrap(),
        owned(&[("a", b"1")])
    );
}

#[test]
fn quoted_names_take_escapes_and_other_parameters() {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; filename=\"x;y.bin\"; name=\"we\\\"ird\"\r\n\r\nz\r\n--{BOUNDARY}--"
    );
    assert_eq!(
        parse(body.as_bytes(), BOUNDARY, &[64]).unwrap(),
        owned(&[("we\"ird", b"z")])
    );
}

#[test]
fn a_body_without_a_boundary_is_refused_after_a_few_kib() {
    let body = vec![b'x'; 64 << 10];
    assert_eq!(
        parse(&body, BOUNDARY, &[1000]),
        Err(Malformed("no boundary in the first 4 KiB of the body"))
    );
}

#[test]
fn endless_part_headers_are_refused() {
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\nX: ").into_bytes();
    body.extend(std::iter::repeat_n(b'y', 64 << 10));
    assert_eq!(
        parse(&body, BOUNDARY, &[512]),
        Err(Malformed("a part's headers are longer than 8 KiB"))
    );
}

#[test]
fn malformed_parts_are_refused() {
    let cases: [(&str, &str); 6] = [
        ("\r\n\r\nx", "a part has no Content-Disposition header"),
        (
            "\r\nContent-Disposition: attachment; name=a\r\n\r\nx",
            "a part's disposition is not form-data",
        ),
        (
            "\r\nContent-Disposition: form-data\r\n\r\nx",
            "a part's disposition has no name",
        ),
        (
            "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx",
            "a disposition has an unterminated quoted value",
        ),
        (
            "\r\nno colon here\r\n\r\nx",
            "a part has a header line that is not `name: value`",
        ),
        (
            "garbage\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
            "a boundary is not followed by a line break",
        ),
    ];
    for (after_boundary, reason) in cases {
        let body = format!("--{BOUNDARY}{after_boundary}\r\n--{BOUNDARY}--");
        assert_eq!(
            parse(body.as_bytes(), BOUNDARY, &[5]),
            Err(Malformed(reason)),
            "{after_boundary:?}"
        );
    }
}

#[test]
fn more_than_sixteen_parts_are_refused() {
    let names: Vec<String> = (0..17).map(|i| format!("f{i}")).collect();
    let fields: Vec<(&str, &[u8])> = names
        .iter()
        .map(|name| (name.as_str(), b"v".as_slice()))
        .collect();
    assert_eq!(
        parse(&form(&fields, BOUNDARY), BOUNDARY, &[100]),
        Err(Malformed("the form has more than 16 parts"))
    );
}

#[test]
fn boundaries_must_be_short_and_visible() {
    assert!(FormParser::new("").is_err());
    assert!(FormParser::new(&"b".repeat(71)).is_err());
    assert!(FormParser::new("with\nbreak").is_err());
    assert!(FormParser::new(&"b".repeat(70)).is_ok());
}

fn stream_of(
    body: Vec<u8>,
    size: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
    let pieces: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(size.max(1))
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    futures::stream::iter(pieces)
}

#[actix_web::test]
async fn a_form_streams_its_parts_and_skips_unread_content() {
    let fields: [(&str, &[u8]); 3] = [
        ("skipped", b"0123456789"),
        ("file", &[7u8; 10_000]),
        ("sha256", b"ab"),
    ];
    let mut form = Form::new(stream_of(form(&fields, BOUNDARY), 333), BOUNDARY, 1 << 20).unwrap();
    assert_eq!(form.next_part().await.unwrap().unwrap().name, "skipped");
    assert_eq!(form.next_part().await.unwrap().unwrap().name, "file");
    let mut content = Vec::new();
    let mut stream = form.content();
    while let Some(piece) = stream.next().await {
        content.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(content, vec![7u8; 10_000]);
    assert_eq!(form.next_part().await.unwrap().unwrap().name, "sha256");
    assert!(form.next_part().await.unwrap().is_none());
}

#[actix_web::test]
async fn a_form_is_cut_at_its_limit_and_at_a_missing_end() {
    let body = form(&[("file", &[1u8; 5000])], BOUNDARY);
    let mut form_over = Form::new(stream_of(body.clone(), 100), BOUNDARY, 4096).unwrap();
    form_over.next_part().await.unwrap();
    let outcome: Vec<_> = form_over.content().collect().await;
    assert!(matches!(
        outcome.last(),
        Some(Err(FormFailure::TooLarge { limit: 4096 }))
    ));

    let truncated = body[..body.len() - 10].to_vec();
    let mut form_cut = Form::new(stream_of(truncated, 100), BOUNDARY, 1 << 20).unwrap();
    form_cut.next_part().await.unwrap();
    let outcome: Vec<_> = form_cut.content().collect().await;
    assert!(matches!(outcome.last(), Some(Err(FormFailure::Truncated))));
}

proptest! {
    #[test]
    fn any_bytes_in_any_pieces_end_in_fields_or_a_refusal_with_bounded_memory(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        sizes in proptest::collection::vec(1usize..300, 1..8),
    ) {
        let mut prefixed = format!("--{BOUNDARY}\r\n").into_bytes();
        prefixed.extend_from_slice(&body);
        let _ = parse(&prefixed, BOUNDARY, &sizes);
        let _ = parse(&body, BOUNDARY, &sizes);
    }

    #[test]
    fn fields_come_back_whole_whatever_their_bytes_and_the_pieces(
        contents in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..5),
        sizes in proptest::collection::vec(1usize..200, 1..8),
    ) {
        let names: Vec<String> = (0..contents.len()).map(|i| format!("field{i}")).collect();
        let fields: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(contents.iter().map(Vec::as_slice)).collect();
        let body = form(&fields, BOUNDARY);
        prop_assert_eq!(parse(&body, BOUNDARY, &sizes).unwrap(), owned(&fields));
    }
}
