//! The token rules, one by one, end to end: a valid token is served, and
//! every way a token can be wrong is a 401 with the right challenge.

use serde_json::{Value, json};

use crate::auth_provider::{AUDIENCE, Provider, claims};
use crate::auth_signer::{Signer, b64, now};
use crate::common::{TestApp, TestResponse};

const USERS: &str = "/api/v1/users";

async fn get_with(app: &TestApp, authorization: &str) -> TestResponse {
    app.request_with("GET", USERS, &[("authorization", authorization)], None)
        .await
}

async fn get(app: &TestApp, token: &str) -> TestResponse {
    get_with(app, &format!("Bearer {token}")).await
}

#[track_caller]
fn assert_invalid(response: &TestResponse, case: &str) {
    assert_eq!(response.status, 401, "{case}: {:?}", response.body);
    response.assert_problem(401, "unauthorized");
    let challenge = response.header("www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{case}: {challenge}"
    );
}

async fn setup() -> (Provider, Signer, TestApp) {
    let signer = Signer::rsa("rsa-1", "RS256");
    let provider = Provider::start(&[&signer]).await;
    let app = provider.app().await;
    (provider, signer, app)
}

#[tokio::test]
async fn a_valid_token_is_served_and_the_scheme_is_case_blind() {
    let (provider, signer, app) = setup().await;
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    let response = get(&app, &token).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let response = get_with(&app, &format!("{scheme} {token}")).await;
        assert_eq!(response.status, 200, "{scheme}");
    }
    // The second time comes from the cache of verified tokens: same answer.
    assert_eq!(get(&app, &token).await.status, 200);
}

#[tokio::test]
async fn no_token_or_another_scheme_gets_a_bare_challenge() {
    let (_provider, _signer, app) = setup().await;
    let none = app.get(USERS).await;
    none.assert_problem(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), "Bearer");
    for other in ["Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearerabc"] {
        let response = get_with(&app, other).await;
        if other == "Bearer" {
            // The bearer scheme with no token: an empty token.
            assert_invalid(&response, other);
        } else {
            response.assert_problem(401, "unauthorized");
            assert_eq!(response.header("www-authenticate"), "Bearer", "{other}");
        }
    }
}

#[tokio::test]
async fn malformed_tokens_are_invalid() {
    let (_provider, signer, app) = setup().await;
    let header = b64(&serde_json::to_vec(&signer.header()).unwrap());
    for (case, token) in [
        ("empty", "   ".to_owned()),
        ("one part", "abc".to_owned()),
        ("two parts", "abc.def".to_owned()),
        ("four parts", "a.b.c.d".to_owned()),
        ("not base64url", "a+b.c/d.e=f".to_owned()),
        ("header not JSON", format!("{}.e30.c2ln", b64(b"nope"))),
        ("claims not JSON", format!("{header}.{}.c2ln", b64(b"nope"))),
    ] {
        assert_invalid(&get(&app, &token).await, case);
    }
}

#[tokio::test]
async fn a_huge_token_is_refused_unread() {
    let (provider, signer, app) = setup().await;
    let mut claims = claims(&provider.issuer(), "users:read");
    claims["padding"] = json!("x".repeat(7 * 1024));
    let token = signer.sign(&claims);
    assert!(token.len() > 8 * 1024 && token.len() < 12 * 1024);
    assert_invalid(&get(&app, &token).await, "a token over 8 KiB");
    // Past the server's header limit, the connection layer refuses it.
    claims["padding"] = json!("x".repeat(20 * 1024));
    let response = get(&app, &signer.sign(&claims)).await;
    assert_eq!(response.status, 431);
}

#[tokio::test]
async fn a_tampered_signature_is_invalid() {
    let (provider, signer, app) = setup().await;
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    let (message, _) = token.rsplit_once('.').unwrap();
    let other = signer.signature(b"another message");
    assert_invalid(
        &get(&app, &format!("{message}.{}", b64(&other))).await,
        "signature",
    );
    let mut changed = claims(&provider.issuer(), "users:read users:write");
    changed["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        message.split('.').next().unwrap(),
        b64(&serde_json::to_vec(&changed).unwrap()),
        token.rsplit('.').next().unwrap()
    );
    assert_invalid(&get(&app, &forged).await, "claims swapped");
}

