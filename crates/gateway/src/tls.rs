//! TLS of the public listener: rustls with the `ring` provider, TLS 1.2+, ALPN h2 and
//! http/1.1, and optional client certificates verified against the hospital CA.
//!
//! Client certificates are optional at the handshake: whether a department or zone requires
//! one is the policy's decision, made per request in the pipeline, so that a clinician's
//! browser and an infusion pump can share one listener.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use wardgate_policy::TlsVersion;

use crate::error::GatewayError;

/// The certificates and key the public listener presents and trusts.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The server's certificate chain, leaf first.
    pub certificate_chain: Vec<CertificateDer<'static>>,
    /// The server's private key.
    pub private_key: PrivateKeyDer<'static>,
    /// CAs whose device certificates are accepted; empty: no client certificates.
    pub client_cas: Vec<CertificateDer<'static>>,
}

impl TlsMaterial {
    /// Read PEM files: the certificate chain, its key, and (optionally) the device CA.
    pub fn from_pem_files(
        certificate: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<Self, GatewayError> {
        let read_certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, GatewayError> {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| GatewayError::Tls(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(GatewayError::Tls(format!(
                    "{}: no certificate found",
                    path.display()
                )));
            }
            Ok(certs)
        };
        let certificate_chain = read_certs(certificate)?;
        let private_key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| GatewayError::Tls(format!("{}: {e}", key.display())))?;
        let client_cas = match client_ca {
            Some(path) => read_certs(path)?,
            None => Vec::new(),
        };
        Ok(TlsMaterial {
            certificate_chain,
            private_key,
            client_cas,
        })
    }
}

/// A rustls server configuration for the public listener.
pub fn server_config(
    material: TlsMaterial,
    min_version: TlsVersion,
) -> Result<Arc<ServerConfig>, GatewayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    let builder = if material.client_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for ca in material.client_cas {
            roots
                .add(ca)
                .map_err(|e| GatewayError::Tls(format!("device CA: {e}")))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| GatewayError::Tls(format!("device CA: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(material.certificate_chain, material.private_key)
        .map_err(|e| GatewayError::Tls(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
