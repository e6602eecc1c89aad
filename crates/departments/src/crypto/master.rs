//! The master key: the one secret that unlocks every department's keys.

use std::io::Write;
use std::path::Path;

use ring::aead::LessSafeKey;
use zeroize::Zeroizing;

use super::{CryptoError, KEY_LEN, aead_key, open_with, seal_with};

/// The master key file in the data directory (32 random bytes, mode 0600).
pub const MASTER_KEY_FILE: &str = "master.key";

/// The salt of a passphrase-derived master key, beside it in the data directory.
pub const MASTER_SALT_FILE: &str = "master.salt";

/// The installation's master key. It never leaves memory and is never logged.
pub struct MasterKey {
    key: LessSafeKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKeyLength);
        }
        // The id names the key in `keys status` and in each wrapped key's row, without
        // revealing anything about it: a keyed hash of a fixed label.
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes),
            b"wardgate master key id",
        );
        Ok(MasterKey {
            key: aead_key(bytes)?,
            id: hex::encode(&tag.as_ref()[..8]),
        })
    }

    /// A fresh random master key.
    pub fn generate() -> (Self, Zeroizing<[u8; KEY_LEN]>) {
        let bytes = Zeroizing::new(rand::random::<[u8; KEY_LEN]>());
        // 32 bytes always make a valid key.
        let key = match Self::from_bytes(bytes.as_slice()) {
            Ok(key) => key,
            Err(_) => unreachable!("a 32-byte key is always valid"),
        };
        (key, bytes)
    }

    /// Load `dir/master.key`, creating it (mode 0600) on first run.
    pub fn load_or_create(dir: &Path) -> Result<Self, CryptoError> {
        let path = dir.join(MASTER_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_bytes(&Zeroizing::new(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let (key, bytes) = Self::generate();
                write_owner_only(&path, bytes.as_slice(), false)?;
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Load an existing key file (no creation).
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        Self::from_bytes(&Zeroizing::new(std::fs::read(path)?))
    }

    /// Derive the master key from a passphrase with Argon2id; the random salt is kept in
    /// `dir/master.salt` (created on first run).
    pub fn from_passphrase(dir: &Path, passphrase: &[u8]) -> Result<Self, CryptoError> {
        let salt_path = dir.join(MASTER_SALT_FILE);
        let salt = match std::fs::read(&salt_path) {
            Ok(salt) => salt,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let salt = rand::random::<[u8; 16]>().to_vec();
                write_owner_only(&salt_path, &salt, false)?;
                salt
            }
            Err(e) => return Err(e.into()),
        };
        // OWASP's second Argon2id profile (46 MiB, 1 pass): derived once at start-up.
        let params =
            argon2::Params::new(47_104, 1, 1, Some(KEY_LEN)).map_err(|_| CryptoError::Kdf)?;
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        argon2
            .hash_password_into(passphrase, &salt, out.as_mut_slice())
            .map_err(|_| CryptoError::Kdf)?;
        Self::from_bytes(out.as_slice())
    }

    /// Derive the master key from a passphrase held in the environment variable `var`.
    pub fn from_env_passphrase(dir: &Path, var: &str) -> Result<Self, CryptoError> {
        let passphrase = Zeroizing::new(std::env::var(var).map_err(|_| CryptoError::Kdf)?);
        Self::from_passphrase(dir, passphrase.as_bytes())
    }

    /// The key's public id (a keyed hash, safe to show).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wrap a department key; `label` binds it to its department, purpose and id.
    pub fn wrap(&self, label: &str, key: &[u8]) -> Vec<u8> {
        seal_with(&self.key, label.as_bytes(), key)
    }

    /// Unwrap a key wrapped by [`MasterKey::wrap`] with the same label.
    pub fn unwrap_key(
        &self,
        label: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        Ok(Zeroizing::new(open_with(
            &self.key,
            label.as_bytes(),
            wrapped,
        )?))
    }
}

/// Write `bytes` to a new file readable by its owner only; `replace` allows an existing file.
pub fn write_owner_only(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_owner_only_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path()).unwrap();
        let again = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let wrapped = first.wrap("emergency/data/1", &[7u8; 32]);
        assert_eq!(
            again
                .unwrap_key("emergency/data/1", &wrapped)
                .unwrap()
                .as_slice(),
            &[7u8; 32]
        );
        assert!(again.unwrap_key("radiology/data/1", &wrapped).is_err());
    }

    #[test]
    fn a_passphrase_derives_a_stable_key_and_another_passphrase_does_not_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let a = MasterKey::from_passphrase(dir.path(), b"correct horse").unwrap();
        let b = MasterKey::from_passphrase(dir.path(), b"correct horse").unwrap();
        let c = MasterKey::from_passphrase(dir.path(), b"wrong horse").unwrap();
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        let wrapped = a.wrap("x", b"secret key bytes");
        assert!(c.unwrap_key("x", &wrapped).is_err());
    }
}
