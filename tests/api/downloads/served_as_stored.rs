//! A property: whatever a file holds and wherever the download path cuts it
//! into writes, the bytes served are the bytes stored. Files of random bytes
//! carry pieces that look like HTTP (bare refusals, a status line, the end
//! of a head, the last chunk of chunked framing) ending at, starting at and
//! straddling every cut: a store object's read pieces, the pieces handed to
//! the HTTP engine, its write buffer, the parts of a merged upload, and the
//! end of the file. Each file is read back whole and in random single
//! ranges (`a-b`, `a-`, `-n`) and multipart ranges, through one real server
//! per store.

use std::collections::BTreeSet;
use std::ops::Range;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::{RngCore, SeedableRng};

use super::*;

/// Bytes that look like HTTP to anything that would read a body.
const LOOK_ALIKES: [&[u8]; 8] = [
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
    b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"\r\n\r\n",
    b"0\r\n\r\n",
];

/// What the HTTP engine fills before it writes to the socket.
const WRITE_BUFFER: usize = 32 << 10;
/// The largest piece the server hands the engine.
const HANDED_PIECE: usize = 64 << 10;
/// What a local store reads at once, from the start of an object or range.
const READ_PIECE: usize = 256 << 10;
/// Files stay under the server's limit for one-request uploads (1 MiB).
const LARGEST: usize = 900_000;

/// How a file reaches the store.
#[derive(Debug, Clone, Copy)]
enum Upload {
    /// One `PUT /v1/files/{sha256}`: one object.
    Direct,
    /// Chunks of this size, merged into parts of this size.
    Chunked(usize),
}

/// Where a look-alike goes at a cut.
#[derive(Debug, Clone, Copy)]
enum Placement {
    EndingAt,
    StartingAt,
    /// Across the cut, with the index choosing how many bytes lie before it.
    Straddling(Index),
    EndingAndStarting,
}

/// A place in the file: near a marked offset (a cut, or either end of a
/// look-alike) or the start of the look-alike that ends the file, one byte
/// either side or exactly on it; or anywhere.
#[derive(Debug, Clone)]
enum Offset {
    Marked(Index, i8),
    Ending(i8),
    Anywhere(Index),
}

/// A Range header to ask for.
#[derive(Debug, Clone)]
enum Ask {
    /// `bytes=a-b`.
    Closed(Offset, Offset),
    /// `bytes=a-`.
    Open(Offset),
    /// `bytes=-n`, ending the file from the offset on.
    Suffix(Offset),
    /// `bytes=a-b,c-d[,e-f]`: ascending and apart, so served as asked.
    Several(Vec<Offset>),
}

/// One case: a file and the ranges asked of it.
#[derive(Debug, Clone)]
struct Layout {
    upload: Upload,
    size: usize,
    seed: u64,
    /// The look-alike that ends the file.
    ending: usize,
    /// The placement and look-alike of each cut in turn, repeated as needed.
    placements: Vec<(Placement, Index)>,
    asks: Vec<Ask>,
}

fn uploads() -> impl Strategy<Value = Upload> {
    let chunk_sizes = vec![
        WRITE_BUFFER,
        HANDED_PIECE,
        HANDED_PIECE + 1,
        100_000,
        READ_PIECE - 1,
        READ_PIECE,
        300_000,
    ];
    prop_oneof![
        Just(Upload::Direct),
        select(chunk_sizes).prop_map(Upload::Chunked)
    ]
}

/// Mostly a whole number of pieces or parts plus the length of the
/// look-alike that ends the file (which then fills the last piece alone),
/// or a byte either side; else any.
fn sizes(upload: Upload, ending: usize) -> impl Strategy<Value = usize> {
    let mut steps = vec![HANDED_PIECE, READ_PIECE];
    if let Upload::Chunked(chunk_size) = upload {
        steps.push(chunk_size);
    }
    let tail = LOOK_ALIKES[ending].len();
    prop_oneof![
        3 => (select(steps), 1usize..=3, prop_oneof![3 => Just(0), 1 => Just(-1), 1 => Just(1)])
            .prop_map(move |(step, count, nudge): (usize, usize, isize)| {
                (step * count + tail).saturating_add_signed(nudge).min(LARGEST)
            }),
        1 => 1usize..=LARGEST,
    ]
}

fn placements() -> impl Strategy<Value = Placement> {
    prop_oneof![
        Just(Placement::EndingAt),
        Just(Placement::StartingAt),
        any::<Index>().prop_map(Placement::Straddling),
        Just(Placement::EndingAndStarting),
    ]
}

