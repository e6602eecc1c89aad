//! Keys and encryption at rest: the master key, each department's wrapped data and index keys,
//! sealing (AES-256-GCM) and blind index tokens (HMAC-SHA-256).
//!
//! The hierarchy: one master key per installation (a 32-byte file, or derived from a
//! passphrase with Argon2id) wraps, for every department, a data key (versioned: a rotation
//! adds a new one and re-encrypts in the background) and an index key (for blind index
//! tokens). The wrapped keys live in the department's own database, so a copied database
//! without the master key reveals nothing, and a department's service only ever holds its own
//! unwrapped keys.

mod keyring;
mod master;

pub use keyring::{DataKey, IndexKey, KeyId, Keyring};
pub use master::{MASTER_KEY_FILE, MASTER_SALT_FILE, MasterKey};

/// A failure of key handling or of opening sealed data.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The master key file or salt could not be read or written.
    #[error("master key file: {0}")]
    Io(#[from] std::io::Error),
    /// A key file or wrapped key does not have the expected length.
    #[error("a key has the wrong length")]
    BadKeyLength,
    /// A sealed value was altered, or sealed with another key or for another record.
    #[error("a sealed value failed authentication")]
    Tampered,
    /// The passphrase could not be turned into a key.
    #[error("key derivation failed")]
    Kdf,
    /// No key with this id is known to the keyring.
    #[error("no key {0} in the department keyring")]
    UnknownKey(i64),
    /// A wrapped key was wrapped by another master key than the one loaded.
    #[error("the department's keys were wrapped by another master key ({0})")]
    WrongMaster(String),
}

/// The length of every symmetric key here.
pub const KEY_LEN: usize = 32;

/// Seal `plaintext` with `key` (AES-256-GCM, random nonce), binding `aad`.
///
/// The output is `nonce || ciphertext || tag`.
pub(crate) fn seal_with(key: &ring::aead::LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    use ring::aead::{Aad, NONCE_LEN, Nonce};
    let nonce_bytes: [u8; NONCE_LEN] = rand::random();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce_bytes);
    let mut body = plaintext.to_vec();
    // Sealing only fails for inputs over 64 GiB, which no caller can produce.
    if key
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut body,
        )
        .is_err()
    {
        body.clear();
    }
    out.extend_from_slice(&body);
    out
}

/// Open a value sealed by [`seal_with`].
pub(crate) fn open_with(
    key: &ring::aead::LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    use ring::aead::{Aad, NONCE_LEN, Nonce};
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Tampered);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Tampered)?;
    let mut body = body.to_vec();
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| CryptoError::Tampered)?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

pub(crate) fn aead_key(bytes: &[u8]) -> Result<ring::aead::LessSafeKey, CryptoError> {
    let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, bytes)
        .map_err(|_| CryptoError::BadKeyLength)?;
    Ok(ring::aead::LessSafeKey::new(unbound))
}
