//! Downloads of a published file whose last bytes look like the bare 400
//! the HTTP engine writes: served as stored, never swapped for an answer.

use super::*;

/// The whole file and ranges of its end: each gets exactly the file's bytes.
pub fn downloads_of_bytes_that_look_like_a_refusal() -> Vec<Case> {
    let path = format!("/v1/files/{}", file());
    let size = file_data().len();
    let tail = size - BARE_400.len();
    let served = |name, range: Option<&str>, status, start| Case {
        name,
        request: match range {
            Some(range) => request("GET", &path, &[("Range", range)], b""),
            None => request("GET", &path, &[], b""),
        },
        expect: Expect::FileBytes(status, start, size),
    };
    let last_piece = format!("bytes={PIECE}-");
    let with_bytes_before = format!("bytes={}-", tail - 1000);
    vec![
        served("a download of a file ending in a bare 400", None, 200, 0),
        served(
            "a range of just the bare 400 at a file's end",
            Some(&format!("bytes=-{}", BARE_400.len())),
            206,
            tail,
        ),
        served(
            "a range from the bare 400 to a file's end",
            Some(&last_piece),
            206,
            tail,
        ),
        served(
            "a range ending in a bare 400 with bytes before it",
            Some(&with_bytes_before),
            206,
            tail - 1000,
        ),
    ]
}
