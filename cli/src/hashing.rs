//! SHA-256 of files, streamed, and of chunks, as the API names them.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::sync_channel;

use ferry_proto::ContentHash;
use sha2::{Digest, Sha256};

/// Bytes read at once while hashing a file.
const BLOCK: usize = 1 << 20;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The `Content-Digest` value of a chunk: `sha-256=:<base64>:` (RFC 9530).
pub fn content_digest(bytes: &[u8]) -> String {
    ferry_proto::content_digest(&ContentHash::from_digest(Sha256::digest(bytes).into()))
}

/// Feeds the first `limit` bytes of `reader` (or all of it) into `hasher`,
/// a block at a time, telling `on_progress` how many bytes each block held.
/// Answers how many bytes were hashed.
pub fn hash_reader(
    reader: &mut impl Read,
    hasher: &mut Sha256,
    limit: Option<u64>,
    mut on_progress: impl FnMut(u64),
) -> io::Result<u64> {
    let mut block = vec![0; BLOCK];
    let mut hashed = 0u64;
    loop {
        let want = limit.map_or(BLOCK, |limit| {
            usize::try_from(limit - hashed).map_or(BLOCK, |left| left.min(BLOCK))
        });
        if want == 0 {
            return Ok(hashed);
        }
        let read = match reader.read(&mut block[..want]) {
            Ok(0) => return Ok(hashed),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&block[..read]);
        hashed += read as u64;
        on_progress(read as u64);
    }
}

/// Hashes a file from where its cursor stands to its end, streamed; answers
/// its hex SHA-256 and how many bytes were hashed.
pub fn hash_file(mut file: &File, on_progress: impl FnMut(u64)) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let size = hash_reader(&mut file, &mut hasher, None, on_progress)?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Hashes a file from where its cursor stands to its end, as [`hash_file`]
/// does, and on a second thread the SHA-256 of each `chunk_size` piece of
/// it, so that its chunks need no hashing of their own when they are sent.
/// Answers the hex SHA-256, how many bytes were hashed and the chunks'
/// hashes in order.
pub fn hash_file_and_chunks(
    mut file: &File,
    chunk_size: u64,
    mut on_progress: impl FnMut(u64),
) -> io::Result<(String, u64, Vec<ContentHash>)> {
    let chunk_size = chunk_size.max(1);
    std::thread::scope(|scope| {
        let (blocks, received) = sync_channel::<Vec<u8>>(2);
        let chunks = scope.spawn(move || {
            let mut digests = Vec::new();
            let mut hasher = Sha256::new();
            let mut filled = 0u64;
            for block in received {
                let mut rest = &block[..];
                while !rest.is_empty() {
                    let take = rest
                        .len()
                        .min(usize::try_from(chunk_size - filled).unwrap_or(usize::MAX));
                    hasher.update(&rest[..take]);
                    filled += take as u64;
                    rest = &rest[take..];
                    if filled == chunk_size {
                        digests.push(digest_of(&mut hasher));
                        filled = 0;
                    }
                }
            }
            if filled > 0 {
                digests.push(digest_of(&mut hasher));
            }
            digests
        });
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            let mut block = vec![0; BLOCK];
            let read = match file.read(&mut block) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            block.truncate(read);
            hasher.update(&block);
            size += read as u64;
            on_progress(read as u64);
            if blocks.send(block).is_err() {
                break;
            }
        }
        drop(blocks);
        let digests = chunks
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((hex::encode(hasher.finalize()), size, digests))
    })
}

/// The SHA-256 of what `hasher` took in, which starts over.
fn digest_of(hasher: &mut Sha256) -> ContentHash {
    ContentHash::from_digest(hasher.finalize_reset().into())
}

/// Reads exactly `buf.len()` bytes at `offset` without moving a shared cursor.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            match std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], at) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(read) => done += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    #[test]
    fn the_content_digest_of_nothing_is_the_rfc_example() {
        assert_eq!(
            content_digest(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn a_file_hashed_in_blocks_hashes_as_a_whole() {
        let mut file = tempfile::tempfile().expect("temp file");
        let bytes: Vec<u8> = (0..BLOCK * 2 + 17).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).expect("write");
        file.rewind().expect("rewind");
        let mut seen = 0;
        let (hash, size) = hash_file(&file, |n| seen += n).expect("hash");
        assert_eq!(hash, sha256_hex(&bytes));
        assert_eq!((size, seen), (bytes.len() as u64, bytes.len() as u64));
    }

    #[test]
    fn chunk_digests_computed_beside_the_file_hash_are_each_chunks_own() {
        let bytes: Vec<u8> = (0..BLOCK * 2 + 17).map(|i| (i % 251) as u8).collect();
        for chunk_size in [BLOCK as u64, 1000, BLOCK as u64 * 3] {
            let mut file = tempfile::tempfile().expect("temp file");
            file.write_all(&bytes).expect("write");
            file.rewind().expect("rewind");
            let (hash, size, digests) =
                hash_file_and_chunks(&file, chunk_size, |_| {}).expect("hash");
            assert_eq!((hash, size), (sha256_hex(&bytes), bytes.len() as u64));
            let expected: Vec<ContentHash> = bytes
                .chunks(chunk_size as usize)
                .map(|chunk| ContentHash::from_digest(Sha256::digest(chunk).into()))
                .collect();
            assert_eq!(digests, expected, "chunks of {chunk_size}");
        }
        let empty = tempfile::tempfile().expect("temp file");
        let (_, size, digests) = hash_file_and_chunks(&empty, 1000, |_| {}).expect("hash");
        assert_eq!((size, digests.len()), (0, 0));
    }

    #[test]
    fn a_limited_hash_stops_at_the_limit() {
        let mut reader: &[u8] = b"hello world";
        let mut hasher = Sha256::new();
        let hashed = hash_reader(&mut reader, &mut hasher, Some(5), |_| {}).expect("hash");
        assert_eq!(hashed, 5);
        assert_eq!(hex::encode(hasher.finalize()), sha256_hex(b"hello"));
    }

    #[test]
    fn a_positioned_read_takes_the_bytes_at_its_offset() {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(b"0123456789").expect("write");
        let mut buf = [0; 3];
        read_exact_at(&file, &mut buf, 4).expect("read");
        assert_eq!(&buf, b"456");
        assert!(read_exact_at(&file, &mut buf, 9).is_err());
    }
}
