//! Device certificates in real mutual-TLS handshakes on 127.0.0.1: verified against the
//! hospital CA with rustls' `WebPkiClientVerifier`, identity extracted, a certificate from
//! another CA refused, a revoked one refused once the CRL is in force.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wardgate_pki::{
    CRL_FILE, DeviceIdentity, HospitalCa, Inventory, IssuedCertificate, RevocationList,
    ensure_server_certificate,
};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &HospitalCa) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.certificate_der().clone()).unwrap();
    Arc::new(roots)
}

/// A server config for the gateway's certificate, requiring client certificates from `ca`.
fn server_config(dir: &Path, ca: &HospitalCa, with_crl: bool) -> Arc<ServerConfig> {
    let names = [
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let files = ensure_server_certificate(dir, ca, &names).unwrap();
    let chain = vec![CertificateDer::from_pem_file(&files.certificate).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&files.private_key).unwrap();
    let mut builder = WebPkiClientVerifier::builder_with_provider(roots(ca), provider());
    if with_crl {
        let crl = CertificateRevocationListDer::from_pem_file(dir.join(CRL_FILE)).unwrap();
        builder = builder.with_crls([crl]);
    }
    let verifier = builder.build().unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

fn client_config(trusted: &HospitalCa, device: &IssuedCertificate) -> Arc<ClientConfig> {
    let chain = vec![CertificateDer::from_pem_slice(device.certificate_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(device.private_key_pem.as_bytes()).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(trusted))
        .with_client_auth_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// Runs one handshake: the server answers with the identity it read from the client
/// certificate. Returns what the server saw (identity or handshake error).
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> Result<DeviceIdentity, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (_, session) = tls.get_ref();
        let presented = session.peer_certificates().ok_or("no client certificate")?;
        let identity = DeviceIdentity::from_der(&presented[0]).map_err(|e| e.to_string())?;
        tls.write_all(format!("{} {}", identity.name, identity.zone).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(identity)
    });
    let tcp = TcpStream::connect(address).await.unwrap();
    let client_side = async {
        let mut tls = TlsConnector::from(client)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    };
    let answer = client_side.await;
    let seen = serve.await.unwrap();
    if let Ok(identity) = &seen {
        assert_eq!(
            answer.as_deref(),
            Ok(format!("{} {}", identity.name, identity.zone).as_str())
        );
    }
    seen
}

#[tokio::test]
async fn a_device_certificate_verifies_against_the_ca_and_carries_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, created) = HospitalCa::load_or_create(dir.path()).unwrap();
    assert!(created);
    let device = Inventory::issue_device(dir.path(), &ca, "pump-7", "devices", 30).unwrap();

    let identity = handshake(
        server_config(dir.path(), &ca, false),
        client_config(&ca, &device),
    )
    .await
    .expect("the device certificate is accepted");
    assert_eq!(identity.name, "pump-7");
    assert_eq!(identity.zone, "devices");
    assert_eq!(identity.fingerprint, device.fingerprint);
    assert_eq!(identity.serial, device.serial);
    assert!(
        identity.subject.contains("CN=pump-7"),
        "{}",
        identity.subject
    );
    assert!(
        identity.subject.contains("OU=devices"),
        "{}",
        identity.subject
    );
    let days_left = (identity.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days_left), "{days_left}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let hospital = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (ca, _) = HospitalCa::load_or_create(hospital.path()).unwrap();
    let (rogue, _) = HospitalCa::load_or_create(elsewhere.path()).unwrap();
    let forged = rogue.issue_device("pump-7", "devices", 30).unwrap();

    let refused = handshake(
        server_config(hospital.path(), &ca, false),
        client_config(&ca, &forged),
    )
    .await;
    let error = refused.expect_err("a certificate from another CA must be refused");
    // Both development CAs carry the same name, so webpki finds "the" issuer and then
    // fails its signature check; a CA with another name gives UnknownIssuer.
    assert!(
        error.contains("invalid peer certificate")
            && (error.contains("BadSignature") || error.contains("UnknownIssuer")),
        "{error}"
    );
}

#[tokio::test]
async fn a_revoked_certificate_is_recorded_and_refused_with_the_crl() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = HospitalCa::load_or_create(dir.path()).unwrap();
    let pump = Inventory::issue_device(dir.path(), &ca, "pump-7", "devices", 30).unwrap();
    let analyser = Inventory::issue_device(dir.path(), &ca, "analyser-1", "devices", 30).unwrap();

    let revoked = Inventory::revoke(dir.path(), &ca, "pump-7").unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].fingerprint, pump.fingerprint.to_string());
    let list = RevocationList::load(dir.path()).unwrap();
    assert!(list.is_revoked(&pump.fingerprint));
    assert!(!list.is_revoked(&analyser.fingerprint));
    let inventory = Inventory::load(dir.path()).unwrap();
    let record = &inventory.records()[0];
    assert_eq!(record.name, "pump-7");
    assert!(record.revoked.is_some());

    let server = server_config(dir.path(), &ca, true);
    let refused = handshake(server.clone(), client_config(&ca, &pump)).await;
    let error = refused.expect_err("a revoked certificate must be refused");
    assert!(error.to_lowercase().contains("revoked"), "{error}");
    let accepted = handshake(server, client_config(&ca, &analyser)).await;
    assert_eq!(accepted.unwrap().name, "analyser-1");
}
