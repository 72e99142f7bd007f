//! The chunk layout a server announces for a file, checked before it is
//! trusted: a chunk size within sane bounds and a chunk count that follows
//! from the size. A server answering otherwise is broken or hostile, and a
//! chunk size of a few bytes or of terabytes would make the client send
//! millions of requests or hold a whole file in memory.

use ferry_proto::{Upload, parse_size};

/// Smallest chunk size the client works with.
pub const MIN_CHUNK_SIZE: u64 = 64 << 10;
/// Largest chunk size the client works with (each chunk is held in memory).
pub const MAX_CHUNK_SIZE: u64 = 256 << 20;

/// Checks that `upload` cuts a file of `size` bytes into chunks the client
/// can work with; the error says what is wrong, for a person.
pub fn check(upload: &Upload, size: u64) -> Result<(), String> {
    if upload.size != size {
        return Err(format!(
            "the server's session is for {} bytes, but the file has {size}",
            upload.size
        ));
    }
    check_chunks(upload)
}

/// Checks that `upload`'s chunk size is within bounds and its chunk count
/// is `ceil(size / chunk_size)`.
pub fn check_chunks(upload: &Upload) -> Result<(), String> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&upload.chunk_size) {
        return Err(format!(
            "the server chose chunks of {} bytes, outside the {} KiB to {} MiB this client works with",
            upload.chunk_size,
            MIN_CHUNK_SIZE >> 10,
            MAX_CHUNK_SIZE >> 20
        ));
    }
    let expected = upload.size.div_ceil(upload.chunk_size);
    if upload.chunk_count != expected {
        return Err(format!(
            "the server counts {} chunks of {} bytes in {} bytes, not {expected}",
            upload.chunk_count, upload.chunk_size, upload.size
        ));
    }
    Ok(())
}

/// Reads `--chunk-size`: a size such as `8MiB`, within the client's bounds.
pub fn parse_chunk_size(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!(
            "must be between {} KiB and {} MiB",
            MIN_CHUNK_SIZE >> 10,
            MAX_CHUNK_SIZE >> 20
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::UploadStatus;

    fn upload(size: u64, chunk_size: u64, chunk_count: u64) -> Upload {
        Upload {
            sha256: "ab".repeat(32),
            size,
            chunk_size,
            chunk_count,
            status: UploadStatus::Uploading,
            received_chunks: Vec::new(),
            received_bytes: 0,
            filename: None,
            content_type: None,
            expires_at: "2026-11-22T22:00:00Z".into(),
            file: None,
            proof_challenge: None,
        }
    }

    #[test]
    fn a_layout_within_bounds_that_adds_up_is_trusted() {
        assert_eq!(check(&upload(1 << 20, 64 << 10, 16), 1 << 20), Ok(()));
        assert_eq!(check(&upload(10, 8 << 20, 1), 10), Ok(()));
        assert_eq!(check(&upload(0, 8 << 20, 0), 0), Ok(()));
        assert_eq!(check(&upload(1 << 30, 256 << 20, 4), 1 << 30), Ok(()));
    }

    #[test]
    fn a_chunk_size_outside_the_bounds_is_refused() {
        for chunk_size in [0, 1, (64 << 10) - 1, (256 << 20) + 1, u64::MAX] {
            let layout = upload(10, chunk_size, 1);
            let error = check(&layout, 10).expect_err("refused");
            assert!(error.contains("outside"), "{error}");
        }
    }

    #[test]
    fn a_chunk_count_that_does_not_follow_from_the_size_is_refused() {
        let error = check(&upload(1 << 20, 64 << 10, 1 << 40), 1 << 20).expect_err("refused");
        assert!(error.contains("chunks"), "{error}");
        assert!(check(&upload(1 << 20, 64 << 10, 15), 1 << 20).is_err());
    }

    #[test]
    fn a_session_for_another_size_is_refused() {
        assert!(check(&upload(20, 64 << 10, 1), 10).is_err());
    }

    #[test]
    fn the_chunk_size_asked_for_is_within_the_bounds() {
        assert_eq!(parse_chunk_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_chunk_size("256MiB"), Ok(256 << 20));
        assert!(parse_chunk_size("1KiB").is_err());
        assert!(parse_chunk_size("1GiB").is_err());
        assert!(parse_chunk_size("8 parsecs").is_err());
    }
}
