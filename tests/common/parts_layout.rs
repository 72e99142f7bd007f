//! Files published the way ferry published merged uploads before each file
//! became one object: the chunks staged, copied by the store as the parts
//! `files/<sha256>/<token>/<index>` of the file with `copy_parts`, the
//! chunks deleted, and the row naming the folder with its part size.

use bytes::Bytes;
use chrono::{SubsecRound, Utc};
use ferry::blob::BlobStore;
use ferry::ids::{ObjectKey, UploadId, WriteToken};
use ferry::meta::{FileRecord, MetaStore, Published};
use ferry_proto::{ContentHash, MediaType};
use sha2::{Digest, Sha256};

/// Publishes `data` in parts of `chunk` bytes, as a merge did before;
/// answers the file's row.
pub async fn publish_in_parts(
    meta: &dyn MetaStore,
    blobs: &BlobStore,
    data: &[u8],
    chunk: usize,
    content_type: Option<&str>,
) -> FileRecord {
    let upload = UploadId::generate();
    let mut staged = Vec::new();
    for (index, piece) in data.chunks(chunk).enumerate() {
        let key = BlobStore::chunk_key(&upload, index as u64, &WriteToken::generate());
        let bytes = Bytes::copy_from_slice(piece);
        let source = futures::stream::iter([Ok::<_, std::io::Error>(bytes)]);
        blobs
            .write(&key, source, u64::MAX)
            .await
            .expect("a staged chunk");
        staged.push(key);
    }
    let sha256 = ContentHash::from_digest(Sha256::digest(data).into());
    let key = ObjectKey::parse(format!("files/{sha256}/{}", WriteToken::generate())).unwrap();
    blobs.copy_parts(&staged, &key).await.expect("the parts");
    blobs
        .delete_prefix(&BlobStore::chunks_prefix(&upload))
        .await
        .expect("the chunks deleted");
    let file = FileRecord {
        sha256,
        size: data.len() as u64,
        content_type: content_type.map(|media| MediaType::parse(media).unwrap()),
        object_key: key,
        part_size: Some(chunk as u64),
        published_at: Utc::now().trunc_subsecs(0),
    };
    let published = meta.insert_file(&file).await.expect("the row");
    assert!(matches!(published, Published::Now(_)), "{published:?}");
    file
}
