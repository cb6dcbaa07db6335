//! A key set: the provider's JWKS, parsed once into verification keys, with
//! the tokens verified against it.
//!
//! A key whose `use` is not `sig`, with no `kid`, symmetric, or that cannot
//! be read is left out (and the rest kept), so one odd key cannot lock every
//! caller out.

use std::collections::HashMap;
use std::str::FromStr;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::cache::Cache;
use crate::error::BoxError;

/// The keys of one JWKS, by `kid`, and the tokens verified with them (the
/// cache goes when the set is replaced).
#[derive(Debug)]
pub struct KeySet {
    keys: HashMap<String, Vec<Key>>,
    raw: serde_json::Value,
    /// Tokens verified with these keys.
    pub cache: Cache,
}

#[derive(Debug)]
struct Key {
    /// The key's own `alg`, when it states one.
    alg: Option<Algorithm>,
    params: AlgorithmParameters,
    decoding: DecodingKey,
}

/// What a `kid` and `alg` find in a key set.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// A key for them.
    Found(&'a DecodingKey),
    /// No key has this `kid`.
    UnknownKid,
    /// Keys have this `kid`, but none fits the algorithm.
    Unfit,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    pub fn parse(document: serde_json::Value) -> Result<Self, BoxError> {
        let raw = document.clone();
        let document: Document = serde_json::from_value(document)?;
        let mut keys: HashMap<String, Vec<Key>> = HashMap::new();
        for value in document.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
                continue;
            }
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                continue;
            }
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let alg = match jwk.common.key_algorithm {
                None => None,
                Some(stated) => {
                    let name = serde_json::to_value(stated)?;
                    let Some(alg) = name.as_str().and_then(|n| Algorithm::from_str(n).ok()) else {
                        continue;
                    };
                    Some(alg)
                }
            };
            keys.entry(kid).or_default().push(Key {
                alg,
                params: jwk.algorithm,
                decoding,
            });
        }
        Ok(Self {
            keys,
            raw,
            cache: Cache::default(),
        })
    }

    /// Whether this set came from the same document as `other`.
    pub fn same_as(&self, other: &serde_json::Value) -> bool {
        self.raw == *other
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key named `kid` whose type (and stated `alg`) fits `alg`.
    pub fn find(&self, kid: &str, alg: Algorithm) -> Lookup<'_> {
        let Some(keys) = self.keys.get(kid) else {
            return Lookup::UnknownKid;
        };
        keys.iter()
            .find(|key| key.alg.is_none_or(|stated| stated == alg) && fits(&key.params, alg))
            .map_or(Lookup::Unfit, |key| Lookup::Found(&key.decoding))
    }
}

/// Whether a key of these parameters can verify `alg`.
fn fits(params: &AlgorithmParameters, alg: Algorithm) -> bool {
    match (params, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    #[test]
    fn keys_are_found_by_kid_and_fit() {
        let set = KeySet::parse(json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": N, "e": "AQAB"},
            {"kty": "weird", "kid": "w"}
        ]}))
        .unwrap();
        assert_eq!(set.len(), 1);
        assert!(matches!(set.find("r1", Algorithm::RS256), Lookup::Found(_)));
        assert!(matches!(set.find("r1", Algorithm::PS256), Lookup::Unfit));
        assert!(matches!(set.find("r1", Algorithm::ES256), Lookup::Unfit));
        assert!(matches!(
            set.find("enc", Algorithm::RS256),
            Lookup::UnknownKid
        ));
        assert!(matches!(
            set.find("h", Algorithm::HS256),
            Lookup::UnknownKid
        ));
        assert!(!set.is_empty());
    }

    #[test]
    fn a_key_without_alg_fits_every_algorithm_of_its_type() {
        let set = KeySet::parse(json!({"keys": [
            {"kty": "RSA", "kid": "r", "n": N, "e": "AQAB"}
        ]}))
        .unwrap();
        assert!(matches!(set.find("r", Algorithm::PS512), Lookup::Found(_)));
        assert!(matches!(set.find("r", Algorithm::EdDSA), Lookup::Unfit));
    }

    #[test]
    fn an_ed25519_key_fits_eddsa_only() {
        // The public key of RFC 8037's example (appendix A.2).
        let set = KeySet::parse(json!({"keys": [
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}))
        .unwrap();
        assert_eq!(set.len(), 1);
        assert!(matches!(set.find("ed", Algorithm::EdDSA), Lookup::Found(_)));
        assert!(matches!(set.find("ed", Algorithm::ES256), Lookup::Unfit));
        assert!(matches!(set.find("ed", Algorithm::RS256), Lookup::Unfit));
    }

    #[test]
    fn a_set_knows_the_document_it_came_from() {
        // The loader keeps the current set when the JWKS it fetched is the
        // same document, and swaps it when the keys changed.
        let document = json!({"keys": [
            {"kty": "RSA", "kid": "r1", "n": N, "e": "AQAB"}
        ]});
        let set = KeySet::parse(document.clone()).unwrap();
        assert!(set.same_as(&document));
        let rotated = json!({"keys": [
            {"kty": "RSA", "kid": "r2", "n": N, "e": "AQAB"}
        ]});
        assert!(!set.same_as(&rotated));
        assert!(!set.same_as(&json!({"keys": []})));
    }
}
