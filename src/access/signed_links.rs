//! Signed download links, checked at the origin: ferry's own scheme,
//! `?expires=<unix seconds>&signature=<hex HMAC-SHA256 of "path\nexpires">`,
//! and the CDN "type A" scheme, `?auth_key=<timestamp>-<rand>-<uid>-<md5>`
//! with `md5("path-timestamp-rand-uid-key")`, as Alibaba Cloud CDN and
//! Tencent Cloud CDN check it at their edge, so that one key serves both.
//! Signatures are compared in constant time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a download link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// Neither a signature nor an `auth_key`.
    #[error("the link carries no signature")]
    Missing,
    /// A signature or `auth_key` that cannot be read.
    #[error("the link's signature is malformed")]
    Malformed,
    /// The link's time is up.
    #[error("the link has expired")]
    Expired,
    /// The signature is not this path's.
    #[error("the link's signature does not match")]
    Mismatch,
}

impl LinkRefusal {
    /// A short stable name of the reason, for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            LinkRefusal::Missing => "missing",
            LinkRefusal::Malformed => "malformed",
            LinkRefusal::Expired => "expired",
            LinkRefusal::Mismatch => "mismatch",
        }
    }
}

/// The query parameters a signed link may carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignedQuery<'a> {
    /// ferry's scheme: when the link expires, in Unix seconds.
    pub expires: Option<&'a str>,
    /// ferry's scheme: the hex HMAC-SHA256.
    pub signature: Option<&'a str>,
    /// The CDN type A scheme: `timestamp-rand-uid-md5hash`.
    pub auth_key: Option<&'a str>,
}

/// Longest `rand` or `uid` part of a type A `auth_key` accepted.
const MAX_PART: usize = 100;

/// Signs and checks download links with one key.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    cdn_ttl: Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("cdn_ttl", &self.cdn_ttl)
            .finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// A signer with `key`; type A links hold for `cdn_ttl` after their timestamp.
    pub fn new(key: &[u8], cdn_ttl: Duration) -> Self {
        LinkSigner {
            key: key.to_vec(),
            cdn_ttl,
        }
    }

    /// `path?expires=…&signature=…`, valid for `ttl` from `now`.
    pub fn sign(&self, path: &str, ttl: Duration, now: SystemTime) -> String {
        let expires = seconds(now).saturating_add(ttl.as_secs());
        let signature = hex::encode(self.mac(path, expires).finalize().into_bytes());
        format!("{path}?expires={expires}&signature={signature}")
    }

    /// `path?auth_key=…` in the CDN type A scheme, stamped `now`.
    pub fn sign_type_a(&self, path: &str, rand: &str, uid: &str, now: SystemTime) -> String {
        let timestamp = seconds(now);
        let hash = self.type_a_hash(path, timestamp, rand, uid);
        format!("{path}?auth_key={timestamp}-{rand}-{uid}-{hash}")
    }

    /// Whether `query` opens `path` at `now`, by either scheme.
    pub fn verify(
        &self,
        path: &str,
        query: &SignedQuery<'_>,
        now: SystemTime,
    ) -> Result<(), LinkRefusal> {
        match (query.signature, query.expires, query.auth_key) {
            (Some(signature), Some(expires), _) => self.verify_own(path, signature, expires, now),
            (None, None, Some(auth_key)) => self.verify_type_a(path, auth_key, now),
            (None, None, None) => Err(LinkRefusal::Missing),
            _ => Err(LinkRefusal::Malformed),
        }
    }

    fn verify_own(
        &self,
        path: &str,
        signature: &str,
        expires: &str,
        now: SystemTime,
    ) -> Result<(), LinkRefusal> {
        let expires: u64 = whole_number(expires).ok_or(LinkRefusal::Malformed)?;
        let signature = hex::decode(signature).map_err(|_| LinkRefusal::Malformed)?;
        self.mac(path, expires)
            .verify_slice(&signature)
            .map_err(|_| LinkRefusal::Mismatch)?;
        if seconds(now) > expires {
            return Err(LinkRefusal::Expired);
        }
        Ok(())
    }

    fn verify_type_a(
        &self,
        path: &str,
        auth_key: &str,
        now: SystemTime,
    ) -> Result<(), LinkRefusal> {
        let mut parts = auth_key.split('-');
        let (Some(timestamp), Some(rand), Some(uid), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(LinkRefusal::Malformed);
        };
        let timestamp = whole_number(timestamp).ok_or(LinkRefusal::Malformed)?;
        let plain = |part: &str| {
            !part.is_empty()
                && part.len() <= MAX_PART
                && part.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !plain(rand) || !plain(uid) || hash.len() != 32 {
            return Err(LinkRefusal::Malformed);
        }
        let expected = self.type_a_hash(path, timestamp, rand, uid);
        if !bool::from(
            expected
                .as_bytes()
                .ct_eq(hash.to_ascii_lowercase().as_bytes()),
        ) {
            return Err(LinkRefusal::Mismatch);
        }
        if seconds(now) > timestamp.saturating_add(self.cdn_ttl.as_secs()) {
            return Err(LinkRefusal::Expired);
        }
        Ok(())
    }

    fn mac(&self, path: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    fn type_a_hash(&self, path: &str, timestamp: u64, rand: &str, uid: &str) -> String {
        let mut md5 = Md5::new();
        md5.update(format!("{path}-{timestamp}-{rand}-{uid}-").as_bytes());
        md5.update(&self.key);
        hex::encode(md5.finalize())
    }
}

/// Digits only, no sign, no leading `+`, fitting in a u64.
fn whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "signed_links_tests.rs"]
mod tests;
