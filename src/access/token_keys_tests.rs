use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys")).join(name)
}

/// The fixture JWKS's keys, with `changes` applied to each.
fn fixture_keys(changes: Value) -> Vec<Value> {
    let set: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/keys/jwks.json")).unwrap();
    let mut keys = set["keys"].as_array().unwrap().clone();
    for key in &mut keys {
        for (name, value) in changes.as_object().unwrap() {
            key.as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone());
        }
    }
    keys
}

fn load_jwks(keys: Vec<Value>) -> Result<Vec<VerifyingKey>, KeyError> {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), json!({ "keys": keys }).to_string()).expect("the JWKS written");
    load_keys(None, None, Some(file.path()))
}

fn algorithms(keys: &[VerifyingKey]) -> Vec<Algorithm> {
    keys.iter().map(|key| key.algorithm).collect()
}

#[test]
fn each_configured_key_verifies_one_algorithm() {
    let secret = b"a shared secret of at least 32 bytes!!";
    let keys = load_keys(
        Some(secret),
        Some(&fixture("rsa-public.pem")),
        Some(&fixture("jwks.json")),
    )
    .unwrap();
    assert_eq!(
        algorithms(&keys),
        [
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::RS256,
            Algorithm::ES256
        ]
    );
    let ec = load_keys(None, Some(&fixture("ec-public.pem")), None).unwrap();
    assert_eq!(algorithms(&ec), [Algorithm::ES256]);
}

#[test]
fn a_jwks_with_no_key_for_signatures_is_refused_at_start() {
    assert!(load_jwks(fixture_keys(json!({"use": "enc"}))).is_err());
    assert!(load_jwks(Vec::new()).is_err());
}

#[test]
fn a_jwk_whose_alg_its_key_cannot_verify_is_refused_at_start() {
    let keys = fixture_keys(json!({"alg": "PS384"}));
    let loaded = load_jwks(keys).map(|keys| algorithms(&keys));
    assert!(loaded.is_err(), "{loaded:?}");
    let p256_as_es384 = fixture_keys(json!({"alg": "ES384"}))
        .into_iter()
        .filter(|key| key["kty"] == "EC")
        .collect();
    assert!(load_jwks(p256_as_es384).is_err());
}

#[test]
fn a_jwk_of_an_algorithm_ferry_does_not_verify_is_left_out() {
    let mut keys = fixture_keys(json!({}));
    keys.push(json!({"kty": "oct", "kid": "wrap", "alg": "A256KW", "k": "c2VjcmV0"}));
    let loaded = load_jwks(keys).unwrap();
    assert_eq!(algorithms(&loaded), [Algorithm::RS256, Algorithm::ES256]);
}

/// Public keys made for this test only, on P-384 and P-521.
const P384_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEe3RzldiEbP994COWBDH8wco7hXOg6+F6
zpVAMwRU+m9e3V4H5eajHyqyXv36csTiIK2I2CCudlA5B0wsxwX/k4f9fz/Y9ofn
t5uk7GziROqA+KRtvdTCd2WZsGQTMPTS
-----END PUBLIC KEY-----
";
const P521_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBBp3UCip7yjiHDpfrUq6mUvdlpxCC
8MO/BV2nWcXtZ+ErwH8hHS/yGlPFikSYawwNks6vqRBu151Kv99Xf5VNaAwA/94h
QaRhU0KOqeDcfQieNtHM17ToXy7zAuDisHXgOSpUesn5Mk9Gh1+S0Ia9Wk8pHWtP
SpyKFtLe6EJh3c8OlUw=
-----END PUBLIC KEY-----
";

fn load_pem(pem: &str) -> Result<Vec<VerifyingKey>, KeyError> {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), pem).expect("the PEM written");
    load_keys(None, Some(file.path()), None)
}

#[test]
fn an_ec_pem_key_verifies_the_algorithm_of_its_curve() {
    assert_eq!(
        algorithms(&load_pem(P384_PUBLIC).unwrap()),
        [Algorithm::ES384]
    );
    assert!(load_pem(P521_PUBLIC).is_err());
}
