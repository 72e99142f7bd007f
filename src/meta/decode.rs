//! Reading stored rows back into the store's types, once for every driver:
//! sqlx's rows of either database and the SQLite fast path's rusqlite rows
//! all implement [`Columns`], and every decoder here takes any of them.

use chrono::{DateTime, Utc};
use ferry_proto::{ContentHash, FileName, MediaType, UploadStatus};

use super::chunk_bits;
use super::{Chunk, FileRecord, HashLink, MergeLease, OwnerUsage, ReceivedChunks, Session};
use crate::ids::{ObjectKey, OwnerId, UploadId, WriteToken};
use crate::running_hash::RunningSha256;

/// A row as a driver hands it back, its columns read by name; each engine
/// says how its rows hold a time.
pub trait Columns {
    /// The text in `column`, or `None` for NULL.
    fn text_or_null(&self, column: &str) -> Result<Option<String>, sqlx::Error>;

    /// The integer in `column`, or `None` for NULL.
    fn integer_or_null(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;

    /// The bytes in `column`, or `None` for NULL.
    fn bytes_or_null(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;

    /// The time in `column`, or `None` for NULL.
    fn time_or_null(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;

    /// The text in `column`, which must not be NULL.
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.text_or_null(column)?.ok_or_else(|| null_in(column))
    }

    /// The integer in `column`, which must not be NULL.
    fn integer(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.integer_or_null(column)?.ok_or_else(|| null_in(column))
    }

    /// The time in `column`, which must not be NULL.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.time_or_null(column)?.ok_or_else(|| null_in(column))
    }
}

fn null_in(column: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: "NULL in a column that must hold a value".into(),
    }
}

/// The session in a row of `uploads` (its columns `id`, `owner`, `sha256`,
/// `size`, `chunk_size`, `filename`, `content_type`, `status`, `expires_at`).
pub(crate) fn session<R: Columns + ?Sized>(row: &R) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: decoded(UploadId::parse(row.text("id")?))?,
        owner: decoded(OwnerId::parse(row.text("owner")?))?,
        sha256: decoded(ContentHash::parse(&row.text("sha256")?))?,
        size: to_u64(row.integer("size")?)?,
        chunk_size: to_u64(row.integer("chunk_size")?)?,
        filename: row
            .text_or_null("filename")?
            .map(|name| decoded(FileName::parse(name)))
            .transpose()?,
        content_type: media_type(row.text_or_null("content_type")?)?,
        status: parse_status(row.text("status")?)?,
        expires_at: row.time("expires_at")?,
    })
}

/// What a session row's bits (its columns `size`, `chunk_size`,
/// `received`) say it received; `None` for a row that keeps no bits, made
/// before they were kept, whose chunks are counted in SQL instead.
pub(crate) fn received_bits<R: Columns + ?Sized>(
    row: &R,
) -> Result<Option<ReceivedChunks>, sqlx::Error> {
    let Some(bits) = row.bytes_or_null("received")? else {
        return Ok(None);
    };
    Ok(Some(chunk_bits::summed_up(
        &bits,
        to_u64(row.integer("size")?)?,
        to_u64(row.integer("chunk_size")?)?,
    )))
}

/// The chunk in a row of `chunks`, with its hash link when both states
/// are there.
pub(crate) fn chunk<R: Columns + ?Sized>(row: &R) -> Result<Chunk, sqlx::Error> {
    Ok(Chunk {
        index: to_u64(row.integer("idx")?)?,
        size: to_u64(row.integer("size")?)?,
        sha256: decoded(ContentHash::parse(&row.text("sha256")?))?,
        object_key: decoded(ObjectKey::parse(row.text("object_key")?))?,
        link: hash_link(row)?,
    })
}

fn hash_link<R: Columns + ?Sized>(row: &R) -> Result<Option<HashLink>, sqlx::Error> {
    let before = row.bytes_or_null("hash_before")?;
    let after = row.bytes_or_null("hash_after")?;
    let (Some(before), Some(after)) = (before, after) else {
        return Ok(None);
    };
    let state = |bytes: &[u8]| {
        RunningSha256::from_bytes(bytes)
            .ok_or_else(|| sqlx::Error::Decode("a stored hash state does not decode".into()))
    };
    Ok(Some(HashLink {
        before: state(&before)?,
        after: state(&after)?,
    }))
}

/// The published file in a row of `files`.
pub(crate) fn file<R: Columns + ?Sized>(row: &R) -> Result<FileRecord, sqlx::Error> {
    Ok(FileRecord {
        sha256: decoded(ContentHash::parse(&row.text("sha256")?))?,
        size: to_u64(row.integer("size")?)?,
        content_type: media_type(row.text_or_null("content_type")?)?,
        object_key: decoded(ObjectKey::parse(row.text("object_key")?))?,
        part_size: row.integer_or_null("part_size")?.map(to_u64).transpose()?,
        published_at: row.time("published_at")?,
    })
}

/// The merge lease in a row of `merges`.
pub(crate) fn lease<R: Columns + ?Sized>(row: &R) -> Result<MergeLease, sqlx::Error> {
    Ok(MergeLease {
        sha256: decoded(ContentHash::parse(&row.text("sha256")?))?,
        upload_id: decoded(UploadId::parse(row.text("upload_id")?))?,
        token: decoded(WriteToken::parse(row.text("token")?))?,
        object_key: decoded(ObjectKey::parse(row.text("object_key")?))?,
        lease_until: row.time("lease_until")?,
    })
}

/// An owner's usage in a row of the columns `n` (sessions) and `bytes`.
pub(crate) fn usage<R: Columns + ?Sized>(row: &R) -> Result<OwnerUsage, sqlx::Error> {
    Ok(OwnerUsage {
        sessions: to_u64(row.integer("n")?)?,
        bytes: to_u64(row.integer("bytes")?)?,
    })
}

/// The object key in `column`, if it is not NULL.
pub(crate) fn object_key_or_null<R: Columns + ?Sized>(
    row: &R,
    column: &str,
) -> Result<Option<ObjectKey>, sqlx::Error> {
    row.text_or_null(column)?
        .map(|key| decoded(ObjectKey::parse(key)))
        .transpose()
}

pub(crate) fn media_type(value: Option<String>) -> Result<Option<MediaType>, sqlx::Error> {
    value
        .map(|value| decoded(MediaType::parse(value)))
        .transpose()
}

/// Turns a stored value that fails its own check into a decode error.
pub(crate) fn decoded<T, E>(parsed: Result<T, E>) -> Result<T, sqlx::Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    parsed.map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// The upload status a `status` column names.
pub(crate) fn parse_status(text: String) -> Result<UploadStatus, sqlx::Error> {
    UploadStatus::parse(&text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown upload status {text:?}").into()))
}

/// A stored count or size, which is never negative.
pub(crate) fn to_u64(value: i64) -> Result<u64, sqlx::Error> {
    decoded(u64::try_from(value))
}

/// A count or size as the databases store it, saturating at `i64::MAX`.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The content hash stored as `text`.
pub(crate) fn hash(text: &str) -> Result<ContentHash, sqlx::Error> {
    decoded(ContentHash::parse(text))
}

/// The owner stored as `text`.
pub(crate) fn owner(text: &str) -> Result<OwnerId, sqlx::Error> {
    decoded(OwnerId::parse(text))
}

/// The file name stored as `value`, if any.
pub(crate) fn file_name(value: Option<String>) -> Result<Option<FileName>, sqlx::Error> {
    value
        .map(|value| decoded(FileName::parse(value)))
        .transpose()
}
