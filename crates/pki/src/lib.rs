//! The hospital certificate authority: development CA, server and device certificates.
//!
//! Owns: the development CA in the data folder (`ca.pem`, `ca-key.pem`), the gateway's server
//! certificate (`server.pem`, `server-key.pem`, renewed before it expires), device
//! certificates for mutual TLS with the device's zone inside (`OU=zone` and the SAN URIs
//! `urn:wardgate:device:NAME`, `urn:wardgate:zone:ZONE`), the inventory of issued devices
//! (`devices.json`), revocation (the inventory and a signed CRL, `crl.pem`), and reading a
//! presented certificate back into a [`DeviceIdentity`].
//!
//! Must not know about: sockets, TLS sessions or the policy. The gateway verifies the chain
//! (rustls' `WebPkiClientVerifier` with [`HospitalCa::certificate_der`] as the root), then asks
//! [`DeviceIdentity::from_der`] who the client is and [`RevocationList::is_revoked`] whether
//! it was revoked since.
//!
//! Keys are ECDSA P-256 (rcgen with ring). Private key PEM text is held in
//! `Zeroizing<String>` and wiped when dropped; rcgen's `KeyPair` does not zeroize its own copy.
#![forbid(unsafe_code)]

mod ca;
mod files;
mod identity;
mod inventory;
mod issue;
mod server;

pub use ca::{CA_CERT_FILE, CA_KEY_FILE, HospitalCa};
pub use files::{DATA_ENV, DEFAULT_DATA_DIR, create_data_dir, data_dir};
pub use identity::{CertificateFingerprint, DeviceIdentity};
pub use inventory::{
    CRL_FILE, DeviceRecord, DeviceStatus, INVENTORY_FILE, Inventory, RevocationList,
};
pub use issue::{IssuedCertificate, MAX_DEVICE_DAYS, check_device_name, check_zone_name};
pub use server::{SERVER_CERT_FILE, SERVER_KEY_FILE, ServerFiles, ensure_server_certificate};

use std::path::{Path, PathBuf};

/// What can go wrong with certificates and the files that hold them.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A private key file is readable by others than its owner.
    #[error("{path} is readable by other users (mode {mode:o}): run `chmod 600 {path}`")]
    KeyFileTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A PEM file holds no certificate or key, or a malformed one.
    #[error("{path}: {what}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Certificate generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// Bytes that are not an X.509 certificate.
    #[error("not a valid X.509 certificate")]
    NotACertificate,
    /// A certificate without the device name and zone wardgate puts in device certificates.
    #[error("not a wardgate device certificate: it names no {0}")]
    NotADeviceCertificate(&'static str),
    /// A device name that cannot be used.
    #[error("invalid device name {0:?}: use letters, digits, `.`, `_` and `-` (at most 64)")]
    BadDeviceName(String),
    /// A zone name that cannot be used.
    #[error(
        "invalid zone name {0:?}: use lower-case letters, digits, `_` and `-`, starting with a letter"
    )]
    BadZoneName(String),
    /// A validity outside what is accepted.
    #[error("invalid validity of {0} days: choose 1 to {MAX_DEVICE_DAYS}")]
    BadValidity(u32),
    /// A device with this name already has a valid certificate.
    #[error("device {0:?} already has a certificate that is not revoked: revoke it first")]
    AlreadyIssued(String),
    /// No device with this name in the inventory.
    #[error("no device named {0:?} in the inventory")]
    UnknownDevice(String),
    /// The inventory file cannot be read.
    #[error("{path}: the inventory is not valid JSON: {reason}")]
    BadInventory {
        /// The inventory file.
        path: PathBuf,
        /// The JSON error.
        reason: String,
    },
}

impl PkiError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        PkiError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
