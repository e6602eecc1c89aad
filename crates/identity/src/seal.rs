//! The data key that seals secrets at rest (TOTP secrets, token signing keys).
//!
//! AES-256-GCM with a random 96-bit nonce per sealing and the purpose as associated data, so a
//! sealed TOTP secret cannot be swapped in where a signing key is expected. The key itself is a
//! 32-byte file readable by its owner only (`identity.key` in the data directory); every node of
//! a PostgreSQL deployment needs the same file.

use std::io::Write;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// The file name of the data key in the data directory.
pub const DATA_KEY_FILE: &str = "identity.key";

/// A sealing or unsealing failure.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file could not be read or written.
    #[error("data key file: {0}")]
    Io(#[from] std::io::Error),
    /// The key file does not hold 32 bytes.
    #[error("the data key file must hold exactly 32 bytes")]
    BadKey,
    /// The sealed value was altered, or sealed with another key or for another purpose.
    #[error("a sealed value failed authentication")]
    Tampered,
}

/// The data key.
pub struct DataKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        Ok(DataKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Load the key from `dir/identity.key`, creating it (mode 0600) if missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, SealError> {
        let path = dir.join(DATA_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                Self::from_bytes(&bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let bytes = Zeroizing::new(rand::random::<[u8; 32]>());
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(&path)?;
                file.write_all(bytes.as_slice())?;
                file.sync_all()?;
                Self::from_bytes(bytes.as_slice())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Seal `plaintext` for `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce_bytes);
        let mut body = plaintext.to_vec();
        // Sealing with a valid key and a fresh nonce cannot fail; an error would mean ring
        // refused the length, which for our short secrets does not happen.
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut body,
            )
            .is_err()
        {
            body.clear();
        }
        out.extend_from_slice(&body);
        out
    }

    /// Open a value sealed for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(SealError::Tampered);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Tampered)?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), body.as_mut_slice())
            .map_err(|_| SealError::Tampered)?;
        Ok(Zeroizing::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let key = DataKey::load_or_create(dir.path()).unwrap();
        let sealed = key.seal("totp", b"secret bytes");
        assert_eq!(
            key.open("totp", &sealed).unwrap().as_slice(),
            b"secret bytes"
        );
        assert!(matches!(
            key.open("signing-key", &sealed),
            Err(SealError::Tampered)
        ));
        let mut altered = sealed.clone();
        altered[NONCE_LEN] ^= 1;
        assert!(key.open("totp", &altered).is_err());

        let again = DataKey::load_or_create(dir.path()).unwrap();
        assert_eq!(
            again.open("totp", &sealed).unwrap().as_slice(),
            b"secret bytes"
        );
        let other = DataKey::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open("totp", &sealed).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        DataKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(DATA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
