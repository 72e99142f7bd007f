//! Multipart uploads in a bucket that no note names: a process killed
//! between starting one and noting it leaves such an upload, which only a
//! listing of the bucket's uploads (ListMultipartUploads) finds.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;

use super::s3_requests::{Body, Request, RequestError, parse};
use super::tracked::TrackedBucket;

/// Where ferry starts multipart uploads, under the prefix: staged chunks
/// and files. Uploads elsewhere in the bucket are not ferry's.
const UPLOADING_UNDER: [&str; 2] = ["chunks/", "files/"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_key_marker: Option<String>,
    #[serde(default)]
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<Listed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    key: String,
    upload_id: String,
    initiated: DateTime<Utc>,
}

/// A multipart upload found by listing the bucket.
#[derive(Debug, Clone)]
pub(super) struct ListedUpload {
    /// Its key, under the prefix.
    pub(super) key: String,
    /// Its id in the bucket.
    pub(super) upload_id: String,
    /// When it was started.
    pub(super) initiated: DateTime<Utc>,
}

impl TrackedBucket {
    /// Every multipart upload under way in the places ferry writes to.
    pub(super) async fn listed_uploads(&self) -> Result<Vec<ListedUpload>, RequestError> {
        let root = if self.prefix.as_ref().is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut found = Vec::new();
        for under in UPLOADING_UNDER {
            let prefix = format!("{root}{under}");
            let mut markers: Option<(String, String)> = None;
            loop {
                let mut query = vec![("uploads", String::new()), ("prefix", prefix.clone())];
                if let Some((key, upload_id)) = &markers {
                    query.push(("key-marker", key.clone()));
                    query.push(("upload-id-marker", upload_id.clone()));
                }
                let answer = self
                    .requests
                    .send_retrying(|| Request {
                        method: Method::GET,
                        key: None,
                        query: query.clone(),
                        headers: Vec::new(),
                        body: Body::Bytes(Bytes::new()),
                        copies: false,
                    })
                    .await?;
                let listing: Listing = parse(&answer.body)?;
                found.extend(listing.uploads.into_iter().filter_map(|upload| {
                    Some(ListedUpload {
                        key: upload.key.strip_prefix(&root)?.to_owned(),
                        upload_id: upload.upload_id,
                        initiated: upload.initiated,
                    })
                }));
                match (
                    listing.is_truncated,
                    listing.next_key_marker,
                    listing.next_upload_id_marker,
                ) {
                    (true, Some(key), Some(upload_id)) => markers = Some((key, upload_id)),
                    _ => break,
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_of_uploads_reads_back() {
        let body = Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
            <NextKeyMarker>p/files/b</NextKeyMarker><NextUploadIdMarker>2</NextUploadIdMarker>\
            <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>\
            <Upload><Key>p/files/a</Key><UploadId>1</UploadId>\
            <Initiator><ID>x</ID></Initiator><StorageClass>STANDARD</StorageClass>\
            <Initiated>2026-01-02T03:04:05.000Z</Initiated></Upload>\
            <Upload><Key>p/files/b</Key><UploadId>2</UploadId>\
            <Initiated>2026-01-02T03:04:06.000Z</Initiated></Upload>\
            </ListMultipartUploadsResult>",
        );
        let listing: Listing = parse(&body).unwrap();
        assert!(listing.is_truncated);
        assert_eq!(listing.next_upload_id_marker.as_deref(), Some("2"));
        let keys: Vec<_> = listing.uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["p/files/a", "p/files/b"]);
        assert_eq!(listing.uploads[1].upload_id, "2");
    }
}
