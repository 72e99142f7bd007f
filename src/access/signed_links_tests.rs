use super::*;

const KEY: &[u8] = b"dimtm5evg50ijsx2hvuwyfoiu65";
const PATH: &str =
    "/v1/files/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/a.txt";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn signer() -> LinkSigner {
    LinkSigner::new(KEY, Duration::from_secs(1800))
}

fn query(link: &str) -> Vec<(String, String)> {
    let (_, query) = link.split_once('?').expect("a query");
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("name=value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn check(link: &str, path: &str, now: SystemTime) -> Result<(), LinkRefusal> {
    let pairs = query(link);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let signed = SignedQuery {
        expires: get("expires"),
        signature: get("signature"),
        auth_key: get("auth_key"),
    };
    signer().verify(path, &signed, now)
}

#[test]
fn a_signed_link_opens_its_path_until_it_expires() {
    let link = signer().sign(PATH, Duration::from_secs(600), at(1_000_000));
    assert!(link.starts_with(&format!("{PATH}?expires=1000600&signature=")));
    assert_eq!(check(&link, PATH, at(1_000_000)), Ok(()));
    assert_eq!(check(&link, PATH, at(1_000_600)), Ok(()));
    assert_eq!(check(&link, PATH, at(1_000_601)), Err(LinkRefusal::Expired));
}

#[test]
fn a_signed_link_for_another_path_does_not_open() {
    let link = signer().sign(PATH, Duration::from_secs(600), at(1_000_000));
    let other = PATH.replace("a.txt", "b.txt");
    assert_eq!(
        check(&link, &other, at(1_000_000)),
        Err(LinkRefusal::Mismatch)
    );
}

#[test]
fn a_tampered_expiry_or_signature_does_not_open() {
    let link = signer().sign(PATH, Duration::from_secs(600), at(1_000_000));
    let later = link.replace("expires=1000600", "expires=9000600");
    assert_eq!(
        check(&later, PATH, at(1_000_000)),
        Err(LinkRefusal::Mismatch)
    );
    let (head, signature) = link.rsplit_once('=').unwrap();
    let flipped = format!("{head}={}0", &signature[..signature.len() - 1]);
    let flipped = if flipped == link {
        format!("{head}={}1", &signature[..signature.len() - 1])
    } else {
        flipped
    };
    assert_eq!(
        check(&flipped, PATH, at(1_000_000)),
        Err(LinkRefusal::Mismatch)
    );
}

#[test]
fn a_link_signed_with_another_key_does_not_open() {
    let link = LinkSigner::new(b"another key", Duration::from_secs(1800)).sign(
        PATH,
        Duration::from_secs(600),
        at(1_000_000),
    );
    assert_eq!(
        check(&link, PATH, at(1_000_000)),
        Err(LinkRefusal::Mismatch)
    );
}

#[test]
fn a_link_without_a_signature_or_with_half_of_one_is_refused() {
    let none = SignedQuery::default();
    assert_eq!(
        signer().verify(PATH, &none, at(0)),
        Err(LinkRefusal::Missing)
    );
    let half = SignedQuery {
        expires: Some("10"),
        ..SignedQuery::default()
    };
    assert_eq!(
        signer().verify(PATH, &half, at(0)),
        Err(LinkRefusal::Malformed)
    );
    let bad = SignedQuery {
        expires: Some("-1"),
        signature: Some("zz"),
        auth_key: None,
    };
    assert_eq!(
        signer().verify(PATH, &bad, at(0)),
        Err(LinkRefusal::Malformed)
    );
}

#[test]
fn the_type_a_hash_matches_the_providers_worked_example() {
    let hash = signer().type_a_hash("/test.jpg", 1_582_791_032, "im1acp76sx9sdqe601v", "0");
    assert_eq!(hash, "3fbb88382c9356b6faaf9d68c7b2ae3a");
    let auth_key = "1582791032-im1acp76sx9sdqe601v-0-3fbb88382c9356b6faaf9d68c7b2ae3a";
    let link = format!("/test.jpg?auth_key={auth_key}");
    assert_eq!(check(&link, "/test.jpg", at(1_582_791_032 + 1800)), Ok(()));
    assert_eq!(
        check(&link, "/test.jpg", at(1_582_791_032 + 1801)),
        Err(LinkRefusal::Expired)
    );
    assert_eq!(
        check(&link, "/other.jpg", at(1_582_791_032)),
        Err(LinkRefusal::Mismatch)
    );
}

#[test]
fn a_type_a_link_this_server_signs_opens_here() {
    let link = signer().sign_type_a(PATH, "r4nd", "0", at(5_000));
    assert_eq!(check(&link, PATH, at(5_000)), Ok(()));
}

#[test]
fn a_malformed_auth_key_is_refused() {
    for auth_key in [
        "",
        "1-2-3",
        "1-a-0-3fbb88382c9356b6faaf9d68c7b2ae3a-x",
        "x-a-0-3fbb88382c9356b6faaf9d68c7b2ae3a",
        "1--0-3fbb88382c9356b6faaf9d68c7b2ae3a",
        "1-a-0-short",
        "1-a b-0-3fbb88382c9356b6faaf9d68c7b2ae3a",
    ] {
        let query = SignedQuery {
            auth_key: Some(auth_key),
            ..SignedQuery::default()
        };
        assert_eq!(
            signer().verify(PATH, &query, at(1)),
            Err(LinkRefusal::Malformed),
            "{auth_key:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn no_query_makes_the_check_panic(
        expires in proptest::option::of("\\PC{0,30}"),
        signature in proptest::option::of("\\PC{0,80}"),
        auth_key in proptest::option::of("\\PC{0,120}"),
    ) {
        let query = SignedQuery {
            expires: expires.as_deref(),
            signature: signature.as_deref(),
            auth_key: auth_key.as_deref(),
        };
        let _ = signer().verify(PATH, &query, at(1_000));
    }
}
