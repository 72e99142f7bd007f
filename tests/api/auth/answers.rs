//! Every refused token gets the same answer: 401 `unauthorized` with one
//! fixed message and a challenge that carries no detail, whatever was
//! wrong; only the log and `ferry_auth_refusals_total` know why.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::json;

use super::{claims, claims_with, create_with, hs256, hs256_server, now, sign};
use crate::helpers::{JWT_SECRET, assert_unauthorized, scrape};

/// The message of every 401, as docs/api.md gives it.
const MESSAGE: &str = "a valid bearer token is required";

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// One `Authorization` value per reason a token is refused, with the
/// reason it is counted under.
fn refusals() -> Vec<(Option<String>, &'static str)> {
    let secret = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let other_secret = EncodingKey::from_secret(b"another secret of at least 32 bytes!!!");
    let mut critical = Header::new(Algorithm::HS256);
    critical.crit = Some(vec!["urn:example:ext".to_owned()]);
    let mut with_kid = Header::new(Algorithm::HS256);
    with_kid.kid = Some("hs-2019".to_owned());
    let hs256_with = |changes| bearer(hs256(&claims_with("alice", changes)));
    vec![
        (None, "missing"),
        (Some("Bearer a.b.c".to_owned()), "malformed"),
        (
            bearer(sign(
                Header::new(Algorithm::HS512),
                &claims("alice"),
                &secret,
            )),
            "algorithm",
        ),
        (
            bearer(sign(with_kid, &claims("alice"), &secret)),
            "unknown-key",
        ),
        (
            bearer(sign(
                Header::new(Algorithm::HS256),
                &claims("alice"),
                &other_secret,
            )),
            "signature",
        ),
        (hs256_with(json!({"exp": now() - 120})), "expired"),
        (hs256_with(json!({"nbf": now() + 300})), "not-yet-valid"),
        (hs256_with(json!({"aud": "another-service"})), "audience"),
        (
            hs256_with(json!({"iss": "https://evil.example.com"})),
            "issuer",
        ),
        (bearer(hs256(&claims("anonymous"))), "subject"),
        (
            bearer(sign(critical, &claims("alice"), &secret)),
            "critical-header",
        ),
    ]
}

#[tokio::test]
async fn every_refusal_is_the_same_401_and_only_the_metrics_say_why() {
    let app = hs256_server().await;
    let refusals = refusals();
    for (authorization, reason) in &refusals {
        let response = create_with(&app, authorization.as_deref(), 1).await;
        let challenge = response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .expect("an ASCII challenge")
            .to_owned();
        let body = assert_unauthorized(response).await;
        assert_eq!(
            body,
            json!({"code": "unauthorized", "message": MESSAGE}),
            "{reason}"
        );
        let expected = match authorization {
            None => "Bearer realm=\"ferry\"",
            Some(_) => "Bearer realm=\"ferry\", error=\"invalid_token\"",
        };
        assert_eq!(challenge, expected, "{reason}");
    }
    let metrics = scrape(&app).await;
    for (_, reason) in &refusals {
        let series =
            format!("ferry_auth_refusals_total{{credential=\"token\",reason=\"{reason}\"}}");
        assert_eq!(metrics.value(&series), 1.0, "{reason}");
    }
}
