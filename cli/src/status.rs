//! `ferry status`: where an upload stands, in words or as JSON.

use std::path::Path;

use indicatif::BinaryBytes;
use serde::Serialize;

use super::client::{Client, ClientError};
use super::error::CliError;
use super::layout;
use super::local::LocalFile;
use super::progress::FileBar;
use ferry_proto::{ContentHash, ErrorCode, Upload, UploadStatus, missing_ranges};

/// Missing ranges named in words before the rest is summed up.
const RANGES_IN_WORDS: usize = 6;

/// Where an upload stands; printed as JSON with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// `uploading`, `merging`, `complete` or `failed`.
    pub status: &'static str,
    /// Size of the file in bytes.
    pub size: u64,
    /// Size of every chunk but the last, when there is a session.
    pub chunk_size: Option<u64>,
    /// Chunks in all, when there is a session.
    pub chunk_count: Option<u64>,
    /// Bytes the server holds.
    pub received_bytes: u64,
    /// Inclusive index ranges of the chunks the server holds.
    pub received_chunks: Vec<[u64; 2]>,
    /// Inclusive index ranges of the chunks it still lacks.
    pub missing_chunks: Vec<[u64; 2]>,
    /// When an idle session will be swept.
    pub expires_at: Option<String>,
    /// Absolute URL of the published file.
    pub url: Option<String>,
}

/// Reports on the upload of `what`: a file (hashed first) or a SHA-256.
pub async fn status(client: &Client, what: &str, bar: &FileBar) -> Result<StatusReport, CliError> {
    let sha256 = if Path::new(what).is_file() {
        let local = LocalFile::open(Path::new(what)).await?;
        bar.phase("hashing", local.size(), 0);
        local.sha256(bar).await?
    } else {
        ContentHash::parse(what)
            .ok()
            .map(|hash| hash.to_hex())
            .ok_or_else(|| CliError::Usage(format!("{what:?} is neither a file nor a sha256")))?
    };
    match client.retrying(|| client.progress(&sha256)).await {
        Ok(upload) => Ok(from_upload(client, &upload)?),
        Err(error) if error.code() == Some(ErrorCode::UploadNotFound) => {
            let url = client.url(&format!("v1/files/{sha256}"))?;
            let head = client.retrying(|| client.head_file(&url)).await;
            match head {
                Ok(head) => Ok(StatusReport {
                    sha256,
                    status: UploadStatus::Complete.as_str(),
                    size: head.size,
                    chunk_size: None,
                    chunk_count: None,
                    received_bytes: head.size,
                    received_chunks: Vec::new(),
                    missing_chunks: Vec::new(),
                    expires_at: None,
                    url: Some(url.to_string()),
                }),
                Err(head_error) if head_error.code() == Some(ErrorCode::FileNotFound) => {
                    Err(error.into())
                }
                Err(head_error) => Err(head_error.into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}

fn from_upload(client: &Client, upload: &Upload) -> Result<StatusReport, CliError> {
    layout::check_chunks(upload).map_err(ClientError::Unexpected)?;
    let missing = match upload.status {
        UploadStatus::Uploading => missing_ranges(upload.chunk_count, &upload.received_chunks),
        _ => Vec::new(),
    };
    let url = upload
        .file
        .as_ref()
        .map(|file| client.url(&file.url).map(String::from))
        .transpose()?;
    Ok(StatusReport {
        sha256: upload.sha256.clone(),
        status: upload.status.as_str(),
        size: upload.size,
        chunk_size: Some(upload.chunk_size),
        chunk_count: Some(upload.chunk_count),
        received_bytes: if upload.status == UploadStatus::Complete {
            upload.size
        } else {
            upload.received_bytes
        },
        received_chunks: upload.received_chunks.clone(),
        missing_chunks: missing,
        expires_at: Some(upload.expires_at.clone()),
        url,
    })
}

/// The report as one line for a person.
pub fn describe(report: &StatusReport) -> String {
    let sha = &report.sha256;
    let size = BinaryBytes(report.size);
    match report.status {
        "uploading" => {
            let count = report.chunk_count.unwrap_or(0);
            let held = report
                .received_chunks
                .iter()
                .map(|[a, b]| b.saturating_sub(*a).saturating_add(1))
                .fold(0, u64::saturating_add);
            let percent = u128::from(report.received_bytes)
                .saturating_mul(100)
                .checked_div(u128::from(report.size))
                .unwrap_or(100);
            let mut line = format!(
                "{sha}: uploading, {} of {size} received ({percent}%), {held} of {count} chunks of {}",
                BinaryBytes(report.received_bytes),
                BinaryBytes(report.chunk_size.unwrap_or(0)),
            );
            if !report.missing_chunks.is_empty() {
                line.push_str("; missing chunks ");
                line.push_str(&ranges_in_words(&report.missing_chunks));
            }
            if let Some(expires_at) = &report.expires_at {
                line.push_str(&format!("; expires {expires_at}"));
            }
            line
        }
        "merging" => format!(
            "{sha}: merging, all {} chunks ({size}) received; the server is verifying them",
            report.chunk_count.unwrap_or(0)
        ),
        "complete" => format!(
            "{sha}: complete, {size}, published at {}",
            report.url.as_deref().unwrap_or("?")
        ),
        _ => format!("{sha}: failed: the merged chunks did not hash to the sha256; upload again"),
    }
}

fn ranges_in_words(ranges: &[[u64; 2]]) -> String {
    let mut words: Vec<String> = ranges
        .iter()
        .take(RANGES_IN_WORDS)
        .map(|[a, b]| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if ranges.len() > RANGES_IN_WORDS {
        words.push(format!(
            "and {} more ranges",
            ranges.len() - RANGES_IN_WORDS
        ));
    }
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploading() -> StatusReport {
        StatusReport {
            sha256: "ab".into(),
            status: "uploading",
            size: 13 << 20,
            chunk_size: Some(1 << 20),
            chunk_count: Some(13),
            received_bytes: 5 << 20,
            received_chunks: vec![[0, 3], [5, 5]],
            missing_chunks: vec![[4, 4], [6, 12]],
            expires_at: Some("2026-11-22T22:00:00Z".into()),
            url: None,
        }
    }

    #[test]
    fn an_upload_in_progress_is_told_with_its_missing_chunks() {
        assert_eq!(
            describe(&uploading()),
            "ab: uploading, 5.00 MiB of 13.00 MiB received (38%), 5 of 13 chunks of 1.00 MiB; \
             missing chunks 4, 6-12; expires 2026-11-22T22:00:00Z"
        );
    }

    #[test]
    fn nonsense_ranges_or_huge_sizes_do_not_overflow() {
        let report = StatusReport {
            size: u64::MAX,
            received_bytes: u64::MAX,
            received_chunks: vec![[5, 2], [0, u64::MAX]],
            ..uploading()
        };
        assert!(describe(&report).contains("(100%)"));
    }

    #[test]
    fn many_missing_ranges_are_summed_up() {
        let ranges: Vec<[u64; 2]> = (0..10).map(|i| [i * 2, i * 2]).collect();
        assert_eq!(
            ranges_in_words(&ranges),
            "0, 2, 4, 6, 8, 10, and 4 more ranges"
        );
    }

    #[test]
    fn a_published_file_is_told_with_its_url() {
        let report = StatusReport {
            status: "complete",
            url: Some("http://h/v1/files/ab".into()),
            ..uploading()
        };
        assert_eq!(
            describe(&report),
            "ab: complete, 13.00 MiB, published at http://h/v1/files/ab"
        );
    }
}
