use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;
use crate::access::load_keys;

const SECRET: &[u8] = b"a shared secret of at least 32 bytes!!";
const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/keys/rsa-public.pem");
const EC_PRIVATE: &str = include_str!("../../tests/fixtures/keys/ec-private.pem");

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys"))
}

fn now() -> u64 {
    seconds(SystemTime::now())
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 600, "iat": now()})
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("a signed token")
}

fn hs256(claims: &Value) -> String {
    sign(
        Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET),
    )
}

fn with_kid(algorithm: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    header
}

fn verifier(audience: Option<&str>, issuer: Option<&str>) -> TokenVerifier {
    let keys = load_keys(Some(SECRET), None, Some(&fixtures().join("jwks.json"))).expect("keys");
    TokenVerifier::new(
        keys,
        audience.map(str::to_owned),
        issuer.map(str::to_owned),
        Duration::from_secs(5),
    )
}

#[test]
fn an_hs256_token_names_its_subject() {
    let owner = verifier(None, None).verify(&hs256(&claims("alice")));
    assert_eq!(owner, Ok(OwnerId::parse("alice").unwrap()));
}

#[test]
fn the_token_ferryd_issues_verifies() {
    let token = issue_hs256(SECRET, "bob", Duration::from_secs(60), SystemTime::now());
    assert_eq!(
        verifier(None, None).verify(&token),
        Ok(OwnerId::parse("bob").unwrap())
    );
}

#[test]
fn rs256_and_es256_tokens_verify_with_the_key_their_kid_names() {
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let verifier = verifier(None, None);
    let rs = sign(
        with_kid(Algorithm::RS256, "rsa-2026"),
        &claims("carol"),
        &rsa,
    );
    let es = sign(with_kid(Algorithm::ES256, "ec-2026"), &claims("dave"), &ec);
    assert_eq!(verifier.verify(&rs), Ok(OwnerId::parse("carol").unwrap()));
    assert_eq!(verifier.verify(&es), Ok(OwnerId::parse("dave").unwrap()));
}

#[test]
fn an_unknown_kid_is_refused() {
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let token = sign(
        with_kid(Algorithm::RS256, "rsa-2019"),
        &claims("carol"),
        &rsa,
    );
    assert_eq!(
        verifier(None, None).verify(&token),
        Err(TokenRefusal::UnknownKey)
    );
}

#[test]
fn a_token_without_a_token_shape_is_malformed() {
    for token in ["", "abc", "a.b.c", "….….…", "eyJhbGciOiJIUzI1NiJ9"] {
        assert_eq!(
            verifier(None, None).verify(token),
            Err(TokenRefusal::Malformed),
            "{token:?}"
        );
    }
}

#[test]
fn a_wrong_signature_is_refused() {
    let token = sign(
        Header::new(Algorithm::HS256),
        &claims("alice"),
        &EncodingKey::from_secret(b"another secret of at least 32 bytes!!!"),
    );
    assert_eq!(
        verifier(None, None).verify(&token),
        Err(TokenRefusal::Signature)
    );
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims("alice").to_string());
    let token = format!("{header}.{body}.");
    let refusal = verifier(None, None).verify(&token);
    assert!(
        matches!(
            refusal,
            Err(TokenRefusal::Malformed | TokenRefusal::Algorithm)
        ),
        "{refusal:?}"
    );
}

#[test]
fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused() {
    let keys = load_keys(None, Some(&fixtures().join("rsa-public.pem")), None).unwrap();
    let verifier = TokenVerifier::new(keys, None, None, Duration::from_secs(5));
    let forged = sign(
        Header::new(Algorithm::HS256),
        &claims("mallory"),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    );
    assert_eq!(verifier.verify(&forged), Err(TokenRefusal::Algorithm));
}

#[test]
fn an_expired_token_is_refused() {
    let stale = json!({"sub": "alice", "exp": now() - 60});
    assert_eq!(
        verifier(None, None).verify(&hs256(&stale)),
        Err(TokenRefusal::Expired)
    );
}

#[test]
fn a_token_without_exp_or_sub_is_refused() {
    let forever = json!({"sub": "alice"});
    assert_eq!(
        verifier(None, None).verify(&hs256(&forever)),
        Err(TokenRefusal::Malformed)
    );
    let nobody = json!({"exp": now() + 60});
    assert_eq!(
        verifier(None, None).verify(&hs256(&nobody)),
        Err(TokenRefusal::Subject)
    );
}

