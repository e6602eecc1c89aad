//! Token signing keys (Ed25519 / `EdDSA`) and their rotation without downtime.
//!
//! A new key is published in the JWKS at once but signs only from `signs_from` (by default
//! ten minutes later), so every node and every relying party that refreshes its JWKS knows it
//! before the first token signed with it arrives. The previous key stays published until the
//! last token it signed has expired. Keys live in the shared store, their private halves
//! sealed with the data key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;

use crate::seal::{DataKey, SealError};
use crate::store::SigningKeyRecord;

/// The sealing purpose of signing keys.
const SEAL_PURPOSE: &str = "wardgate-identity-signing-key";

/// A key-handling failure.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key could not be generated or parsed.
    #[error("signing key material is invalid")]
    Invalid,
    /// The sealed key could not be opened (wrong data key?).
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// One key of the ring.
pub struct RingKey {
    /// Key id.
    pub kid: String,
    /// The signing half.
    pub encoding: EncodingKey,
    /// The verifying half.
    pub decoding: DecodingKey,
    /// The public JWK.
    pub jwk: serde_json::Value,
    /// From when it signs.
    pub signs_from: i64,
}

/// Every known signing key, ordered by `signs_from`.
#[derive(Default)]
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (&k.kid, k.signs_from)))
            .finish()
    }
}

/// Generate a new Ed25519 key that signs from `signs_from`.
pub fn generate(
    data_key: &DataKey,
    now: i64,
    signs_from: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Invalid)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Invalid)?;
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let jwk = json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    });
    Ok(SigningKeyRecord {
        kid,
        alg: "EdDSA".to_owned(),
        sealed_private: data_key.seal(SEAL_PURPOSE, pkcs8.as_ref()),
        public_jwk: jwk.to_string(),
        created_at: now,
        signs_from,
    })
}

impl KeyRing {
    /// Open the stored keys.
    pub fn from_records(
        records: &[SigningKeyRecord],
        data_key: &DataKey,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(records.len());
        for record in records {
            let pkcs8 = data_key.open(SEAL_PURPOSE, &record.sealed_private)?;
            let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Invalid)?;
            let jwk: serde_json::Value =
                serde_json::from_str(&record.public_jwk).map_err(|_| KeyError::Invalid)?;
            keys.push(RingKey {
                kid: record.kid.clone(),
                encoding: EncodingKey::from_ed_der(&pkcs8),
                decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
                jwk,
                signs_from: record.signs_from,
            });
        }
        keys.sort_by_key(|k| k.signs_from);
        Ok(KeyRing { keys })
    }

    /// The key that signs at `now`: the newest whose `signs_from` has come.
    pub fn signer(&self, now: i64) -> Option<&RingKey> {
        self.keys.iter().rev().find(|k| k.signs_from <= now)
    }

    /// The verifying key for `kid`.
    pub fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding)
    }

    /// The keys to publish at `now`: every key that will sign or may still have signed a
    /// token alive now (superseded less than `token_lifetime` ago).
    pub fn published(&self, now: i64, token_lifetime: i64) -> Vec<&serde_json::Value> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, _)| match self.keys.get(i + 1) {
                Some(next) => next.signs_from + token_lifetime > now,
                None => true,
            })
            .map(|(_, k)| &k.jwk)
            .collect()
    }

    /// The instant before which keys are no longer needed: the start of the current signer
    /// minus one token lifetime.
    pub fn prune_before(&self, now: i64, token_lifetime: i64) -> Option<i64> {
        let signer = self.signer(now)?;
        Some(signer.signs_from - token_lifetime)
    }

    /// Whether a key is waiting to take over (rotation in progress).
    pub fn pending(&self, now: i64) -> bool {
        self.keys.iter().any(|k| k.signs_from > now)
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The JWKS document for `keys`.
pub fn jwks_document(keys: &[&serde_json::Value]) -> serde_json::Value {
    json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_published_before_it_signs_and_the_old_one_after() {
        let dir = tempfile::tempdir().unwrap();
        let data_key = DataKey::load_or_create(dir.path()).unwrap();
        let first = generate(&data_key, 0, 0).unwrap();
        let second = generate(&data_key, 1000, 1600).unwrap();
        let ring = KeyRing::from_records(&[first.clone(), second.clone()], &data_key).unwrap();
        let kids = |now| {
            ring.published(now, 300)
                .iter()
                .map(|j| j["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(ring.signer(1500).unwrap().kid, first.kid);
        assert_eq!(kids(1500), vec![first.kid.clone(), second.kid.clone()]);
        assert_eq!(ring.signer(1600).unwrap().kid, second.kid);
        assert_eq!(kids(1899), vec![first.kid.clone(), second.kid.clone()]);
        assert_eq!(kids(1900), vec![second.kid.clone()]);
    }
}
