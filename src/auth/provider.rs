//! A verify-only crypto provider for `jsonwebtoken`, over `ring`.
//!
//! `jsonwebtoken` 12 needs exactly one provider installed or it panics at
//! first use. Its own choices cost more than they give here: `rust_crypto`
//! brings the `rsa` crate (an advisory with no fixed version) and
//! `aws_lc_rs` a C build for musl. `ring` is already in the tree through
//! rustls, and a resource server only verifies, so this provider signs
//! nothing, knows no HMAC (key confusion cannot reach it) and needs no key
//! utilities (keys come from JWKs).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey, signature};
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};

/// The provider: verification of RS*, PS*, ES256, ES384 and EdDSA only.
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidKeyFormat.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidKeyFormat.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidKeyFormat.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidKeyFormat.into()),
        compute_digest: |_, _| Err(ErrorKind::InvalidKeyFormat.into()),
    },
};

/// Installs [`PROVIDER`] as the process's provider (once; later calls are
/// no-ops).
///
/// # Panics
/// When another provider was installed first (a feature of `jsonwebtoken`
/// turned on elsewhere in the tree): a build mistake, caught at start-up.
pub fn install() {
    if let Err(other) = PROVIDER.install_default() {
        assert!(
            std::ptr::eq(other, &raw const PROVIDER),
            "another jsonwebtoken crypto provider is installed; only the ring verifier may be"
        );
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the provider's signature
fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the provider's signature
fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let scheme = match algorithm {
        Algorithm::RS256 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => Scheme::Other(&sig::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Scheme::Other(&sig::ECDSA_P384_SHA384_FIXED),
        Algorithm::EdDSA => Scheme::Other(&sig::ED25519),
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Verifier {
        algorithm: *algorithm,
        scheme,
        key: key.clone(),
    }))
}

#[derive(Clone, Copy)]
enum Scheme {
    Rsa(&'static sig::RsaParameters),
    Other(&'static dyn sig::VerificationAlgorithm),
}

struct Verifier {
    algorithm: Algorithm,
    scheme: Scheme,
    key: DecodingKey,
}

impl signature::Verifier<Vec<u8>> for Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let verified = match (self.scheme, self.key.kind()) {
            (Scheme::Rsa(params), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
            }
            (Scheme::Rsa(params), DecodingKeyKind::SecretOrDer(der)) => {
                UnparsedPublicKey::new(params, der).verify(msg, signature)
            }
            (Scheme::Other(alg), DecodingKeyKind::SecretOrDer(bytes)) => {
                UnparsedPublicKey::new(alg, bytes).verify(msg, signature)
            }
            (Scheme::Other(_), DecodingKeyKind::RsaModulusExponent { .. }) => {
                return Err(signature::Error::new());
            }
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Verifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests;
