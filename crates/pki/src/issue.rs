//! Issuing certificates from the hospital CA: device (client) and server certificates.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::PkiError;
use crate::ca::HospitalCa;
use crate::files::write_atomically;
use crate::identity::CertificateFingerprint;

/// The longest validity a device certificate may have, in days (the CA/Browser Forum's old
/// maximum; devices are renewed long before).
pub const MAX_DEVICE_DAYS: u32 = 825;

/// A freshly issued certificate and its private key.
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The private key, PKCS#8 PEM; wiped from memory when dropped.
    pub private_key_pem: Zeroizing<String>,
    /// SHA-256 of the certificate's DER bytes.
    pub fingerprint: CertificateFingerprint,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("fingerprint", &self.fingerprint)
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl IssuedCertificate {
    /// Writes `NAME.pem` and `NAME-key.pem` (mode 0600) into `out_dir`, creating it if
    /// needed, and returns their paths (certificate, key).
    pub fn write_files(&self, out_dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), PkiError> {
        check_device_name(name)?;
        std::fs::create_dir_all(out_dir).map_err(|e| PkiError::io(out_dir, e))?;
        let certificate = out_dir.join(format!("{name}.pem"));
        let key = out_dir.join(format!("{name}-key.pem"));
        write_atomically(&key, self.private_key_pem.as_bytes(), true)?;
        write_atomically(&certificate, self.certificate_pem.as_bytes(), false)?;
        Ok((certificate, key))
    }
}

/// A positive random 128-bit serial number (RFC 5280 asks for at most 20 octets, unpredictable).
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// Checks a device name: letters, digits, `.`, `_`, `-`; 1 to 64 characters.
pub fn check_device_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then_some(())
        .ok_or_else(|| PkiError::BadDeviceName(name.to_owned()))
}

/// Checks a zone name with the policy's grammar for zone names.
pub fn check_zone_name(zone: &str) -> Result<(), PkiError> {
    let mut chars = zone.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && zone.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    ok.then_some(())
        .ok_or_else(|| PkiError::BadZoneName(zone.to_owned()))
}

impl HospitalCa {
    /// Issues a client certificate for a device: `CN=name, OU=zone`, SAN URIs
    /// `urn:wardgate:device:NAME` and `urn:wardgate:zone:ZONE`, for client authentication only.
    pub fn issue_device(
        &self,
        name: &str,
        zone: &str,
        days: u32,
    ) -> Result<IssuedCertificate, PkiError> {
        check_device_name(name)?;
        check_zone_name(zone)?;
        if days == 0 || days > MAX_DEVICE_DAYS {
            return Err(PkiError::BadValidity(days));
        }
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, "wardgate devices");
        subject.push(DnType::OrganizationalUnitName, zone);
        subject.push(DnType::CommonName, name);
        params.distinguished_name = subject;
        params.subject_alt_names = vec![
            SanType::URI(format!("urn:wardgate:device:{name}").try_into()?),
            SanType::URI(format!("urn:wardgate:zone:{zone}").try_into()?),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, i64::from(days))
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses).
    pub fn issue_server(&self, names: &[String], days: u32) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, "wardgate");
        subject.push(
            DnType::CommonName,
            names.first().map_or("localhost", String::as_str),
        );
        params.distinguished_name = subject;
        for name in names {
            params.subject_alt_names.push(match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(name.clone().try_into()?),
            });
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, i64::from(days))
    }

    fn sign(
        &self,
        mut params: CertificateParams,
        days: i64,
    ) -> Result<IssuedCertificate, PkiError> {
        let now = OffsetDateTime::now_utc();
        // A few minutes of slack for clocks that run slightly behind ours.
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(days);
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        let der = certificate.der().to_vec();
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            fingerprint: CertificateFingerprint::of(&der),
            certificate_der: der,
            private_key_pem: Zeroizing::new(key.serialize_pem()),
            serial: hex::encode(serial.to_bytes()),
            not_before: params.not_before,
            not_after: params.not_after,
        })
    }
}
