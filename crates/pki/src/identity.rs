//! Who a client certificate says the client is: read on every mutual-TLS connection.

use std::fmt;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use crate::PkiError;

/// The largest certificate accepted for parsing; real device certificates are under 2 KiB.
const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// SHA-256 of a certificate's DER bytes (what `openssl x509 -fingerprint -sha256` prints,
/// written here in lower-case hex without colons).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateFingerprint(pub [u8; 32]);

impl CertificateFingerprint {
    /// The fingerprint of DER bytes.
    pub fn of(der: &[u8]) -> Self {
        CertificateFingerprint(Sha256::digest(der).into())
    }

    /// Reads 64 hex digits (colons allowed, any case).
    pub fn parse(text: &str) -> Option<Self> {
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(digits.to_ascii_lowercase()).ok()?;
        bytes.try_into().ok().map(CertificateFingerprint)
    }
}

impl fmt::Display for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateFingerprint({self})")
    }
}

/// The identity in a device certificate, as the gateway attaches it to each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The subject, RFC 4514 style (`CN=pump-7, OU=devices, O=wardgate devices`).
    pub subject: String,
    /// The device name (`urn:wardgate:device:NAME`, else the common name).
    pub name: String,
    /// The device's zone (`urn:wardgate:zone:ZONE`, else the organizational unit).
    pub zone: String,
    /// SHA-256 of the certificate.
    pub fingerprint: CertificateFingerprint,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl DeviceIdentity {
    /// Reads the identity from a certificate's DER bytes. This does not verify the
    /// certificate: the TLS handshake has done that against the hospital CA.
    pub fn from_der(der: &[u8]) -> Result<DeviceIdentity, PkiError> {
        if der.len() > MAX_CERTIFICATE_BYTES {
            return Err(PkiError::NotACertificate);
        }
        let (_, certificate) =
            x509_parser::parse_x509_certificate(der).map_err(|_| PkiError::NotACertificate)?;
        let mut name = None;
        let mut zone = None;
        if let Ok(Some(san)) = certificate.subject_alternative_name() {
            for general_name in &san.value.general_names {
                if let GeneralName::URI(uri) = general_name {
                    if let Some(n) = uri.strip_prefix("urn:wardgate:device:") {
                        name = Some(n.to_owned());
                    } else if let Some(z) = uri.strip_prefix("urn:wardgate:zone:") {
                        zone = Some(z.to_owned());
                    }
                }
            }
        }
        let subject = certificate.subject();
        let name = name
            .or_else(|| first_value(subject.iter_common_name()))
            .filter(|n| !n.is_empty())
            .ok_or(PkiError::NotADeviceCertificate("device name"))?;
        let zone = zone
            .or_else(|| first_value(subject.iter_organizational_unit()))
            .filter(|z| !z.is_empty())
            .ok_or(PkiError::NotADeviceCertificate("zone"))?;
        Ok(DeviceIdentity {
            subject: subject.to_string(),
            name,
            zone,
            fingerprint: CertificateFingerprint::of(der),
            serial: hex::encode(certificate.raw_serial()),
            not_after: certificate.validity().not_after.to_datetime(),
        })
    }
}

/// The first value of a subject attribute, as text.
fn first_value<'a>(
    mut values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    values
        .next()
        .and_then(|v| v.as_str().ok())
        .map(str::to_owned)
}
