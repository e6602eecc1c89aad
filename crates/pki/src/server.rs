//! The gateway's server certificate, issued by the hospital CA and renewed before it expires.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use crate::PkiError;
use crate::ca::HospitalCa;
use crate::files::write_atomically;

/// The server certificate's file name in the data folder.
pub const SERVER_CERT_FILE: &str = "server.pem";
/// The server private key's file name in the data folder (mode 0600).
pub const SERVER_KEY_FILE: &str = "server-key.pem";

/// How long a development server certificate is valid (the browsers' limit).
const SERVER_VALIDITY_DAYS: u32 = 397;
/// A server certificate expiring sooner than this is renewed at start.
const RENEW_BEFORE: Duration = Duration::days(30);

/// Where the server certificate and key are, and whether they were just (re)issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFiles {
    /// Certificate, PEM.
    pub certificate: PathBuf,
    /// Private key, PEM (mode 0600).
    pub private_key: PathBuf,
    /// Whether a new certificate was issued (first run, expiring soon, other names, new CA).
    pub issued: bool,
}

/// Makes sure `dir` holds a server certificate from `ca` for `names` (for example
/// `["localhost", "127.0.0.1", "::1"]`) valid for at least 30 more days; issues one if not.
pub fn ensure_server_certificate(
    dir: &Path,
    ca: &HospitalCa,
    names: &[String],
) -> Result<ServerFiles, PkiError> {
    let certificate = dir.join(SERVER_CERT_FILE);
    let private_key = dir.join(SERVER_KEY_FILE);
    let current = private_key.exists() && still_good(&certificate, ca, names);
    if !current {
        let issued = ca.issue_server(names, SERVER_VALIDITY_DAYS)?;
        write_atomically(&private_key, issued.private_key_pem.as_bytes(), true)?;
        write_atomically(&certificate, issued.certificate_pem.as_bytes(), false)?;
    } else {
        crate::files::check_private(&private_key)?;
    }
    Ok(ServerFiles {
        certificate,
        private_key,
        issued: !current,
    })
}

/// Whether the certificate at `path` was signed by `ca`, names exactly `names`, and is valid
/// for at least [`RENEW_BEFORE`].
fn still_good(path: &Path, ca: &HospitalCa, names: &[String]) -> bool {
    let Ok(der) = CertificateDer::from_pem_file(path) else {
        return false;
    };
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let Ok((_, ca_certificate)) = x509_parser::parse_x509_certificate(ca.certificate_der()) else {
        return false;
    };
    let signed_by_ca = certificate
        .verify_signature(Some(ca_certificate.public_key()))
        .is_ok();
    let fresh =
        certificate.validity().not_after.to_datetime() > OffsetDateTime::now_utc() + RENEW_BEFORE;
    let mut present: Vec<String> = match certificate.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => ip_text(bytes),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut wanted: Vec<String> = names
        .iter()
        .map(|n| {
            n.parse::<std::net::IpAddr>()
                .map_or_else(|_| n.clone(), |ip| ip.to_string())
        })
        .collect();
    present.sort();
    wanted.sort();
    signed_by_ca && fresh && present == wanted
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => hex::encode(bytes),
    }
}
