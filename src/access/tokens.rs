//! Bearer tokens: a JWT whose `sub` claim names the owner of the request.
//!
//! HS256 with a shared secret, or RS256, ES256/ES384 and EdDSA with public
//! keys from PEM files or a JWKS file, chosen by the token's `kid`. Each key
//! verifies one algorithm only (RFC 8725 §3.1), so neither a public key used
//! as an HMAC secret nor another hash or padding with the same key lets a
//! token in. A `crit` header is refused, as ferry understands no extension
//! (RFC 7515 §4.1.11), and so is a `sub` of `anonymous`, the owner of every
//! request while authentication is off. `exp` is required; `nbf` and `iat`
//! are checked with a small leeway; `aud` and `iss` when configured.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ids::OwnerId;

/// Why a request's token was refused; the reason is logged and counted,
/// never told in detail to the client beyond the contract's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer` header.
    #[error("the request carries no bearer token")]
    Missing,
    /// Not a JWT, or a header or claims that do not decode.
    #[error("the token is malformed")]
    Malformed,
    /// An algorithm no configured key verifies (including `none`), or
    /// another than the one of the key the token names.
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    /// A `kid` no configured key carries.
    #[error("the token names a key this server does not know")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before its `nbf`, or issued in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Another audience than this server's.
    #[error("the token is for another audience")]
    Audience,
    /// Another issuer than the one this server trusts.
    #[error("the token is from another issuer")]
    Issuer,
    /// A `sub` that cannot name an owner, names `anonymous`, or none.
    #[error("the token's subject is missing or not a usable owner")]
    Subject,
    /// A `crit` header: it names extensions this server does not understand.
    #[error("the token's header names critical extensions")]
    Critical,
}

impl TokenRefusal {
    /// A short stable name of the reason, for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            TokenRefusal::Missing => "missing",
            TokenRefusal::Malformed => "malformed",
            TokenRefusal::Algorithm => "algorithm",
            TokenRefusal::UnknownKey => "unknown-key",
            TokenRefusal::Signature => "signature",
            TokenRefusal::Expired => "expired",
            TokenRefusal::NotYetValid => "not-yet-valid",
            TokenRefusal::Audience => "audience",
            TokenRefusal::Issuer => "issuer",
            TokenRefusal::Subject => "subject",
            TokenRefusal::Critical => "critical-header",
        }
    }
}

/// One key a token may be verified with.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The `kid` it is published under, if any.
    pub kid: Option<String>,
    /// The one algorithm it verifies.
    pub algorithm: Algorithm,
    /// The key itself.
    pub key: DecodingKey,
}

/// Checks bearer tokens and names their owner.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Vec<VerifyingKey>,
    audience: Option<String>,
    issuer: Option<String>,
    leeway: Duration,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("keys", &self.keys.len())
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// The claims ferry reads.
#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    sub: Option<String>,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

impl TokenVerifier {
    /// A verifier over `keys`, expecting `audience` and `issuer` when given.
    pub fn new(
        keys: Vec<VerifyingKey>,
        audience: Option<String>,
        issuer: Option<String>,
        leeway: Duration,
    ) -> Self {
        TokenVerifier {
            keys,
            audience,
            issuer,
            leeway,
        }
    }

    /// The owner a token names, if the token holds now.
    pub fn verify(&self, token: &str) -> Result<OwnerId, TokenRefusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRefusal::Malformed)?;
        if header.crit.is_some() {
            return Err(TokenRefusal::Critical);
        }
        let key = self.key_for(&header)?;
        let validation = self.validation(key.algorithm);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|error| refusal(error.kind()))?;
        let claims = data.claims;
        let latest_issue = seconds(SystemTime::now()).saturating_add(self.leeway.as_secs());
        if claims.iat.is_some_and(|issued| issued > latest_issue) {
            return Err(TokenRefusal::NotYetValid);
        }
        let subject = claims.sub.ok_or(TokenRefusal::Subject)?;
        let owner = OwnerId::parse(subject).map_err(|_| TokenRefusal::Subject)?;
        if owner == OwnerId::anonymous() {
            return Err(TokenRefusal::Subject);
        }
        Ok(owner)
    }

    /// The key that verifies a token with `header`: the one its `kid` names,
    /// else the only one of its algorithm; a key verifies its own algorithm only.
    fn key_for(&self, header: &Header) -> Result<&VerifyingKey, TokenRefusal> {
        match &header.kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|key| key.kid.as_deref() == Some(kid.as_str()))
                    .peekable();
                named.peek().ok_or(TokenRefusal::UnknownKey)?;
                named
                    .find(|key| key.algorithm == header.alg)
                    .ok_or(TokenRefusal::Algorithm)
            }
            None => {
                let mut candidates = self.keys.iter().filter(|key| key.algorithm == header.alg);
                let first = candidates.next().ok_or(TokenRefusal::Algorithm)?;
                match candidates.next() {
                    Some(_) => Err(TokenRefusal::UnknownKey),
                    None => Ok(first),
                }
            }
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        validation
    }
}

/// Signs an HS256 token for `subject` that expires after `ttl`: what
/// `ferryd token` prints, for local use and tests.
pub fn issue_hs256(secret: &[u8], subject: &str, ttl: Duration, now: SystemTime) -> String {
    let issued = seconds(now);
    let claims = Claims {
        sub: Some(subject.to_owned()),
        exp: issued.saturating_add(ttl.as_secs()),
        iat: Some(issued),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_else(|error| unreachable!("HS256 signing cannot fail: {error}"))
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn refusal(kind: &ErrorKind) -> TokenRefusal {
    match kind {
        ErrorKind::InvalidSignature => TokenRefusal::Signature,
        ErrorKind::ExpiredSignature => TokenRefusal::Expired,
        ErrorKind::ImmatureSignature => TokenRefusal::NotYetValid,
        ErrorKind::InvalidAudience => TokenRefusal::Audience,
        ErrorKind::InvalidIssuer => TokenRefusal::Issuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => TokenRefusal::Algorithm,
        ErrorKind::MissingRequiredClaim(claim) if claim == "sub" => TokenRefusal::Subject,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenRefusal::Audience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenRefusal::Issuer,
        _ => TokenRefusal::Malformed,
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