#[test]
fn a_token_not_valid_yet_or_issued_in_the_future_is_refused() {
    let early = json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300});
    assert_eq!(
        verifier(None, None).verify(&hs256(&early)),
        Err(TokenRefusal::NotYetValid)
    );
    let future = json!({"sub": "alice", "exp": now() + 600, "iat": now() + 300});
    assert_eq!(
        verifier(None, None).verify(&hs256(&future)),
        Err(TokenRefusal::NotYetValid)
    );
    let within_leeway = json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 2});
    assert!(verifier(None, None).verify(&hs256(&within_leeway)).is_ok());
}

#[test]
fn the_audience_and_issuer_must_match_when_configured() {
    let verifier = verifier(Some("ferry"), Some("https://login.example"));
    let right =
        json!({"sub": "a", "exp": now() + 60, "aud": "ferry", "iss": "https://login.example"});
    assert!(verifier.verify(&hs256(&right)).is_ok());
    let wrong_audience =
        json!({"sub": "a", "exp": now() + 60, "aud": "other", "iss": "https://login.example"});
    assert_eq!(
        verifier.verify(&hs256(&wrong_audience)),
        Err(TokenRefusal::Audience)
    );
    let wrong_issuer =
        json!({"sub": "a", "exp": now() + 60, "aud": "ferry", "iss": "https://evil"});
    assert_eq!(
        verifier.verify(&hs256(&wrong_issuer)),
        Err(TokenRefusal::Issuer)
    );
    let no_audience = json!({"sub": "a", "exp": now() + 60, "iss": "https://login.example"});
    assert_eq!(
        verifier.verify(&hs256(&no_audience)),
        Err(TokenRefusal::Audience)
    );
}

#[test]
fn a_subject_with_a_control_character_names_no_owner() {
    let token = hs256(&claims("alice\nadmin"));
    assert_eq!(
        verifier(None, None).verify(&token),
        Err(TokenRefusal::Subject)
    );
}

#[test]
fn a_short_secret_is_refused_at_start() {
    assert!(load_keys(Some(b"short"), None, None).is_err());
}

fn pem_verifier(file: &str) -> TokenVerifier {
    let keys = load_keys(None, Some(&fixtures().join(file)), None).expect("a PEM key");
    TokenVerifier::new(keys, None, None, Duration::from_secs(5))
}

/// A verifier over a JWKS file holding `keys`.
fn jwks_verifier(keys: Vec<Value>) -> TokenVerifier {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), json!({ "keys": keys }).to_string()).expect("the JWKS written");
    let keys = load_keys(None, None, Some(file.path())).expect("keys");
    TokenVerifier::new(keys, None, None, Duration::from_secs(5))
}

/// The fixture JWKS's key `kid`, with `changes` applied; a `null` removes a member.
fn fixture_jwk(kid: &str, changes: Value) -> Value {
    let set: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/keys/jwks.json")).unwrap();
    let mut jwk = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|jwk| jwk["kid"] == kid)
        .expect("a fixture key")
        .clone();
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => jwk.as_object_mut().unwrap().remove(name),
            value => jwk
                .as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone()),
        };
    }
    jwk
}

fn rsa_signed(header: Header, sub: &str) -> String {
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    sign(header, &claims(sub), &rsa)
}

#[test]
fn the_secret_verifies_hs256_tokens_only() {
    let secret = EncodingKey::from_secret(SECRET);
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(Header::new(algorithm), &claims("alice"), &secret);
        assert_eq!(
            verifier(None, None).verify(&token),
            Err(TokenRefusal::Algorithm),
            "{algorithm:?}"
        );
    }
}

#[test]
fn an_rsa_pem_key_verifies_rs256_tokens_only() {
    let verifier = pem_verifier("rsa-public.pem");
    let valid = rsa_signed(Header::new(Algorithm::RS256), "carol");
    assert_eq!(
        verifier.verify(&valid),
        Ok(OwnerId::parse("carol").unwrap())
    );
    for algorithm in [
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let token = rsa_signed(Header::new(algorithm), "carol");
        assert_eq!(
            verifier.verify(&token),
            Err(TokenRefusal::Algorithm),
            "{algorithm:?}"
        );
    }
}

