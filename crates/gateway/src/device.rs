//! The identity a verified client certificate gives a device.

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Who a device is, from its client certificate (already verified against the hospital CA
/// during the TLS handshake). Attached to every exchange the device makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceIdentity {
    /// The certificate's subject, as an RFC 4514 string.
    pub subject: String,
    /// The subject's common name: the device's name.
    pub name: Option<String>,
    /// The device zone the certificate was issued for (its organizational unit).
    pub zone: Option<String>,
    /// SHA-256 of the certificate (DER), lower-case hex.
    pub fingerprint: String,
    /// The certificate's serial number, hex.
    pub serial: String,
}

impl DeviceIdentity {
    /// Read the identity from a certificate's DER bytes; `None` if it does not parse (which
    /// cannot happen for a certificate the verifier accepted, but a parser never assumes).
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, certificate) = X509Certificate::from_der(der).ok()?;
        let subject = certificate.subject();
        let first = |attributes: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| {
            attributes
                .next()
                .and_then(|a| a.as_str().ok())
                .map(str::to_owned)
        };
        Some(DeviceIdentity {
            subject: subject.to_string(),
            name: first(&mut subject.iter_common_name()),
            zone: first(&mut subject.iter_organizational_unit()),
            fingerprint: hex::encode(Sha256::digest(der)),
            serial: certificate.raw_serial_as_string().replace(':', ""),
        })
    }
}
