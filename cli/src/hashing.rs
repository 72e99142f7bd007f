//! SHA-256 of files, streamed, and of chunks, as the API names them.

use std::fs::File;
use std::io::{self, Read};

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