#[test]
fn a_p256_pem_key_verifies_es256_tokens_only() {
    let verifier = pem_verifier("ec-public.pem");
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let valid = sign(Header::new(Algorithm::ES256), &claims("dave"), &ec);
    assert_eq!(verifier.verify(&valid), Ok(OwnerId::parse("dave").unwrap()));
    let (_, rest) = valid.split_once('.').unwrap();
    let relabelled = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES384","typ":"JWT"}"#);
    assert_eq!(
        verifier.verify(&format!("{relabelled}.{rest}")),
        Err(TokenRefusal::Algorithm)
    );
}

#[test]
fn a_jwk_verifies_only_the_alg_it_names() {
    let verifier = verifier(None, None);
    for algorithm in [Algorithm::RS512, Algorithm::PS256] {
        let token = rsa_signed(with_kid(algorithm, "rsa-2026"), "carol");
        assert_eq!(
            verifier.verify(&token),
            Err(TokenRefusal::Algorithm),
            "{algorithm:?}"
        );
    }
}

#[test]
fn a_jwk_without_alg_verifies_the_one_algorithm_of_its_type() {
    let verifier = jwks_verifier(vec![fixture_jwk("rsa-2026", json!({"alg": null}))]);
    let valid = rsa_signed(with_kid(Algorithm::RS256, "rsa-2026"), "carol");
    assert_eq!(
        verifier.verify(&valid),
        Ok(OwnerId::parse("carol").unwrap())
    );
    let pss = rsa_signed(with_kid(Algorithm::PS256, "rsa-2026"), "carol");
    assert_eq!(verifier.verify(&pss), Err(TokenRefusal::Algorithm));
}

#[test]
fn a_jwk_not_meant_for_signatures_verifies_nothing() {
    let verifier = jwks_verifier(vec![
        fixture_jwk("rsa-2026", json!({"kid": "rsa-enc", "use": "enc"})),
        fixture_jwk(
            "rsa-2026",
            json!({"kid": "rsa-wrap", "use": null, "key_ops": ["wrapKey"]}),
        ),
        fixture_jwk(
            "rsa-2026",
            json!({"kid": "rsa-oaep", "use": null, "alg": "RSA-OAEP"}),
        ),
        fixture_jwk("ec-2026", json!({})),
    ]);
    for kid in ["rsa-enc", "rsa-wrap", "rsa-oaep"] {
        let token = rsa_signed(with_kid(Algorithm::RS256, kid), "carol");
        assert_eq!(
            verifier.verify(&token),
            Err(TokenRefusal::UnknownKey),
            "{kid}"
        );
    }
    let without_kid = rsa_signed(Header::new(Algorithm::RS256), "carol");
    assert_eq!(verifier.verify(&without_kid), Err(TokenRefusal::Algorithm));
}

#[test]
fn a_token_with_a_critical_header_is_refused() {
    let secret = EncodingKey::from_secret(SECRET);
    for crit in [vec!["urn:example:ext"], vec!["exp"], vec![]] {
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(crit.iter().map(|name| name.to_string()).collect());
        header
            .extras
            .insert("urn:example:ext".to_owned(), "on".to_owned());
        let token = sign(header, &claims("alice"), &secret);
        assert_eq!(
            verifier(None, None).verify(&token),
            Err(TokenRefusal::Critical),
            "{crit:?}"
        );
    }
}

#[test]
fn a_token_naming_anonymous_is_refused() {
    assert_eq!(
        verifier(None, None).verify(&hs256(&claims("anonymous"))),
        Err(TokenRefusal::Subject)
    );
    assert!(
        verifier(None, None)
            .verify(&hs256(&claims("Anonymous")))
            .is_ok()
    );
}

proptest::proptest! {
    #[test]
    fn no_token_makes_the_verifier_panic(token in "\\PC{0,200}") {
        let _ = verifier(None, None).verify(&token);
    }

    #[test]
    fn no_three_part_token_makes_the_verifier_panic(
        header in "[A-Za-z0-9_-]{0,60}",
        body in "[A-Za-z0-9_-]{0,60}",
        signature in "[A-Za-z0-9_-]{0,60}",
    ) {
        let _ = verifier(None, None).verify(&format!("{header}.{body}.{signature}"));
    }
}
