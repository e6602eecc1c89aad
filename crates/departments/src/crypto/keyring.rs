//! One department's unwrapped keys: data keys by id (for sealing) and the index key (for blind
//! index tokens).

use std::collections::BTreeMap;

use ring::aead::LessSafeKey;
use ring::hmac;

use super::{CryptoError, aead_key, open_with, seal_with};

/// The id of a data key inside its department (1, 2, ... in order of creation).
pub type KeyId = i64;

/// A data key: seals resources and images.
pub struct DataKey {
    key: LessSafeKey,
}

impl DataKey {
    /// A data key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(DataKey {
            key: aead_key(bytes)?,
        })
    }
}

/// The index key: turns normalised search values into blind tokens.
pub struct IndexKey {
    key: hmac::Key,
}

impl IndexKey {
    /// An index key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != super::KEY_LEN {
            return Err(CryptoError::BadKeyLength);
        }
        Ok(IndexKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        })
    }
}

/// The length of a blind index token (128 bits of HMAC-SHA-256).
pub const TOKEN_LEN: usize = 16;

/// A department's keys, unwrapped in memory.
pub struct Keyring {
    department: String,
    data: BTreeMap<KeyId, DataKey>,
    active: KeyId,
    index: IndexKey,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("department", &self.department)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

impl Keyring {
    /// A keyring from unwrapped keys; `active` must be one of `data`.
    pub fn new(
        department: &str,
        data: BTreeMap<KeyId, DataKey>,
        active: KeyId,
        index: IndexKey,
    ) -> Result<Self, CryptoError> {
        if !data.contains_key(&active) {
            return Err(CryptoError::UnknownKey(active));
        }
        Ok(Keyring {
            department: department.to_owned(),
            data,
            active,
            index,
        })
    }

    /// The data key new writes are sealed with.
    pub fn active_key(&self) -> KeyId {
        self.active
    }

    /// Whether `key` is known.
    pub fn has_key(&self, key: KeyId) -> bool {
        self.data.contains_key(&key)
    }

    fn aad(&self, context: &str) -> Vec<u8> {
        // The department and the record's identity are bound into every seal, so a sealed
        // value copied into another row or another department's database fails to open.
        let mut aad = Vec::with_capacity(self.department.len() + context.len() + 1);
        aad.extend_from_slice(self.department.as_bytes());
        aad.push(0);
        aad.extend_from_slice(context.as_bytes());
        aad
    }

    /// Seal `plaintext` for the record named by `context` with the active key.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> (KeyId, Vec<u8>) {
        let key = &self.data[&self.active];
        (
            self.active,
            seal_with(&key.key, &self.aad(context), plaintext),
        )
    }

    /// Open a value sealed for `context` with data key `key`.
    pub fn open(&self, key: KeyId, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let data = self.data.get(&key).ok_or(CryptoError::UnknownKey(key))?;
        open_with(&data.key, &self.aad(context), sealed)
    }

    /// The blind token of one normalised value: HMAC over the parts, each length-prefixed so
    /// no two different part lists collide.
    pub fn token(&self, parts: &[&str]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.index.key);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        ctx.sign().as_ref()[..TOKEN_LEN].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(department: &str) -> Keyring {
        let mut data = BTreeMap::new();
        data.insert(1, DataKey::from_bytes(&[1; 32]).unwrap());
        Keyring::new(department, data, 1, IndexKey::from_bytes(&[2; 32]).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_record_opens_only_in_its_own_place() {
        let emergency = ring("emergency");
        let (key, sealed) = emergency.seal("fhir/Patient/1/1", b"{\"name\":\"O'Brien\"}");
        assert!(!sealed.windows(7).any(|w| w == b"O'Brien"));
        assert_eq!(
            emergency.open(key, "fhir/Patient/1/1", &sealed).unwrap(),
            b"{\"name\":\"O'Brien\"}"
        );
        assert!(emergency.open(key, "fhir/Patient/2/1", &sealed).is_err());
        assert!(
            ring("record")
                .open(key, "fhir/Patient/1/1", &sealed)
                .is_err()
        );
        assert!(matches!(
            emergency.open(9, "fhir/Patient/1/1", &sealed),
            Err(CryptoError::UnknownKey(9))
        ));
    }

    #[test]
    fn tokens_are_deterministic_and_unambiguous() {
        let r = ring("emergency");
        assert_eq!(r.token(&["a", "bc"]), r.token(&["a", "bc"]));
        assert_ne!(r.token(&["a", "bc"]), r.token(&["ab", "c"]));
        assert_eq!(r.token(&["x"]).len(), TOKEN_LEN);
    }
}
