//! The development certificate authority in the data folder, so that `wardgate serve` runs
//! over TLS on a fresh clone with nothing to configure.
//!
//! Interim home: the pki crate owns the hospital CA (`wardgate cert`); until its API lands
//! this module creates the same kind of files (`ca.pem`, `ca-key.pem`, `server.pem`,
//! `server-key.pem`) and the serve command will switch to the pki crate's functions.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::GatewayError;

/// The files of the development TLS set-up.
#[derive(Debug, Clone)]
pub struct DevelopmentTls {
    /// The CA certificate to trust (`ca.pem`); it also verifies device certificates.
    pub ca_certificate: PathBuf,
    /// The gateway's server certificate (`server.pem`), for localhost and 127.0.0.1.
    pub server_certificate: PathBuf,
    /// Its private key (`server-key.pem`, mode 0600).
    pub server_key: PathBuf,
    /// Whether this call created the CA (first run).
    pub created_ca: bool,
}

fn tls_error(what: &str, error: impl std::fmt::Display) -> GatewayError {
    GatewayError::Tls(format!("development CA: {what}: {error}"))
}

/// Create the development CA and a server certificate in `data_dir` if they are missing,
/// and return where they are.
pub fn ensure_development_tls(data_dir: &Path) -> Result<DevelopmentTls, GatewayError> {
    let ca_certificate = data_dir.join("ca.pem");
    let ca_key_path = data_dir.join("ca-key.pem");
    let server_certificate = data_dir.join("server.pem");
    let server_key = data_dir.join("server-key.pem");
    std::fs::create_dir_all(data_dir).map_err(|e| tls_error("creating the data folder", e))?;

    let created_ca = !(ca_certificate.exists() && ca_key_path.exists());
    let issuer = if created_ca {
        let key = KeyPair::generate().map_err(|e| tls_error("generating the CA key", e))?;
        let mut params = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| tls_error("CA parameters", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "wardgate development CA");
        params.distinguished_name.push(
            DnType::OrganizationName,
            "wardgate (development, not for production)",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let certificate = params
            .self_signed(&key)
            .map_err(|e| tls_error("self-signing", e))?;
        write_file(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
        write_file(&ca_certificate, certificate.pem().as_bytes(), false)?;
        Issuer::new(params, key)
    } else {
        let key_pem = std::fs::read_to_string(&ca_key_path)
            .map_err(|e| tls_error("reading ca-key.pem", e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| tls_error("ca-key.pem", e))?;
        let ca_pem =
            std::fs::read_to_string(&ca_certificate).map_err(|e| tls_error("reading ca.pem", e))?;
        Issuer::from_ca_cert_pem(&ca_pem, key).map_err(|e| tls_error("ca.pem", e))?
    };

    if created_ca || !(server_certificate.exists() && server_key.exists()) {
        let key = KeyPair::generate().map_err(|e| tls_error("generating the server key", e))?;
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let mut params =
            CertificateParams::new(names).map_err(|e| tls_error("server parameters", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "wardgate gateway (localhost)");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(397);
        let certificate = params
            .signed_by(&key, &issuer)
            .map_err(|e| tls_error("signing the server certificate", e))?;
        write_file(&server_key, key.serialize_pem().as_bytes(), true)?;
        write_file(&server_certificate, certificate.pem().as_bytes(), false)?;
    }
    Ok(DevelopmentTls {
        ca_certificate,
        server_certificate,
        server_key,
        created_ca,
    })
}

/// Write a file whole; private keys are created readable by their owner only.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), GatewayError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| tls_error(&path.display().to_string(), e))?;
    file.write_all(bytes)
        .map_err(|e| tls_error(&path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_ca_is_created_once_and_its_server_certificate_loads() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_development_tls(dir.path()).unwrap();
        assert!(first.created_ca);
        let ca = std::fs::read(&first.ca_certificate).unwrap();
        let second = ensure_development_tls(dir.path()).unwrap();
        assert!(!second.created_ca);
        assert_eq!(std::fs::read(&second.ca_certificate).unwrap(), ca);
        let material = crate::TlsMaterial::from_pem_files(
            &second.server_certificate,
            &second.server_key,
            Some(&second.ca_certificate),
        )
        .unwrap();
        assert!(crate::server_config(material, wardgate_policy::TlsVersion::Tls12).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&second.server_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the server key is readable by others");
        }
    }
}
