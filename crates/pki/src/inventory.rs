//! The inventory of issued device certificates, and revocation.
//!
//! `devices.json` in the data folder lists every device certificate ever issued (name, zone,
//! fingerprint, serial, issued, expires, revoked). Revoking marks the record and rewrites
//! `crl.pem`, a CRL signed by the CA. The gateway can use either:
//! - [`RevocationList`] (fingerprints of revoked certificates, from the inventory): checked
//!   after each handshake, cheap to reload when `devices.json` changes; and/or
//! - `crl.pem` given to rustls' `WebPkiClientVerifier::builder(..).with_crls(..)`: a revoked
//!   certificate then fails the handshake itself (reloading needs a new `ServerConfig`).

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::PkiError;
use crate::ca::HospitalCa;
use crate::files::{create_data_dir, write_atomically};
use crate::identity::CertificateFingerprint;
use crate::issue::IssuedCertificate;

/// The inventory's file name in the data folder.
pub const INVENTORY_FILE: &str = "devices.json";
/// The certificate revocation list's file name in the data folder.
pub const CRL_FILE: &str = "crl.pem";
/// Taken (with an OS file lock) while the inventory is being changed.
const LOCK_FILE: &str = "devices.lock";

/// One issued device certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRecord {
    /// Device name.
    pub name: String,
    /// Its zone.
    pub zone: String,
    /// SHA-256 of the certificate, lower-case hex.
    pub fingerprint: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// When it was issued (RFC 3339).
    pub issued: String,
    /// When it expires (RFC 3339).
    pub expires: String,
    /// When it was revoked (RFC 3339), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

/// Where a device certificate stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Neither revoked nor expired.
    Valid,
    /// Past its end of validity.
    Expired,
    /// Revoked.
    Revoked,
}

impl DeviceStatus {
    /// The word `wardgate cert list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Valid => "valid",
            DeviceStatus::Expired => "expired",
            DeviceStatus::Revoked => "revoked",
        }
    }
}

impl DeviceRecord {
    /// Valid, expired or revoked, now.
    pub fn status(&self) -> DeviceStatus {
        if self.revoked.is_some() {
            DeviceStatus::Revoked
        } else if self.is_active(OffsetDateTime::now_utc()) {
            DeviceStatus::Valid
        } else {
            DeviceStatus::Expired
        }
    }

    /// Whether the certificate is neither revoked nor expired at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked.is_none()
            && OffsetDateTime::parse(&self.expires, &Rfc3339).is_ok_and(|expires| expires > now)
    }
}

/// The inventory of device certificates in one data folder.
#[derive(Debug)]
pub struct Inventory {
    path: PathBuf,
    records: Vec<DeviceRecord>,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Holds the inventory's OS lock while alive.
struct InventoryLock(File);

impl InventoryLock {
    fn take(dir: &Path) -> Result<Self, PkiError> {
        create_data_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| PkiError::io(&path, e))?;
        file.lock().map_err(|e| PkiError::io(&path, e))?;
        Ok(InventoryLock(file))
    }
}

impl Drop for InventoryLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Inventory {
    /// Reads the inventory of `dir` (empty if there is none yet).
    pub fn load(dir: &Path) -> Result<Inventory, PkiError> {
        let path = dir.join(INVENTORY_FILE);
        let records = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PkiError::BadInventory {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(PkiError::io(&path, e)),
        };
        Ok(Inventory { path, records })
    }

    /// Every certificate issued, oldest first.
    pub fn records(&self) -> &[DeviceRecord] {
        &self.records
    }

    fn save(&self) -> Result<(), PkiError> {
        let mut json =
            serde_json::to_vec_pretty(&self.records).map_err(|e| PkiError::BadInventory {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        json.push(b'\n');
        write_atomically(&self.path, &json, false)
    }

    /// Issues a device certificate and records it. Refused if the device already has an
    /// active (not revoked, not expired) certificate: revoke that one first.
    pub fn issue_device(
        dir: &Path,
        ca: &HospitalCa,
        name: &str,
        zone: &str,
        days: u32,
    ) -> Result<IssuedCertificate, PkiError> {
        let _lock = InventoryLock::take(dir)?;
        let mut inventory = Inventory::load(dir)?;
        let now = OffsetDateTime::now_utc();
        if inventory
            .records
            .iter()
            .any(|r| r.name == name && r.is_active(now))
        {
            return Err(PkiError::AlreadyIssued(name.to_owned()));
        }
        let issued = ca.issue_device(name, zone, days)?;
        inventory.records.push(DeviceRecord {
            name: name.to_owned(),
            zone: zone.to_owned(),
            fingerprint: issued.fingerprint.to_string(),
            serial: issued.serial.clone(),
            issued: rfc3339(now),
            expires: rfc3339(issued.not_after),
            revoked: None,
        });
        inventory.save()?;
        Ok(issued)
    }

    /// Revokes every unrevoked certificate of device `name` and rewrites the CRL. Returns the
    /// records it revoked (empty if they all were already).
    pub fn revoke(dir: &Path, ca: &HospitalCa, name: &str) -> Result<Vec<DeviceRecord>, PkiError> {
        let _lock = InventoryLock::take(dir)?;
        let mut inventory = Inventory::load(dir)?;
        if !inventory.records.iter().any(|r| r.name == name) {
            return Err(PkiError::UnknownDevice(name.to_owned()));
        }
        let now = OffsetDateTime::now_utc();
        let mut revoked = Vec::new();
        for record in inventory
            .records
            .iter_mut()
            .filter(|r| r.name == name && r.revoked.is_none())
        {
            record.revoked = Some(rfc3339(now));
            revoked.push(record.clone());
        }
        inventory.save()?;
        inventory.write_crl(dir, ca)?;
        Ok(revoked)
    }

    /// Writes `crl.pem`: every revoked certificate of the inventory, signed by the CA.
    pub fn write_crl(&self, dir: &Path, ca: &HospitalCa) -> Result<(), PkiError> {
        let now = OffsetDateTime::now_utc();
        let revoked_certs = self
            .records
            .iter()
            .filter_map(|r| {
                let revoked_at = OffsetDateTime::parse(r.revoked.as_deref()?, &Rfc3339).ok()?;
                Some(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&hex::decode(&r.serial).ok()?),
                    revocation_time: revoked_at,
                    reason_code: Some(RevocationReason::CessationOfOperation),
                    invalidity_date: None,
                })
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(30),
            // Increases with every CRL written, as RFC 5280 asks.
            crl_number: SerialNumber::from_slice(&now.unix_timestamp().to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&ca.issuer)?;
        write_atomically(&dir.join(CRL_FILE), crl.pem()?.as_bytes(), false)
    }
}

/// Fingerprints of revoked device certificates: what the gateway checks on each connection.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    revoked: HashSet<CertificateFingerprint>,
}

impl RevocationList {
    /// The revoked certificates recorded in the inventory of `dir`.
    pub fn load(dir: &Path) -> Result<RevocationList, PkiError> {
        let inventory = Inventory::load(dir)?;
        let revoked = inventory
            .records
            .iter()
            .filter(|r| r.revoked.is_some())
            .filter_map(|r| CertificateFingerprint::parse(&r.fingerprint))
            .collect();
        Ok(RevocationList { revoked })
    }

    /// Whether the certificate with this fingerprint was revoked.
    pub fn is_revoked(&self, fingerprint: &CertificateFingerprint) -> bool {
        self.revoked.contains(fingerprint)
    }

    /// How many certificates are revoked.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether no certificate is revoked.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }
}
