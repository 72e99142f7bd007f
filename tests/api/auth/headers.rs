//! What a token's header may ask for: only the one algorithm of the key
//! that verifies it (RFC 8725 §3.1), a key published for signatures, and no
//! critical extension, as ferry understands none (RFC 7515 §4.1.11).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tempfile::NamedTempFile;

use super::{
    RSA_PRIVATE, assert_accepted, assert_refused, claims, expect_audience_and_issuer, hs256,
    hs256_server, jwks_server, pem_server, rs256, sign,
};
use crate::helpers::{Backend, JWT_SECRET, spawn_app_with};

fn signed_with_rsa(algorithm: Algorithm, kid: Option<&str>, sub: &str) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("an RSA private key");
    sign(header, &claims(sub), &key)
}

#[tokio::test]
async fn the_secret_verifies_hs256_tokens_only() {
    let app = hs256_server().await;
    let secret = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(Header::new(algorithm), &claims("mallory"), &secret);
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
    assert_accepted(&app, &hs256(&claims("alice")), "alice").await;
}

#[tokio::test]
async fn the_pem_rsa_key_verifies_rs256_tokens_only() {
    let app = pem_server().await;
    for algorithm in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let token = signed_with_rsa(algorithm, None, "mallory");
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
    assert_accepted(&app, &rs256(None, &claims("alice")), "alice").await;
}

#[tokio::test]
async fn a_jwk_verifies_only_the_alg_it_names() {
    let app = jwks_server().await;
    for algorithm in [Algorithm::RS512, Algorithm::PS256] {
        let token = signed_with_rsa(algorithm, Some("rsa-2026"), "mallory");
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
    assert_accepted(&app, &rs256(Some("rsa-2026"), &claims("alice")), "alice").await;
}

/// The fixture JWKS plus its RSA key again as `rsa-enc`, published for
/// encryption, in a file.
fn jwks_with_an_encryption_key() -> NamedTempFile {
    let mut set: Value =
        serde_json::from_str(include_str!("../../fixtures/keys/jwks.json")).unwrap();
    let keys = set["keys"].as_array_mut().unwrap();
    let mut encryption = keys[0].clone();
    encryption["kid"] = json!("rsa-enc");
    encryption["use"] = json!("enc");
    encryption.as_object_mut().unwrap().remove("alg");
    keys.push(encryption);
    let file = NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), set.to_string()).expect("the JWKS written");
    file
}

#[tokio::test]
async fn a_jwk_published_for_encryption_verifies_nothing() {
    let jwks = jwks_with_an_encryption_key();
    let path = jwks.path().to_owned();
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.jwt_jwks = Some(path);
        expect_audience_and_issuer(settings);
    })
    .await;
    let token = signed_with_rsa(Algorithm::RS256, Some("rsa-enc"), "mallory");
    assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    assert_accepted(&app, &rs256(Some("rsa-2026"), &claims("alice")), "alice").await;
}

#[tokio::test]
async fn a_token_with_a_critical_header_is_401() {
    let app = hs256_server().await;
    let secret = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    for crit in [vec!["urn:example:ext"], vec!["exp"], vec![]] {
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(crit.into_iter().map(str::to_owned).collect());
        header
            .extras
            .insert("urn:example:ext".to_owned(), "on".to_owned());
        let token = sign(header, &claims("mallory"), &secret);
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
}
