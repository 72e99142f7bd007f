//! The upload resource as clients see it, built from what the stores hold.

use chrono::SecondsFormat;

use super::chunk_plan::ChunkPlan;
use super::index_ranges::to_ranges;
use crate::api::{self, UploadStatus};
use crate::meta::{Chunk, FileRecord, Session};

/// Builds the upload resource of a session from its recorded chunks and,
/// once complete, its published file.
pub fn upload_view(session: &Session, chunks: &[Chunk], file: Option<&FileRecord>) -> api::Upload {
    let plan = ChunkPlan {
        size: session.size,
        chunk_size: session.chunk_size,
    };
    let complete = session.status == UploadStatus::Complete;
    let (received_chunks, received_bytes) = if complete {
        (to_ranges(0..plan.chunk_count()), session.size)
    } else {
        (
            to_ranges(chunks.iter().map(|chunk| chunk.index)),
            chunks.iter().map(|chunk| chunk.size).sum(),
        )
    };
    api::Upload {
        sha256: session.sha256.to_hex(),
        size: session.size,
        chunk_size: session.chunk_size,
        chunk_count: plan.chunk_count(),
        status: session.status,
        received_chunks,
        received_bytes,
        filename: session.filename.clone(),
        content_type: session.content_type.clone(),
        expires_at: session
            .expires_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        file: file
            .filter(|_| complete)
            .map(|file| file_view(file, session.filename.as_deref())),
    }
}

/// Builds the file JSON of a published file, linked under `filename`.
pub fn file_view(file: &FileRecord, filename: Option<&str>) -> api::File {
    api::File {
        sha256: file.sha256.to_hex(),
        size: file.size,
        content_type: Some(served_content_type(file, filename)),
        url: api::file_url(&file.sha256.to_hex(), filename),
    }
}

/// The media type a file is served with: the one its upload gave, else one
/// guessed from `filename`, else `application/octet-stream`.
pub fn served_content_type(file: &FileRecord, filename: Option<&str>) -> String {
    file.content_type.clone().unwrap_or_else(|| {
        filename
            .and_then(|name| mime_guess::from_path(name).first_raw())
            .unwrap_or("application/octet-stream")
            .to_owned()
    })
}
