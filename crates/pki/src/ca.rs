//! The hospital certificate authority: created once in the data folder, loaded afterwards.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::PkiError;
use crate::files::{check_private, create_data_dir, write_atomically};
use crate::issue::random_serial;

/// The CA certificate's file name in the data folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key's file name in the data folder (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// How long the development CA is valid.
const CA_VALIDITY_DAYS: i64 = 10 * 365;

/// The hospital CA: signs the gateway's server certificate and the device certificates.
pub struct HospitalCa {
    certificate_pem: String,
    certificate_der: CertificateDer<'static>,
    certificate_path: PathBuf,
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for HospitalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("HospitalCa")
            .field("certificate_path", &self.certificate_path)
            .finish_non_exhaustive()
    }
}

impl HospitalCa {
    /// Loads the CA from `dir`, or creates it (and `dir`) on first run. Returns whether it was
    /// created.
    pub fn load_or_create(dir: &Path) -> Result<(HospitalCa, bool), PkiError> {
        if dir.join(CA_CERT_FILE).exists() || dir.join(CA_KEY_FILE).exists() {
            HospitalCa::load(dir).map(|ca| (ca, false))
        } else {
            HospitalCa::create(dir).map(|ca| (ca, true))
        }
    }

    /// Creates a new CA in `dir`, replacing none: fails if the files exist.
    pub fn create(dir: &Path) -> Result<HospitalCa, PkiError> {
        create_data_dir(dir)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "wardgate");
        name.push(DnType::CommonName, "wardgate development hospital CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());
        let certificate = params.self_signed(&key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        if key_path.exists() || cert_path.exists() {
            return Err(PkiError::io(
                &cert_path,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a CA already exists here",
                ),
            ));
        }
        write_atomically(&key_path, key_pem.as_bytes(), true)?;
        write_atomically(&cert_path, certificate.pem().as_bytes(), false)?;
        Ok(HospitalCa {
            certificate_pem: certificate.pem(),
            certificate_der: certificate.der().clone(),
            certificate_path: cert_path,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads the CA from `dir`. The key file must be readable by its owner only.
    pub fn load(dir: &Path) -> Result<HospitalCa, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        check_private(&key_path)?;
        let certificate_der =
            CertificateDer::from_pem_file(&cert_path).map_err(|e| PkiError::BadPem {
                path: cert_path.clone(),
                what: format!("no CA certificate: {e}"),
            })?;
        let key_der = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| PkiError::BadPem {
            path: key_path.clone(),
            what: format!("no private key: {e}"),
        })?;
        let key = KeyPair::try_from(&key_der).map_err(|e| PkiError::BadPem {
            path: key_path.clone(),
            what: format!("unusable private key: {e}"),
        })?;
        let issuer =
            Issuer::from_ca_cert_der(&certificate_der, key).map_err(|e| PkiError::BadPem {
                path: cert_path.clone(),
                what: format!("unusable CA certificate: {e}"),
            })?;
        let certificate_pem = crate::files::read_text(&cert_path)?;
        Ok(HospitalCa {
            certificate_pem,
            certificate_der,
            certificate_path: cert_path,
            issuer,
        })
    }

    /// The CA certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The CA certificate, DER: the trust anchor for verifying device certificates.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate_der
    }

    /// Where the CA certificate is (the file to distribute and trust).
    pub fn certificate_path(&self) -> &Path {
        &self.certificate_path
    }
}
