//! The store's identity: a small object at the store's root,
//! `ferry-store.json`, holding the identity its database keeps too, so
//! that a database and a store that do not belong together are noticed
//! before either is trusted.

use bytes::Bytes;
use futures::StreamExt;
use object_store::PutPayload;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::{BlobError, BlobStore};

/// Where the identity is kept.
const IDENTITY: &str = "ferry-store.json";
/// The most bytes of it read: it is a few dozen.
const IDENTITY_MAX: u64 = 4096;

/// What the identity object holds.
#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    store_id: String,
}

impl BlobStore {
    /// The identity written in the store, if any.
    pub async fn identity(&self) -> Result<Option<String>, BlobError> {
        let read = self.store().get(&Path::from(IDENTITY)).await;
        let object = match read {
            Ok(object) => object,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        if object.meta.size > IDENTITY_MAX {
            return Err(unreadable(format!(
                "{IDENTITY} is over {IDENTITY_MAX} bytes"
            )));
        }
        let bytes = object.bytes().await?;
        let identity: Identity = serde_json::from_slice(&bytes)
            .map_err(|error| unreadable(format!("{IDENTITY} does not hold a store id: {error}")))?;
        Ok(Some(identity.store_id))
    }

    /// Writes `store_id` as the store's identity, replacing any.
    pub async fn write_identity(&self, store_id: &str) -> Result<(), BlobError> {
        let identity = Identity {
            store_id: store_id.to_owned(),
        };
        let mut json =
            serde_json::to_vec_pretty(&identity).map_err(|error| unreadable(error.to_string()))?;
        json.push(b'\n');
        self.store()
            .put(&Path::from(IDENTITY), PutPayload::from(Bytes::from(json)))
            .await?;
        Ok(())
    }

    /// Whether the store holds any file's bytes, published or not.
    pub async fn holds_files(&self) -> Result<bool, BlobError> {
        let mut listing = self.store().list(Some(&Path::from("files")));
        match listing.next().await {
            Some(Ok(_)) => Ok(true),
            Some(Err(error)) => Err(error.into()),
            None => Ok(false),
        }
    }
}

fn unreadable(message: String) -> BlobError {
    BlobError::io("identity", std::io::Error::other(message))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    fn store() -> BlobStore {
        BlobStore::new(Arc::new(InMemory::new()), 1 << 20)
    }

    #[tokio::test]
    async fn a_new_store_has_no_identity_until_one_is_written() {
        let blobs = store();
        assert_eq!(blobs.identity().await.unwrap(), None);
        blobs.write_identity("one").await.unwrap();
        assert_eq!(blobs.identity().await.unwrap().as_deref(), Some("one"));
        blobs.write_identity("two").await.unwrap();
        assert_eq!(blobs.identity().await.unwrap().as_deref(), Some("two"));
    }

    #[tokio::test]
    async fn an_identity_that_does_not_parse_is_an_error_not_an_absence() {
        let blobs = store();
        blobs
            .store()
            .put(&Path::from(IDENTITY), PutPayload::from_static(b"{}"))
            .await
            .unwrap();
        assert!(blobs.identity().await.is_err());
    }
}
