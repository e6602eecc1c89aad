//! Second factors: TOTP (RFC 6238) and one-time recovery codes.
//!
//! A TOTP code is accepted once only: the store keeps the last time step spent and refuses any
//! step at or before it, in one conditional update, so two nodes cannot both accept a code.
//! Recovery codes are 80 random bits each; only their SHA-256 is stored (a slow hash buys
//! nothing against 80 bits of entropy and would cost a full Argon2 run per stored code).

use base64::Engine;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// The TOTP time step in seconds (what every authenticator app uses).
pub const TOTP_STEP_SECONDS: u64 = 30;

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// An MFA failure.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The secret or account name was refused by the TOTP library.
    #[error("TOTP setup failed: {0}")]
    Setup(String),
}

/// What a user needs to enrol an authenticator app.
pub struct TotpEnrolment {
    /// The secret in base32, for manual entry.
    pub secret_base32: Zeroizing<String>,
    /// The `otpauth://totp/...` URI.
    pub otpauth_uri: Zeroizing<String>,
    /// The URI as a QR code: a PNG image, base64.
    pub qr_png_base64: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(..)")
    }
}

/// A fresh 160-bit TOTP secret (the size RFC 4226 recommends for HMAC-SHA1).
pub fn new_totp_secret() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(rand::random::<[u8; 20]>().to_vec())
}

fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<Totp, MfaError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|e| MfaError::Setup(e.to_string()))
}

/// The enrolment data (URI, QR code) for `secret`.
pub fn enrolment(secret: &[u8], account: &str, issuer: &str) -> Result<TotpEnrolment, MfaError> {
    let totp = totp(secret, account, issuer)?;
    let uri = totp.to_url().map_err(|e| MfaError::Setup(e.to_string()))?;
    let png = totp
        .to_qr_png()
        .map_err(|e| MfaError::Setup(e.to_string()))?;
    Ok(TotpEnrolment {
        secret_base32: Zeroizing::new(totp.secret().to_base32()),
        otpauth_uri: Zeroizing::new(uri),
        qr_png_base64: base64::engine::general_purpose::STANDARD.encode(png),
    })
}

/// The time step a code matches at `now` (one step of clock skew either way), if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = Builder::new()
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_secret(secret.to_vec())
        .build()
        .ok()?;
    totp.check(code, now)
}

/// The code for `secret` at `now` (what an authenticator app shows; used by tests and the
/// demo printout).
pub fn current_code(secret: &[u8], now: u64) -> String {
    match Builder::new()
        .with_digits(6)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_secret(secret.to_vec())
        .build()
    {
        Ok(totp) => totp.generate(now).to_string(),
        Err(_) => String::new(),
    }
}

/// Fresh recovery codes, formatted `xxxx-xxxx-xxxx-xxxx` (base32, 80 bits each).
pub fn new_recovery_codes() -> Vec<Zeroizing<String>> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let bytes: [u8; 16] = rand::random();
            let mut code = Zeroizing::new(String::with_capacity(19));
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                code.push(char::from(ALPHABET[usize::from(b & 31)]));
            }
            code
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of its normalised text.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// Whether `code` looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(code: &str) -> bool {
    code.len() == 19 && code.bytes().filter(|b| *b == b'-').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_gives_a_uri_and_a_png_qr_code() {
        let secret = new_totp_secret();
        let e = enrolment(&secret, "dr.house", "wardgate").unwrap();
        assert!(
            e.otpauth_uri
                .starts_with("otpauth://totp/wardgate:dr.house?"),
            "{}",
            *e.otpauth_uri
        );
        assert!(e.otpauth_uri.contains(&*e.secret_base32));
        let png = base64::engine::general_purpose::STANDARD
            .decode(&e.qr_png_base64)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn the_code_of_now_matches_this_step_and_neighbours_only() {
        let secret = new_totp_secret();
        let now = 1_800_000_000;
        let code = current_code(&secret, now);
        assert_eq!(matching_step(&secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 120), None);
        assert_eq!(matching_step(&secret, "12345a", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_normalised() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        assert!(codes.iter().all(|c| is_recovery_code(c)));
        let first = &codes[0];
        assert_eq!(
            recovery_code_hash(first),
            recovery_code_hash(&first.to_uppercase())
        );
        assert_ne!(recovery_code_hash(first), recovery_code_hash(&codes[1]));
    }
}
