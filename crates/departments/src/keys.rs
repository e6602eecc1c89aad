//! A department's key lifecycle: first use, loading, rotation, re-encryption and status.
//!
//! Rotation never stops the service: a new data key is added and becomes active, running
//! services pick it up within [`KEYRING_REFRESH`], every row sealed under an older key is
//! re-sealed in the background in small batches, and the old key is erased only when no row
//! needs it. Re-wrapping under a new master key touches only the wrapped keys.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::crypto::{CryptoError, DataKey, IndexKey, KEY_LEN, KeyId, Keyring, MasterKey};
use crate::store::{DepartmentStore, KeyRow, StaleRow, StoreError};

/// How often a running department re-reads its key table (to start using a rotated key).
pub const KEYRING_REFRESH: Duration = Duration::from_secs(5);

/// A key lifecycle failure.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be unwrapped or used.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The key table is inconsistent (no active data key, no index key).
    #[error("the department's key table is inconsistent: {0}")]
    Inconsistent(&'static str),
}

const DATA: &str = "data";
const INDEX: &str = "index";

fn label(department: &str, purpose: &str, key_id: KeyId) -> String {
    format!("wardgate/{department}/{purpose}/{key_id}")
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn new_key_row(master: &MasterKey, department: &str, purpose: &str, key_id: KeyId) -> KeyRow {
    let bytes = zeroize::Zeroizing::new(rand::random::<[u8; KEY_LEN]>());
    KeyRow {
        purpose: purpose.to_owned(),
        key_id,
        state: "active".to_owned(),
        master_id: master.id().to_owned(),
        wrapped: master.wrap(&label(department, purpose, key_id), bytes.as_slice()),
        created_at: now_rfc3339(),
    }
}

/// Load the department's keyring, creating its first data and index keys on first use.
pub async fn open_keyring(
    store: &dyn DepartmentStore,
    master: &MasterKey,
    department: &str,
) -> Result<Keyring, KeyError> {
    let mut rows = store.keys().await?;
    if rows.is_empty() {
        for purpose in [DATA, INDEX] {
            match store
                .insert_key(new_key_row(master, department, purpose, 1))
                .await
            {
                // Another node created it at the same moment: use theirs.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        rows = store.keys().await?;
    }
    keyring_from_rows(&rows, master, department)
}

fn keyring_from_rows(
    rows: &[KeyRow],
    master: &MasterKey,
    department: &str,
) -> Result<Keyring, KeyError> {
    let mut data = BTreeMap::new();
    let mut active = None;
    let mut index = None;
    for row in rows.iter().filter(|r| r.state != "retired") {
        if row.master_id != master.id() {
            return Err(CryptoError::WrongMaster(row.master_id.clone()).into());
        }
        let bytes =
            master.unwrap_key(&label(department, &row.purpose, row.key_id), &row.wrapped)?;
        match row.purpose.as_str() {
            DATA => {
                data.insert(row.key_id, DataKey::from_bytes(&bytes)?);
                if row.state == "active" {
                    active = active.max(Some(row.key_id));
                }
            }
            INDEX => index = Some(IndexKey::from_bytes(&bytes)?),
            _ => {}
        }
    }
    let active = active.ok_or(KeyError::Inconsistent("no active data key"))?;
    let index = index.ok_or(KeyError::Inconsistent("no index key"))?;
    Ok(Keyring::new(department, data, active, index)?)
}

/// Add a new data key and make it the active one; the previous active key becomes
/// `retiring`. Returns the new key's id.
pub async fn add_data_key(
    store: &dyn DepartmentStore,
    master: &MasterKey,
    department: &str,
) -> Result<KeyId, KeyError> {
    let rows = store.keys().await?;
    let next = rows
        .iter()
        .filter(|r| r.purpose == DATA)
        .map(|r| r.key_id)
        .max()
        .unwrap_or(0)
        + 1;
    store
        .insert_key(new_key_row(master, department, DATA, next))
        .await?;
    for mut row in rows
        .into_iter()
        .filter(|r| r.purpose == DATA && r.state == "active")
    {
        row.state = "retiring".to_owned();
        store.update_key(row).await?;
    }
    Ok(next)
}

/// Re-seal every row still under an older data key with the keyring's active key, in batches
/// of `batch`, then erase the keys no row uses any more. Returns how many rows were re-sealed.
pub async fn reencrypt(
    store: &dyn DepartmentStore,
    keyring: &Keyring,
    batch: i64,
) -> Result<u64, KeyError> {
    let active = keyring.active_key();
    let mut count = 0u64;
    loop {
        let stale = store.stale_rows(active, batch).await?;
        if stale.is_empty() {
            break;
        }
        for row in stale {
            let (old, resealed) = reseal_row(keyring, row)?;
            store.reseal(resealed, old).await?;
            count += 1;
        }
    }
    let used: Vec<KeyId> = store
        .rows_per_key()
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for mut row in store.keys().await? {
        if row.purpose == DATA && row.state == "retiring" && !used.contains(&row.key_id) {
            row.state = "retired".to_owned();
            // Erasing the wrapped bytes is what makes old backups of this table useless for
            // rows sealed under the retired key.
            row.wrapped = Vec::new();
            store.update_key(row).await?;
        }
    }
    Ok(count)
}

fn reseal_row(keyring: &Keyring, row: StaleRow) -> Result<(KeyId, StaleRow), KeyError> {
    Ok(match row {
        StaleRow::Version(mut v) => {
            let context = crate::fhir::version_context(&v.rtype, &v.res_key, v.version);
            let plain = keyring.open(v.key_id, &context, &v.body)?;
            let old = v.key_id;
            (v.key_id, v.body) = keyring.seal(&context, &plain);
            (old, StaleRow::Version(v))
        }
        StaleRow::Instance(mut i) => {
            let old = i.key_id;
            let (meta_ctx, file_ctx) = crate::dicom::instance_contexts(&i.sop_key);
            let meta = keyring.open(i.key_id, &meta_ctx, &i.meta)?;
            let file = keyring.open(i.key_id, &file_ctx, i.file.as_deref().unwrap_or_default())?;
            let (key, meta) = keyring.seal(&meta_ctx, &meta);
            let (_, file) = keyring.seal(&file_ctx, &file);
            i.key_id = key;
            i.meta = meta;
            i.file = Some(file);
            (old, StaleRow::Instance(i))
        }
        StaleRow::Snapshot {
            snap_key,
            key_id,
            body,
        } => {
            let context = crate::fhir::snapshot_context(&snap_key);
            let plain = keyring.open(key_id, &context, &body)?;
            let (new_key, body) = keyring.seal(&context, &plain);
            (
                key_id,
                StaleRow::Snapshot {
                    snap_key,
                    key_id: new_key,
                    body,
                },
            )
        }
    })
}

/// Re-wrap every live key of the department from `old` to `new` master key.
pub async fn rewrap(
    store: &dyn DepartmentStore,
    old: &MasterKey,
    new: &MasterKey,
    department: &str,
) -> Result<usize, KeyError> {
    let mut count = 0;
    for mut row in store.keys().await? {
        if row.state == "retired" || row.master_id == new.id() {
            continue;
        }
        if row.master_id != old.id() {
            return Err(CryptoError::WrongMaster(row.master_id).into());
        }
        let label = label(department, &row.purpose, row.key_id);
        let bytes = old.unwrap_key(&label, &row.wrapped)?;
        row.wrapped = new.wrap(&label, &bytes);
        row.master_id = new.id().to_owned();
        store.update_key(row).await?;
        count += 1;
    }
    Ok(count)
}

/// One data or index key as `wardgate keys status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// `data` or `index`.
    pub purpose: String,
    /// The key's id.
    pub key_id: KeyId,
    /// `active`, `retiring` or `retired`.
    pub state: String,
    /// The master key that wraps it.
    pub master_id: String,
    /// When it was created.
    pub created_at: String,
    /// How many sealed rows use it (data keys).
    pub rows: i64,
}

/// The state of every key of the department.
pub async fn status(store: &dyn DepartmentStore) -> Result<Vec<KeyStatus>, KeyError> {
    let used: BTreeMap<KeyId, i64> = store.rows_per_key().await?.into_iter().collect();
    Ok(store
        .keys()
        .await?
        .into_iter()
        .map(|row| KeyStatus {
            rows: if row.purpose == DATA {
                used.get(&row.key_id).copied().unwrap_or(0)
            } else {
                0
            },
            purpose: row.purpose,
            key_id: row.key_id,
            state: row.state,
            master_id: row.master_id,
            created_at: row.created_at,
        })
        .collect())
}

/// Reload the keyring from the store (after a rotation by another process).
pub async fn reload_keyring(
    store: &dyn DepartmentStore,
    master: &MasterKey,
    department: &str,
) -> Result<Keyring, KeyError> {
    keyring_from_rows(&store.keys().await?, master, department)
}