fn offsets() -> impl Strategy<Value = Offset> {
    prop_oneof![
        3 => (any::<Index>(), -1i8..=1).prop_map(|(mark, nudge)| Offset::Marked(mark, nudge)),
        1 => (-1i8..=1).prop_map(Offset::Ending),
        1 => any::<Index>().prop_map(Offset::Anywhere),
    ]
}

fn asks() -> impl Strategy<Value = Ask> {
    prop_oneof![
        (offsets(), offsets()).prop_map(|(a, b)| Ask::Closed(a, b)),
        offsets().prop_map(Ask::Open),
        offsets().prop_map(Ask::Suffix),
        prop::collection::vec(offsets(), 4..=6).prop_map(Ask::Several),
    ]
}

fn layouts() -> impl Strategy<Value = Layout> {
    let placed = prop::collection::vec((placements(), any::<Index>()), 1..8);
    let asked = prop::collection::vec(asks(), 3..=6);
    let ending = 0..LOOK_ALIKES.len();
    (uploads(), any::<u64>(), ending, placed, asked).prop_flat_map(
        |(upload, seed, ending, placements, asks)| {
            sizes(upload, ending).prop_map(move |size| Layout {
                upload,
                size,
                seed,
                ending,
                placements: placements.clone(),
                asks: asks.clone(),
            })
        },
    )
}

/// Where the download path may cut the file into separate writes: each
/// store object (the file, or each part of a merged upload) is read in
/// pieces from its start, handed on in smaller pieces, and written through
/// the engine's buffer; and the file's end.
fn cuts(upload: Upload, size: usize) -> BTreeSet<usize> {
    let object_size = match upload {
        Upload::Direct => size,
        Upload::Chunked(chunk_size) => chunk_size,
    };
    let mut cuts = BTreeSet::from([size]);
    for object in (0..size).step_by(object_size) {
        let end = size.min(object + object_size);
        for step in [WRITE_BUFFER, HANDED_PIECE, READ_PIECE] {
            cuts.extend((object..end).step_by(step));
        }
    }
    cuts
}

/// The file's bytes, and the offsets worth starting or ending a range at:
/// every cut, and both ends of every look-alike placed. The file's end
/// is the last cut, and the look-alike `layout.ending` ends there.
fn build(layout: &Layout) -> (Vec<u8>, Vec<usize>) {
    let size = layout.size;
    let mut data = vec![0u8; size];
    rand::rngs::StdRng::seed_from_u64(layout.seed).fill_bytes(&mut data);
    let cuts = cuts(layout.upload, size);
    let mut marks = cuts.clone();
    for (&cut, (placement, which)) in cuts.iter().zip(layout.placements.iter().cycle()) {
        let (placement, look_alike) = if cut == size {
            (Placement::EndingAt, LOOK_ALIKES[layout.ending])
        } else {
            (*placement, LOOK_ALIKES[which.index(LOOK_ALIKES.len())])
        };
        let len = look_alike.len();
        let starts = match placement {
            Placement::EndingAt => vec![cut.checked_sub(len)],
            Placement::StartingAt => vec![Some(cut)],
            Placement::Straddling(before) => vec![cut.checked_sub(1 + before.index(len - 1))],
            Placement::EndingAndStarting => vec![cut.checked_sub(len), Some(cut)],
        };
        for start in starts.into_iter().flatten() {
            if start + len <= size {
                data[start..start + len].copy_from_slice(look_alike);
                marks.extend([start, start + len]);
            }
        }
    }
    (data, marks.into_iter().collect())
}

/// A Range header and the ranges, end exclusive, it must be answered with.
struct Asked {
    header: String,
    ranges: Vec<Range<usize>>,
}

/// The header `ask` stands for in the file `layout` describes, with `marks`.
fn resolve(ask: &Ask, layout: &Layout, marks: &[usize]) -> Asked {
    let size = layout.size;
    let near =
        |place: usize, nudge: i8| (place as i64 + i64::from(nudge)).clamp(0, size as i64) as usize;
    let ending = size.saturating_sub(LOOK_ALIKES[layout.ending].len());
    let at = |offset: &Offset| match offset {
        Offset::Marked(mark, nudge) => near(marks[mark.index(marks.len())], *nudge),
        Offset::Ending(nudge) => near(ending, *nudge),
        Offset::Anywhere(place) => place.index(size + 1),
    };
    // Every range holds at least one byte of the file.
    let from = |start: usize, end: usize| {
        let start = start.min(size - 1);
        let range = start..end.max(start + 1);
        vec![range]
    };
    let ranges = match ask {
        Ask::Closed(a, b) => from(at(a).min(at(b)), at(a).max(at(b))),
        Ask::Open(a) | Ask::Suffix(a) => from(at(a), size),
        Ask::Several(offsets) => {
            let cuts: BTreeSet<usize> = offsets.iter().map(at).collect();
            let cuts: Vec<usize> = cuts.into_iter().collect();
            let pairs: Vec<Range<usize>> = cuts.chunks_exact(2).map(|p| p[0]..p[1]).collect();
            if pairs.is_empty() {
                from(cuts[0], cuts[0])
            } else {
                pairs
            }
        }
    };
    let header = match (ask, ranges.as_slice()) {
        (Ask::Open(_), [range]) => format!("bytes={}-", range.start),
        (Ask::Suffix(_), [range]) => format!("bytes=-{}", size - range.start),
        _ => {
            let members: Vec<String> = (ranges.iter())
                .map(|range| format!("{}-{}", range.start, range.end - 1))
                .collect();
            format!("bytes={}", members.join(","))
        }
    };
    Asked { header, ranges }
}

