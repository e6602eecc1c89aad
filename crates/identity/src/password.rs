//! Passwords: Argon2id hashing at OWASP parameters, and the rules a new password must meet.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

/// The shortest password accepted (NIST SP 800-63B allows 8; hospitals share screens and
/// keyboards, so we ask for more).
pub const MIN_PASSWORD_LEN: usize = 12;

/// The longest password accepted: long enough for any passphrase, short enough that hashing
/// a hostile body cannot be used to burn CPU.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP Password Storage Cheat Sheet (2025): Argon2id, m = 19 MiB, t = 2, p = 1.
    pub const OWASP: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::OWASP
    }
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    /// Shorter than [`MIN_PASSWORD_LEN`].
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_LEN`].
    #[error("the password must be at most {MAX_PASSWORD_LEN} bytes long")]
    TooLong,
    /// In the list of common passwords.
    #[error("the password is one of the most common passwords")]
    Common,
    /// Contains the account name.
    #[error("the password must not contain the account name")]
    ContainsName,
    /// Made of a single repeated character.
    #[error("the password must not repeat a single character")]
    Repetitive,
}

/// Hashing failed (only with parameters Argon2 refuses).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords with one set of Argon2id parameters.
#[derive(Clone)]
pub struct PasswordHashing {
    argon2: Argon2<'static>,
    /// A hash of a random password with the same parameters, verified when the account is
    /// unknown so that the answer takes as long as for a wrong password.
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHashing").finish_non_exhaustive()
    }
}

impl PasswordHashing {
    /// Argon2id with `cost`.
    pub fn new(cost: HashCost) -> Result<Self, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hashing = PasswordHashing {
            argon2,
            dummy_hash: String::new(),
        };
        let random: [u8; 24] = rand::random();
        hashing.dummy_hash = hashing.hash(&hex::encode(random))?;
        Ok(hashing)
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt: [u8; 16] = rand::random();
        self.argon2
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `phc` (constant time inside Argon2's comparison).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        self.argon2
            .verify_password(password.as_bytes(), phc)
            .is_ok()
    }

    /// Spend the same work as a real verification, for an account that does not exist.
    pub fn verify_dummy(&self, password: &str) {
        let password = Zeroizing::new(password.chars().take(MAX_PASSWORD_LEN).collect::<String>());
        let _ = self.verify(&password, &self.dummy_hash);
    }
}

/// Check a new password for `account_name` against the rules.
pub fn check_new_password(account_name: &str, password: &str) -> Result<(), PasswordRejection> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordRejection::TooShort);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordRejection::TooLong);
    }
    let lower = password.to_lowercase();
    if common_passwords().contains(lower.as_str()) {
        return Err(PasswordRejection::Common);
    }
    if account_name.len() >= 3 && lower.contains(&account_name.to_lowercase()) {
        return Err(PasswordRejection::ContainsName);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordRejection::Repetitive);
    }
    Ok(())
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/common-passwords.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// A random password for a new account: 20 characters from an unambiguous alphabet
/// (about 100 bits).
pub fn generate_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = Zeroizing::new(String::with_capacity(20));
    let bytes: [u8; 20] = rand::random();
    for b in bytes {
        // 256 is not a multiple of 56; the bias is under 1 bit over the whole password.
        out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHashing {
        PasswordHashing::new(HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_hash_verifies_only_its_password() {
        let hashing = fast();
        let phc = hashing.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(hashing.verify("correct horse battery", &phc));
        assert!(!hashing.verify("correct horse batterx", &phc));
        assert!(!hashing.verify("anything", "not a phc string"));
    }

    #[test]
    fn owasp_parameters_are_in_the_hash() {
        let hashing = PasswordHashing::new(HashCost::OWASP).unwrap();
        let phc = hashing.hash("a long enough secret").unwrap();
        assert!(phc.contains("m=19456,t=2,p=1"), "{phc}");
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert_eq!(
            check_new_password("alice", "short1"),
            Err(PasswordRejection::TooShort)
        );
        assert_eq!(
            check_new_password("alice", "LeaveMeAlone"),
            Err(PasswordRejection::Common),
        );
        assert_eq!(
            check_new_password("alice", "ALICE-in-wonderland"),
            Err(PasswordRejection::ContainsName)
        );
        assert_eq!(
            check_new_password("bob", "aaaaaaaaaaaaaaa"),
            Err(PasswordRejection::Repetitive)
        );
        assert_eq!(
            check_new_password("bob", &"x".repeat(300)),
            Err(PasswordRejection::TooLong)
        );
        assert_eq!(check_new_password("alice", "ward round at seven"), Ok(()));
        assert_eq!(check_new_password("alice", &generate_password()), Ok(()));
    }
}
