//! Bearer tokens: every upload endpoint takes one, and a token that is
//! missing, malformed, forged, expired, early, for another audience, issuer
//! or key, or naming `anonymous` is 401 `unauthorized` with
//! `WWW-Authenticate: Bearer`, acting on nothing.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry::config::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, JWT_SECRET, TestApp, assert_unauthorized, sha256_hex, spawn_app_with, test_bytes,
    with_tokens,
};

const AUDIENCE: &str = "ferry-uploads";
const ISSUER: &str = "https://auth.example.com";
const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/ec-private.pem");
/// Every owner the tests here name, for snapshots.
const OWNERS: [&str; 4] = ["alice", "bob", "mallory", "anonymous"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys")).join(name)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Claims that hold now on a server expecting [`AUDIENCE`] and [`ISSUER`].
fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 600, "iat": now(), "aud": AUDIENCE, "iss": ISSUER})
}

/// `claims` with `changes` applied; a `null` removes the claim.
fn claims_with(sub: &str, changes: Value) -> Value {
    let mut claims = claims(sub);
    for (name, value) in changes.as_object().expect("an object") {
        match value {
            Value::Null => claims.as_object_mut().unwrap().remove(name),
            value => claims
                .as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("a signed token")
}

fn hs256(claims: &Value) -> String {
    sign(
        Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
}

fn rs256(kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("an RSA private key");
    sign(header, claims, &key)
}

fn es256(kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_ec_pem(EC_PRIVATE).expect("an EC private key");
    sign(header, claims, &key)
}

/// An HS256 server expecting [`AUDIENCE`] and [`ISSUER`].
async fn hs256_server() -> TestApp {
    spawn_app_with(Backend::Sqlite, |settings| {
        with_tokens(settings);
        expect_audience_and_issuer(settings);
    })
    .await
}

fn expect_audience_and_issuer(settings: &mut Settings) {
    settings.security.jwt_audience = Some(AUDIENCE.to_owned());
    settings.security.jwt_issuer = Some(ISSUER.to_owned());
}

/// A server that verifies RS256 tokens with the fixture's PEM public key only.
async fn pem_server() -> TestApp {
    spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.jwt_public_key = Some(fixture("rsa-public.pem"));
        expect_audience_and_issuer(settings);
    })
    .await
}

/// A server that verifies tokens with the fixture's JWKS, by `kid`.
async fn jwks_server() -> TestApp {
    spawn_app_with(Backend::Sqlite, |settings| {
        settings.security.jwt_jwks = Some(fixture("jwks.json"));
        expect_audience_and_issuer(settings);
    })
    .await
}

/// A create of a fresh 3000-byte file, with `authorization` as given.
async fn create_with(app: &TestApp, authorization: Option<&str>, seed: u8) -> reqwest::Response {
    let data = test_bytes(3000, seed);
    let mut request = app
        .client
        .post(app.url("/v1/uploads"))
        .json(&json!({"sha256": sha256_hex(&data), "size": 3000}));
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request.send().await.expect("create answers")
}

/// Asserts that a create with `authorization` is 401 and changes nothing.
async fn assert_refused(app: &TestApp, authorization: Option<&str>) {
    let before = app.snapshot(&OWNERS).await;
    let response = create_with(app, authorization, 1).await;
    assert_unauthorized(response).await;
    assert_eq!(
        app.snapshot(&OWNERS).await,
        before,
        "a refused create changed what is stored ({authorization:?})"
    );
}

/// Asserts that a create with `token` is 201 for a session of `owner` only.
async fn assert_accepted(app: &TestApp, token: &str, owner: &str) {
    let response = create_with(app, Some(&format!("Bearer {token}")), 2).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let owners = app.snapshot(&OWNERS).await.usage;
    for (name, sessions, bytes) in owners {
        let expected = if name == owner { (1, 3000) } else { (0, 0) };
        assert_eq!((sessions, bytes), expected, "the sessions of {name}");
    }
}

#[tokio::test]
async fn a_request_without_a_token_is_401_asking_for_a_bearer_token() {
    let app = hs256_server().await;
    assert_refused(&app, None).await;
    let response = create_with(&app, None, 1).await;
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"ferry\""
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401() {
    let app = hs256_server().await;
    let valid = hs256(&claims("alice"));
    for authorization in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer ...".to_owned(),
        format!("Basic {valid}"),
        format!("Token {valid}"),
        valid.clone(),
        format!("Bearer {valid}x"),
        format!("Bearer {}", &valid[..valid.len() / 2]),
    ] {
        assert_refused(&app, Some(&authorization)).await;
    }
    let response = create_with(&app, Some("Bearer a.b.c"), 1).await;
    let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"ferry\", error=\"invalid_token\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_token_with_a_wrong_signature_is_401() {
    let app = hs256_server().await;
    let other_secret = EncodingKey::from_secret(b"another secret of at least 32 bytes!!!");
    let forged = sign(
        Header::new(Algorithm::HS256),
        &claims("alice"),
        &other_secret,
    );
    assert_refused(&app, Some(&format!("Bearer {forged}"))).await;
    let valid = hs256(&claims("alice"));
    let (signed, signature) = valid.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let flipped = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_refused(&app, Some(&format!("Bearer {flipped}"))).await;
    let (_, payload, _) = split(&valid);
    let swapped_claims = URL_SAFE_NO_PAD.encode(claims("mallory").to_string());
    let header = valid.split('.').next().unwrap();
    let resigned = format!("{header}.{swapped_claims}.{signature}");
    assert_ne!(payload, swapped_claims);
    assert_refused(&app, Some(&format!("Bearer {resigned}"))).await;
}

fn split(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

#[tokio::test]
async fn an_alg_none_token_is_401() {
    let app = hs256_server().await;
    let claims = URL_SAFE_NO_PAD.encode(claims("alice").to_string());
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
        assert_refused(&app, Some(&format!("Bearer {header}.{claims}."))).await;
        let valid = hs256(&self::claims("alice"));
        let (_, _, signature) = split(&valid);
        assert_refused(&app, Some(&format!("Bearer {header}.{claims}.{signature}"))).await;
    }
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_servers_rsa_public_key_is_401() {
    let app = pem_server().await;
    for public_key in [
        RSA_PUBLIC,
        std::str::from_utf8(RSA_PUBLIC).unwrap().trim().as_bytes(),
    ] {
        let confused = sign(
            Header::new(Algorithm::HS256),
            &claims("mallory"),
            &EncodingKey::from_secret(public_key),
        );
        assert_refused(&app, Some(&format!("Bearer {confused}"))).await;
    }
    assert_accepted(&app, &rs256(None, &claims("alice")), "alice").await;
}

#[tokio::test]
async fn an_expired_token_is_401_once_past_the_leeway() {
    let app = hs256_server().await;
    let expired = claims_with("alice", json!({"exp": now() - 120, "iat": now() - 900}));
    assert_refused(&app, Some(&format!("Bearer {}", hs256(&expired)))).await;
    let no_exp = claims_with("alice", json!({"exp": null}));
    assert_refused(&app, Some(&format!("Bearer {}", hs256(&no_exp)))).await;
    let within_leeway = claims_with("alice", json!({"exp": now() - 5}));
    assert_accepted(&app, &hs256(&within_leeway), "alice").await;
}

#[tokio::test]
async fn a_token_not_valid_yet_is_401_once_past_the_leeway() {
    let app = hs256_server().await;
    let early = claims_with("alice", json!({"nbf": now() + 300}));
    assert_refused(&app, Some(&format!("Bearer {}", hs256(&early)))).await;
    let issued_later = claims_with("alice", json!({"iat": now() + 300}));
    assert_refused(&app, Some(&format!("Bearer {}", hs256(&issued_later)))).await;
    let within_leeway = claims_with("alice", json!({"nbf": now() + 5}));
    assert_accepted(&app, &hs256(&within_leeway), "alice").await;
}

#[tokio::test]
async fn a_token_for_another_audience_or_none_is_401() {
    let app = hs256_server().await;
    for aud in [
        json!("another-service"),
        json!(["another-service"]),
        json!(null),
    ] {
        let token = hs256(&claims_with("alice", json!({ "aud": aud })));
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
    let listed = hs256(&claims_with(
        "alice",
        json!({"aud": ["another-service", AUDIENCE]}),
    ));
    assert_accepted(&app, &listed, "alice").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_or_none_is_401() {
    let app = hs256_server().await;
    for iss in [
        json!("https://evil.example.com"),
        json!("https://auth.example.com/"),
        json!(null),
    ] {
        let token = hs256(&claims_with("alice", json!({ "iss": iss })));
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
}

#[tokio::test]
async fn a_token_without_a_usable_subject_is_401() {
    let app = hs256_server().await;
    for sub in [json!(null), json!(""), json!("ali\u{0}ce")] {
        let token = hs256(&claims_with("alice", json!({ "sub": sub })));
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
}

#[tokio::test]
async fn a_token_naming_anonymous_is_401() {
    let app = hs256_server().await;
    let token = hs256(&claims("anonymous"));
    assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    assert_accepted(&app, &hs256(&claims("alice")), "alice").await;
}

#[tokio::test]
async fn a_token_naming_a_kid_missing_from_the_jwks_is_401() {
    let app = jwks_server().await;
    for token in [
        rs256(Some("rsa-2019"), &claims("alice")),
        rs256(Some("ec-2026"), &claims("alice")),
        es256(Some("rsa-2026"), &claims("alice")),
        hs256(&claims("alice")),
    ] {
        assert_refused(&app, Some(&format!("Bearer {token}"))).await;
    }
}

#[tokio::test]
async fn a_valid_hs256_token_names_the_owner_of_its_uploads() {
    let app = hs256_server().await;
    assert_accepted(&app, &hs256(&claims("alice")), "alice").await;
    let data = test_bytes(3000, 2);
    let sha = sha256_hex(&data);
    let as_alice = app.as_bearer(&hs256(&claims("alice")));
    assert_eq!(as_alice.progress(&sha).await.status(), StatusCode::OK);
    let as_bob = app.as_bearer(&hs256(&claims("bob")));
    assert_eq!(as_bob.progress(&sha).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_valid_rs256_token_verified_with_the_pem_key_is_accepted() {
    let app = pem_server().await;
    assert_accepted(&app, &rs256(None, &claims("alice")), "alice").await;
}

#[tokio::test]
async fn valid_tokens_verified_by_their_kid_in_the_jwks_are_accepted() {
    let app = jwks_server().await;
    assert_accepted(&app, &rs256(Some("rsa-2026"), &claims("alice")), "alice").await;
    let es = es256(Some("ec-2026"), &claims("bob"));
    let response = create_with(&app, Some(&format!("Bearer {es}")), 3).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let usage = app.snapshot(&["bob"]).await.usage;
    assert_eq!(usage, [("bob".to_owned(), 1, 3000)]);
}

#[tokio::test]
async fn downloads_of_public_files_need_no_token() {
    let app = hs256_server().await;
    let alice = app.as_bearer(&hs256(&claims("alice")));
    let data = test_bytes(3000, 11);
    alice.upload(&data, 1024).await;
    assert_eq!(app.downloaded(&sha256_hex(&data)).await, data);
}

mod answers;
mod endpoints;
mod headers;