#[tokio::test]
async fn exp_and_nbf_hold_with_the_leeway_both_ways() {
    let (provider, signer, app) = setup().await;
    let with = |exp: i64, nbf: Option<i64>| {
        let mut c = claims(&provider.issuer(), "users:read");
        c["exp"] = json!(exp);
        if let Some(nbf) = nbf {
            c["nbf"] = json!(nbf);
        }
        signer.sign(&c)
    };
    // Leeway 30 s: expired 10 s ago or valid from 10 s ahead still pass.
    assert_eq!(get(&app, &with(now() - 10, None)).await.status, 200);
    assert_eq!(
        get(&app, &with(now() + 300, Some(now() + 10))).await.status,
        200
    );
    // Past the leeway: refused.
    assert_invalid(&get(&app, &with(now() - 120, None)).await, "expired");
    assert_invalid(
        &get(&app, &with(now() + 300, Some(now() + 120))).await,
        "not yet valid",
    );
    let mut no_exp = claims(&provider.issuer(), "users:read");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_invalid(&get(&app, &signer.sign(&no_exp)).await, "no exp");
}

#[tokio::test]
async fn issuer_and_audience_must_match() {
    let (provider, signer, app) = setup().await;
    let mut c = claims("https://elsewhere.example.com", "users:read");
    assert_invalid(&get(&app, &signer.sign(&c)).await, "issuer");
    c = claims(&provider.issuer(), "users:read");
    c["aud"] = json!("another-api");
    assert_invalid(&get(&app, &signer.sign(&c)).await, "audience");
    c["aud"] = json!(["another-api", "a-third"]);
    assert_invalid(&get(&app, &signer.sign(&c)).await, "audience array");
    c["aud"] = json!(["another-api", AUDIENCE]);
    assert_eq!(
        get(&app, &signer.sign(&c)).await.status,
        200,
        "array with ours"
    );
}

#[tokio::test]
async fn only_asymmetric_algorithms_with_a_fitting_key_are_accepted() {
    let (provider, signer, app) = setup().await;
    let c = claims(&provider.issuer(), "users:read");
    let body = b64(&serde_json::to_vec(&c).unwrap());
    // alg none, unsigned.
    let header = b64(br#"{"alg":"none","kid":"rsa-1"}"#);
    assert_invalid(&get(&app, &format!("{header}.{body}.")).await, "alg none");
    assert_invalid(
        &get(&app, &format!("{header}.{body}.c2ln")).await,
        "alg none, signed",
    );
    // HS256 keyed with the RSA public key as published: key confusion.
    let secret = serde_json::to_vec(&signer.jwk()).unwrap();
    for alg in ["HS256", "HS384", "HS512"] {
        let header = b64(format!(r#"{{"alg":"{alg}","kid":"rsa-1","typ":"JWT"}}"#).as_bytes());
        let message = format!("{header}.{body}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, message.as_bytes());
        assert_invalid(
            &get(&app, &format!("{message}.{}", b64(tag.as_ref()))).await,
            alg,
        );
    }
    // An algorithm the key does not state (the JWK says RS256).
    let ps = Signer::rsa("rsa-1", "PS256");
    assert_invalid(&get(&app, &ps.sign(&c)).await, "PS256 on an RS256 key");
}

#[tokio::test]
async fn the_header_needs_a_known_kid_and_an_access_token_typ() {
    let (provider, signer, app) = setup().await;
    let c = claims(&provider.issuer(), "users:read");
    let header = |h: Value| signer.sign_with_header(&h, &c);
    assert_invalid(&get(&app, &header(json!({"alg": "RS256"}))).await, "no kid");
    assert_invalid(
        &get(&app, &header(json!({"alg": "RS256", "kid": "nobody"}))).await,
        "unknown kid",
    );
    for typ in ["id+jwt", "JOSE", "application/json", "at+jwt+x"] {
        let h = json!({"alg": "RS256", "kid": "rsa-1", "typ": typ});
        assert_invalid(&get(&app, &header(h)).await, typ);
    }
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "JWT",
        "jwt",
        "Application/JWT",
    ] {
        let h = json!({"alg": "RS256", "kid": "rsa-1", "typ": typ});
        assert_eq!(get(&app, &header(h)).await.status, 200, "{typ}");
    }
    let h = json!({"alg": "RS256", "kid": "rsa-1"});
    assert_eq!(get(&app, &header(h)).await.status, 200, "no typ");
}

#[tokio::test]
async fn every_allowed_algorithm_is_accepted() {
    let signers = [
        Signer::rsa("rs384", "RS384"),
        Signer::rsa("rs512", "RS512"),
        Signer::rsa("ps256", "PS256"),
        Signer::rsa("ps384", "PS384"),
        Signer::rsa("ps512", "PS512"),
        Signer::ec("es256", "ES256"),
        Signer::ec("es384", "ES384"),
        Signer::ed25519("ed"),
    ];
    let provider = Provider::start(&signers.iter().collect::<Vec<_>>()).await;
    let app = provider.app().await;
    for signer in &signers {
        let token = signer.sign(&claims(&provider.issuer(), "users:read"));
        assert_eq!(get(&app, &token).await.status, 200, "{}", signer.alg);
    }
}
