//! Loading the keys tokens are verified with: a shared HS256 secret, a PEM
//! public key (RSA, EC or Ed25519), and the keys of a JWKS file.
//!
//! Each key verifies one algorithm (RFC 8725 §3.1): the secret HS256; a PEM
//! key the one of its type, RS256 for RSA, ES256 or ES384 by the curve of an
//! EC key, EdDSA for Ed25519; a JWK the `alg` it names, or without one the
//! algorithm its type would have as a PEM key (HS256 for `oct`). A JWK that
//! is not for verifying signatures (`use` other than `sig`, `key_ops`
//! without `verify`, or an `alg` ferry does not verify with) is left out.

use std::path::Path;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

use super::tokens::VerifyingKey;

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Every key the settings name; empty when authentication is off.
pub fn load_keys(
    secret: Option<&[u8]>,
    public_key_pem: Option<&Path>,
    jwks: Option<&Path>,
) -> Result<Vec<VerifyingKey>, KeyError> {
    let mut keys = Vec::new();
    if let Some(secret) = secret {
        if secret.len() < 32 {
            return Err(KeyError(
                "the JWT secret must be at least 32 bytes".to_owned(),
            ));
        }
        keys.push(VerifyingKey {
            kid: None,
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret),
        });
    }
    if let Some(path) = public_key_pem {
        keys.push(pem_key(path)?);
    }
    if let Some(path) = jwks {
        keys.extend(jwks_keys(path)?);
    }
    Ok(keys)
}

fn pem_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = read(path)?;
    let (key, algorithm) = if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        (key, Some(Algorithm::RS256))
    } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        let algorithm = ec_point_algorithm(&key);
        (key, algorithm)
    } else if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
        (key, Some(Algorithm::EdDSA))
    } else {
        return Err(KeyError(format!(
            "{} holds no RSA, EC or Ed25519 public key in PEM",
            path.display()
        )));
    };
    let algorithm = algorithm.ok_or_else(|| {
        KeyError(format!(
            "{} holds an EC key on a curve other than P-256 or P-384",
            path.display()
        ))
    })?;
    Ok(VerifyingKey {
        kid: None,
        algorithm,
        key,
    })
}

/// ES256 for a point on P-256, ES384 for one on P-384, told by its length.
fn ec_point_algorithm(key: &DecodingKey) -> Option<Algorithm> {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(point) => match point.len() {
            33 | 65 => Some(Algorithm::ES256),
            49 | 97 => Some(Algorithm::ES384),
            _ => None,
        },
        DecodingKeyKind::RsaModulusExponent { .. } => None,
    }
}

fn jwks_keys(path: &Path) -> Result<Vec<VerifyingKey>, KeyError> {
    let set: JwkSet = serde_json::from_slice(&read(path)?)
        .map_err(|e| KeyError(format!("{} is not a JWKS document: {e}", path.display())))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone();
        let refused = |reason: String| {
            let name = kid.as_deref().unwrap_or("without a kid");
            KeyError(format!("the key {name} of {}: {reason}", path.display()))
        };
        let Some(algorithm) = jwk_algorithm(jwk).map_err(refused)? else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| refused(format!("cannot verify: {e}")))?;
        keys.push(VerifyingKey {
            kid,
            algorithm,
            key,
        });
    }
    if keys.is_empty() {
        return Err(KeyError(format!(
            "{} holds no key for verifying signatures",
            path.display()
        )));
    }
    Ok(keys)
}

/// The one algorithm `jwk` verifies, or `None` when it is not a key for
/// verifying signatures ferry can check.
fn jwk_algorithm(jwk: &Jwk) -> Result<Option<Algorithm>, String> {
    let common = &jwk.common;
    let for_signatures = common
        .public_key_use
        .as_ref()
        .is_none_or(|usage| *usage == PublicKeyUse::Signature)
        && common
            .key_operations
            .as_ref()
            .is_none_or(|operations| operations.contains(&KeyOperations::Verify));
    if !for_signatures {
        return Ok(None);
    }
    let Some(named) = common.key_algorithm else {
        return Ok(type_algorithm(&jwk.algorithm));
    };
    let Some(algorithm) = signature_algorithm(named) else {
        return Ok(None);
    };
    if fits(algorithm, &jwk.algorithm) {
        Ok(Some(algorithm))
    } else {
        Err(format!("its alg {algorithm:?} does not fit its key type"))
    }
}

/// The algorithm a key of this type verifies when nothing names one.
fn type_algorithm(parameters: &AlgorithmParameters) -> Option<Algorithm> {
    match parameters {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::OctetKey(_) => Some(Algorithm::HS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            EllipticCurve::P521 | EllipticCurve::Ed25519 => None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => {
            (okp.curve == EllipticCurve::Ed25519).then_some(Algorithm::EdDSA)
        }
    }
}

/// Whether a key of this type can verify `algorithm`.
fn fits(algorithm: Algorithm, parameters: &AlgorithmParameters) -> bool {
    match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            matches!(parameters, AlgorithmParameters::OctetKey(_))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => matches!(parameters, AlgorithmParameters::RSA(_)),
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::EdDSA => {
            type_algorithm(parameters) == Some(algorithm)
        }
    }
}

/// The signature algorithm a JWK's `alg` names, if ferry verifies it.
fn signature_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    match named {
        KeyAlgorithm::HS256 => Some(Algorithm::HS256),
        KeyAlgorithm::HS384 => Some(Algorithm::HS384),
        KeyAlgorithm::HS512 => Some(Algorithm::HS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        KeyAlgorithm::RSA1_5
        | KeyAlgorithm::RSA_OAEP
        | KeyAlgorithm::RSA_OAEP_256
        | KeyAlgorithm::UNKNOWN_ALGORITHM => None,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError(format!("reading {}: {e}", path.display())))
}

#[cfg(test)]
#[path = "token_keys_tests.rs"]
mod tests;
