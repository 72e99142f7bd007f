//! A published file as clients see it, and the path it downloads from.

use serde::{Deserialize, Serialize};

/// A published file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct File {
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type it is served with.
    pub content_type: Option<String>,
    /// Path of its download, e.g. `/v1/files/<sha256>/lecture.mp4`.
    pub url: String,
}

/// The download path of a file, with its filename percent-encoded when present.
pub fn file_url(sha256: &str, filename: Option<&str>) -> String {
    match filename {
        Some(name) if !name.is_empty() => {
            let encoded = percent_encoding::utf8_percent_encode(name, PATH_SEGMENT);
            format!("/v1/files/{sha256}/{encoded}")
        }
        _ => format!("/v1/files/{sha256}"),
    }
}

/// Characters escaped in one path segment (RFC 3986 `pchar` complement).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_url_encodes_its_filename_as_one_path_segment() {
        assert_eq!(
            file_url("ab", Some("课程 第1讲/a.mp4")),
            "/v1/files/ab/%E8%AF%BE%E7%A8%8B%20%E7%AC%AC1%E8%AE%B2%2Fa.mp4"
        );
    }

    #[test]
    fn a_file_url_without_filename_is_the_bare_hash_path() {
        assert_eq!(file_url("ab", None), "/v1/files/ab");
        assert_eq!(file_url("ab", Some("")), "/v1/files/ab");
    }
}
