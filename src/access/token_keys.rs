//! Loading the keys tokens are verified with: a shared HS256 secret, a PEM
//! public key (RSA, EC or Ed25519), and the keys of a JWKS file.

use std::path::Path;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

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
            key: DecodingKey::from_secret(secret),
        });
    }
    if let Some(path) = public_key_pem {
        let pem = read(path)?;
        let key = DecodingKey::from_rsa_pem(&pem)
            .or_else(|_| DecodingKey::from_ec_pem(&pem))
            .or_else(|_| DecodingKey::from_ed_pem(&pem))
            .map_err(|_| {
                KeyError(format!(
                    "{} holds no RSA, EC or Ed25519 public key in PEM",
                    path.display()
                ))
            })?;
        keys.push(VerifyingKey { kid: None, key });
    }
    if let Some(path) = jwks {
        let set: JwkSet = serde_json::from_slice(&read(path)?)
            .map_err(|e| KeyError(format!("{} is not a JWKS document: {e}", path.display())))?;
        for jwk in &set.keys {
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| KeyError(format!("a key of {} cannot verify: {e}", path.display())))?;
            keys.push(VerifyingKey {
                kid: jwk.common.key_id.clone(),
                key,
            });
        }
    }
    Ok(keys)
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError(format!("reading {}: {e}", path.display())))
}
