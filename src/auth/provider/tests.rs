//! Each allowed algorithm verifies through the provider, and a tampered
//! signature, a key of another type or an HMAC algorithm does not.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

use super::install;

#[path = "../../../tests/api/auth_signer.rs"]
mod signer;

use signer::Signer;

fn verify(signer: &Signer, token: &str) -> jsonwebtoken::errors::Result<serde_json::Value> {
    install();
    let jwk: Jwk = serde_json::from_value(signer.jwk()).unwrap();
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let alg: Algorithm = signer.alg.parse().unwrap();
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map(|d| d.claims)
}

fn check(signer: &Signer) {
    let claims = json!({"sub": "s", "exp": signer::now() + 60});
    let token = signer.sign(&claims);
    assert_eq!(
        verify(signer, &token).unwrap()["sub"],
        "s",
        "{}",
        signer.alg
    );
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
            .unwrap();
    bytes[0] ^= 1;
    let tampered = format!("{message}.{}", signer::b64(&bytes));
    assert!(verify(signer, &tampered).is_err(), "{}", signer.alg);
}

#[test]
fn rs256() {
    check(&Signer::rsa("k", "RS256"));
}

#[test]
fn rs384() {
    check(&Signer::rsa("k", "RS384"));
}

#[test]
fn rs512() {
    check(&Signer::rsa("k", "RS512"));
}

#[test]
fn ps256() {
    check(&Signer::rsa("k", "PS256"));
}

#[test]
fn ps384() {
    check(&Signer::rsa("k", "PS384"));
}

#[test]
fn ps512() {
    check(&Signer::rsa("k", "PS512"));
}

#[test]
fn es256() {
    check(&Signer::ec("k", "ES256"));
}

#[test]
fn es384() {
    check(&Signer::ec("k", "ES384"));
}

#[test]
fn eddsa() {
    check(&Signer::ed25519("k"));
}

#[test]
fn hmac_and_mismatched_keys_are_refused() {
    install();
    let rsa =
        DecodingKey::from_jwk(&serde_json::from_value(Signer::rsa("k", "RS256").jwk()).unwrap())
            .unwrap();
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert!(
            (super::PROVIDER.verifier_factory)(&alg, &rsa).is_err(),
            "{alg:?}"
        );
    }
    let secret = DecodingKey::from_secret(b"secret").unwrap();
    assert!((super::PROVIDER.verifier_factory)(&Algorithm::HS256, &secret).is_err());
    let signer = jsonwebtoken::EncodingKey::from_secret(b"secret").unwrap();
    assert!((super::PROVIDER.signer_factory)(&Algorithm::HS256, &signer).is_err());
}

#[test]
fn the_ring_verifier_is_the_process_provider() {
    install();
    let installed = jsonwebtoken::crypto::CryptoProvider::try_get_default().unwrap();
    assert!(std::ptr::eq(installed, &raw const super::PROVIDER));
}