/// Fails unless `served` is `stored` byte for byte, naming where they part.
fn same_bytes(what: &str, served: &[u8], stored: &[u8]) -> Result<(), TestCaseError> {
    if served == stored {
        return Ok(());
    }
    let at = (served.iter().zip(stored))
        .position(|(a, b)| a != b)
        .unwrap_or(served.len().min(stored.len()));
    let from =
        |bytes: &[u8]| String::from_utf8_lossy(&bytes[at..bytes.len().min(at + 80)]).into_owned();
    Err(TestCaseError::fail(format!(
        "{what}: {} bytes served, {} stored, apart from byte {at}: {:?} instead of {:?}",
        served.len(),
        stored.len(),
        from(served),
        from(stored)
    )))
}

/// Uploads `data` as `upload` asks, unless the server holds it already
/// (a shrinking step may ask for the same bytes again).
async fn store(app: &TestApp, upload: Upload, sha: &str, data: &[u8]) {
    let held = app.client.head(app.url(&format!("/v1/files/{sha}"))).send();
    if held.await.expect("HEAD answers").status() == StatusCode::OK {
        return;
    }
    match upload {
        Upload::Direct => assert_eq!(app.put_file(sha, data).await.status(), StatusCode::CREATED),
        Upload::Chunked(chunk_size) => drop(app.upload(data, chunk_size).await),
    }
}

/// Stores the file `layout` describes, then reads it back whole and as
/// each range asked, checking status, Content-Range and every byte.
async fn served_as_stored(app: &TestApp, layout: &Layout) -> Result<(), TestCaseError> {
    let (data, marks) = build(layout);
    let sha = sha256_hex(&data);
    store(app, layout.upload, &sha, &data).await;
    let whole = get(app, &sha, &[]).await;
    prop_assert_eq!(whole.status(), StatusCode::OK);
    prop_assert!(lacks(&whole, "content-range"));
    assert_sized(&whole, data.len());
    same_bytes("the whole file", &whole.bytes().await.unwrap(), &data)?;
    for ask in &layout.asks {
        let asked = resolve(ask, layout, &marks);
        let response = get_range(app, &sha, &asked.header).await;
        let what = &asked.header;
        prop_assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{}", what);
        if let [range] = asked.ranges.as_slice() {
            let expected = format!("bytes {}-{}/{}", range.start, range.end - 1, data.len());
            prop_assert_eq!(header(&response, "content-range"), expected, "{}", what);
            assert_sized(&response, range.len());
            same_bytes(what, &response.bytes().await.unwrap(), &data[range.clone()])?;
            continue;
        }
        prop_assert!(lacks(&response, "content-range"), "{}", what);
        let content_type = header(&response, "content-type").to_owned();
        let parts = parse_byteranges(&content_type, &response.bytes().await.unwrap());
        let found: Vec<Range<usize>> = parts.iter().map(|p| p.start..p.end + 1).collect();
        prop_assert_eq!(&found, &asked.ranges, "{}", what);
        for part in parts {
            prop_assert_eq!(part.complete_length, data.len());
            let part_name = format!("{what}, part {}-{}", part.start, part.end);
            same_bytes(&part_name, &part.body, &data[part.start..=part.end])?;
        }
    }
    Ok(())
}

/// Runs the property against one server on `backend`, reused by every case.
fn holds_on(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(spawn_app(backend));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&layouts(), |layout| {
        runtime.block_on(served_as_stored(&app, &layout))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn bytes_served_from_a_local_folder_are_the_bytes_stored() {
    holds_on(Backend::Sqlite);
}

#[test]
fn bytes_served_from_a_bucket_are_the_bytes_stored() {
    holds_on(Backend::PostgresS3);
}
