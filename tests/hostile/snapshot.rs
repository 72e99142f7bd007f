//! What the server holds, to compare before and after a hostile request:
//! every session with its chunks, the published files, and every object
//! key in the store.

use chrono::{Duration, Utc};
use ferry::ids::{ObjectKey, OwnerId};
use ferry::meta::{Chunk, FileRecord, OwnedFile, Session};
use ferry_proto::ContentHash;

use crate::helpers::TestApp;

/// The meta store's rows and the store's keys at one moment.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Every session, in any state, with its recorded chunks.
    pub sessions: Vec<(Session, Vec<Chunk>)>,
    /// The published files among `candidates`, and whether each stored
    /// object is a published file's.
    pub files: Vec<FileRecord>,
    pub keys: Vec<(String, bool)>,
    /// The files the anonymous owner holds.
    pub held: Vec<OwnedFile>,
}

/// Takes a snapshot of `app`. The meta store lists sessions but not files,
/// so files are looked up by the `candidates` hashes a test may touch, and
/// every stored object is asked whether a file points at it.
pub async fn take(app: &TestApp, candidates: &[ContentHash]) -> Snapshot {
    // Far enough ahead that every session has expired by then, and every
    // merge lease has run out: the two queries then list every session.
    let far = Utc::now() + Duration::days(365 * 100);
    let meta = &app.meta;
    let mut sessions = meta
        .expired_sessions(far, u32::MAX)
        .await
        .expect("sessions listed");
    sessions.extend(meta.stalled_merges(far).await.expect("merges listed"));
    sessions.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let mut with_chunks = Vec::new();
    for session in sessions {
        let mut chunks = meta.chunks(&session.id).await.expect("chunks listed");
        chunks.sort_by_key(|chunk| chunk.index);
        with_chunks.push((session, chunks));
    }
    let mut files = Vec::new();
    for hash in candidates {
        if let Some(file) = meta.find_file(hash).await.expect("a file looked up") {
            files.push(file);
        }
    }
    let mut keys = Vec::new();
    for key in app.stored_keys().await {
        let object_key = ObjectKey::parse(key.clone()).expect("a stored key parses");
        let published = meta
            .object_key_in_use(&object_key)
            .await
            .expect("a key looked up");
        keys.push((key, published));
    }
    let held = meta
        .held_files(&OwnerId::anonymous(), None, 1000)
        .await
        .expect("held files listed");
    Snapshot {
        sessions: with_chunks,
        files,
        keys,
        held,
    }
}

impl Snapshot {
    /// One line per row and per key.
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (session, chunks) in &self.sessions {
            lines.push(format!(
                "session {} of {} {}: {} bytes in chunks of {}, {:?}, name {:?}, type {:?}, until {}",
                session.id.as_str(),
                session.owner.as_str(),
                session.sha256,
                session.size,
                session.chunk_size,
                session.status,
                session.filename,
                session.content_type,
                session.expires_at
            ));
            for chunk in chunks {
                lines.push(format!(
                    "chunk {} of {}: {} bytes, {}, at {}",
                    chunk.index,
                    session.id.as_str(),
                    chunk.size,
                    chunk.sha256,
                    chunk.object_key.as_str()
                ));
            }
        }
        for file in &self.files {
            lines.push(format!(
                "file {}: {} bytes, {:?}, at {}, since {}",
                file.sha256,
                file.size,
                file.content_type,
                file.object_key.as_str(),
                file.published_at
            ));
        }
        for (key, published) in &self.keys {
            lines.push(format!("object {key}, published: {published}"));
        }
        for held in &self.held {
            lines.push(format!("held {:?}", held.reference));
        }
        lines
    }

    /// What `after` has that this has not (`+`), and the reverse (`-`).
    pub fn diff(&self, after: &Snapshot) -> String {
        let (before, after) = (self.lines(), after.lines());
        let gone = before.iter().filter(|line| !after.contains(line));
        let new = after.iter().filter(|line| !before.contains(line));
        gone.map(|line| format!("  - {line}"))
            .chain(new.map(|line| format!("  + {line}")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
