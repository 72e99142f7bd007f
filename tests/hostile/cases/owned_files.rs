//! Listings and deletes of the caller's files that ask for what cannot be:
//! cursors this server never gave, limits out of range, malformed hashes,
//! and files the caller does not hold.

use super::*;

/// Listings and deletes that are refused and change nothing.
pub fn listings_and_deletes_out_of_range() -> Vec<Case> {
    let valid = fresh();
    let list = |query: &str| request("GET", &format!("/v1/files{query}"), &[], b"");
    let delete = |hash: &str| request("DELETE", &format!("/v1/files/{hash}"), &[], b"");
    let long_cursor = format!("?cursor={}", "A".repeat(4000));
    vec![
        case(
            "a listing with a cursor not base64",
            list("?cursor=%21%21"),
            400,
            INVALID,
        ),
        case(
            "a listing with a cursor of no time",
            list("?cursor=bm9wZQ"),
            400,
            INVALID,
        ),
        case(
            "a listing with a cursor of 4000 letters",
            list(&long_cursor),
            400,
            INVALID,
        ),
        case("a listing of no files", list("?limit=0"), 400, INVALID),
        case(
            "a listing of a million files",
            list("?limit=1000000"),
            400,
            INVALID,
        ),
        case(
            "a listing with a negative limit",
            list("?limit=-1"),
            400,
            INVALID,
        ),
        case(
            "a listing with a limit past u64",
            list(&format!("?limit=1{}", "0".repeat(30))),
            400,
            INVALID,
        ),
        case(
            "a listing with a limit that is a word",
            list("?limit=all"),
            400,
            INVALID,
        ),
        case(
            "a delete of a non-hex hash",
            delete(&"q".repeat(64)),
            400,
            INVALID,
        ),
        case(
            "a delete of a 63-digit hash",
            delete(&valid[..63]),
            400,
            INVALID,
        ),
        case(
            "a delete of a 65-digit hash",
            delete(&format!("{valid}0")),
            400,
            INVALID,
        ),
        case(
            "a delete of a file nobody published",
            delete(&valid),
            404,
            "file-not-found",
        ),
        case(
            "a delete of a session's hash",
            delete(&session()),
            404,
            "file-not-found",
        ),
    ]
}
