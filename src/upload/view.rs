//! The upload resource as clients see it, built from what the stores hold.

use chrono::SecondsFormat;
use ferry_proto::{FileName, UploadStatus, file_url, to_ranges};

use super::chunk_plan::ChunkPlan;
use super::policy::DownloadLinks;
use crate::meta::{FileRecord, ReceivedChunks, Session};

/// Builds the upload resource of a session from what it has received and,
/// once complete, its published file.
pub fn upload_view(
    session: &Session,
    received: ReceivedChunks,
    file: Option<&FileRecord>,
    links: &DownloadLinks,
) -> ferry_proto::Upload {
    let plan = ChunkPlan {
        size: session.size,
        chunk_size: session.chunk_size,
    };
    let complete = session.status == UploadStatus::Complete;
    let (received_chunks, received_bytes) = if complete {
        (to_ranges(0..plan.chunk_count()), session.size)
    } else {
        (received.runs, received.bytes)
    };
    ferry_proto::Upload {
        sha256: session.sha256.to_hex(),
        size: session.size,
        chunk_size: session.chunk_size,
        chunk_count: plan.chunk_count(),
        status: session.status,
        received_chunks,
        received_bytes,
        filename: session.filename.as_ref().map(|name| name.to_string()),
        content_type: session.content_type.as_ref().map(|media| media.to_string()),
        expires_at: session
            .expires_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        file: file
            .filter(|_| complete)
            .map(|file| file_view(file, session.filename.as_ref(), links)),
        proof_challenge: None,
    }
}

/// Builds the file JSON of a published file, linked under `filename`.
pub fn file_view(
    file: &FileRecord,
    filename: Option<&FileName>,
    links: &DownloadLinks,
) -> ferry_proto::File {
    let path = file_url(&file.sha256.to_hex(), filename.map(FileName::as_str));
    ferry_proto::File {
        sha256: file.sha256.to_hex(),
        size: file.size,
        content_type: Some(served_content_type(file, filename.map(FileName::as_str))),
        url: links.link(path),
    }
}

/// The media type a file is served with: the one its upload gave, else one
/// guessed from `filename`, else `application/octet-stream`.
pub(super) fn served_content_type(file: &FileRecord, filename: Option<&str>) -> String {
    match &file.content_type {
        Some(media) => media.to_string(),
        None => filename
            .and_then(|name| mime_guess::from_path(name).first_raw())
            .unwrap_or("application/octet-stream")
            .to_owned(),
    }
}
