//! A department's store: the one trait both backends implement, and the rows it keeps.
//!
//! The store never sees plaintext: it keeps sealed bodies, blind keys and blind tokens, and
//! answers lookups by them. Each department has its own store (its own SQLite file or its own
//! PostgreSQL schema); a service object holds exactly one.

mod sql;

use std::future::Future;
use std::pin::Pin;

pub use sql::{PostgresStore, SqliteStore, is_schema_name};

/// Whether `name` can name a department's file and schema (lowercase letters, digits, `_`).
pub fn is_department_name(name: &str) -> bool {
    is_schema_name(name)
}

use crate::crypto::KeyId;

/// A boxed future of a store call.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write expected another current version (someone else wrote first).
    #[error("the resource changed meanwhile")]
    Conflict,
    /// The store's configuration is wrong (a bad schema name, an unreadable path).
    #[error("store configuration: {0}")]
    Config(String),
}

/// A wrapped department key as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRow {
    /// `data` or `index`.
    pub purpose: String,
    /// The key's id within its purpose.
    pub key_id: KeyId,
    /// `active`, `retiring` (still used by some rows) or `retired` (wrapped bytes erased).
    pub state: String,
    /// The id of the master key that wrapped it.
    pub master_id: String,
    /// The wrapped key.
    pub wrapped: Vec<u8>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// One stored version of a resource.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The resource type.
    pub rtype: String,
    /// The blind key of the resource's id.
    pub res_key: Vec<u8>,
    /// The global write order.
    pub seq: i64,
    /// The version number (1, 2, ...).
    pub version: i64,
    /// Whether this version is a deletion.
    pub deleted: bool,
    /// The data key that sealed the body.
    pub key_id: KeyId,
    /// The sealed body.
    pub body: Vec<u8>,
}

/// One write of a resource version, checked against the version the writer read.
#[derive(Debug, Clone)]
pub struct Write {
    /// The resource type.
    pub rtype: String,
    /// The blind key of the resource's id.
    pub res_key: Vec<u8>,
    /// The current version the writer saw (`None`: the resource must not exist yet).
    pub expected: Option<i64>,
    /// The new version number.
    pub version: i64,
    /// Whether the new version is a deletion.
    pub deleted: bool,
    /// The data key that sealed the body.
    pub key_id: KeyId,
    /// The sealed body.
    pub body: Vec<u8>,
    /// The blind index tokens of the new version (empty for a deletion).
    pub tokens: Vec<Vec<u8>>,
}

/// One stored DICOM instance.
#[derive(Debug, Clone)]
pub struct InstanceRow {
    /// Blind key of the SOP Instance UID.
    pub sop_key: Vec<u8>,
    /// Blind key of the Study Instance UID.
    pub study_key: Vec<u8>,
    /// Blind key of the Series Instance UID.
    pub series_key: Vec<u8>,
    /// The data key that sealed `meta` and `file`.
    pub key_id: KeyId,
    /// The sealed DICOM JSON metadata.
    pub meta: Vec<u8>,
    /// The sealed Part 10 file (absent when only metadata was asked for).
    pub file: Option<Vec<u8>>,
}

/// A sealed row still under an old data key, for re-encryption.
#[derive(Debug, Clone)]
pub enum StaleRow {
    /// A resource version.
    Version(StoredVersion),
    /// A DICOM instance.
    Instance(InstanceRow),
    /// A search snapshot.
    Snapshot {
        /// Its blind key.
        snap_key: Vec<u8>,
        /// Its data key.
        key_id: KeyId,
        /// Its sealed body.
        body: Vec<u8>,
    },
}

/// The store of one department. Both backends run the same SQL, every value bound.
pub trait DepartmentStore: Send + Sync + std::fmt::Debug {
    /// Every wrapped key.
    fn keys(&self) -> StoreFuture<'_, Vec<KeyRow>>;
    /// Insert a key row (fails if it exists).
    fn insert_key(&self, row: KeyRow) -> StoreFuture<'_, ()>;
    /// Replace a key row's state, wrapping and master id.
    fn update_key(&self, row: KeyRow) -> StoreFuture<'_, ()>;

    /// The current version of a resource (deleted or not).
    fn current<'a>(
        &'a self,
        rtype: &'a str,
        res_key: &'a [u8],
    ) -> StoreFuture<'a, Option<StoredVersion>>;
    /// One version of a resource.
    fn version<'a>(
        &'a self,
        rtype: &'a str,
        res_key: &'a [u8],
        version: i64,
    ) -> StoreFuture<'a, Option<StoredVersion>>;
    /// History, newest first: of one resource, of a type, or of the whole store.
    fn history<'a>(
        &'a self,
        rtype: Option<&'a str>,
        res_key: Option<&'a [u8]>,
        limit: i64,
    ) -> StoreFuture<'a, Vec<StoredVersion>>;
    /// Apply writes atomically; [`StoreError::Conflict`] if any current version moved.
    fn commit(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<i64>>;
    /// Resources of `rtype` that have, for every group, at least one of its tokens.
    fn find<'a>(
        &'a self,
        rtype: &'a str,
        groups: &'a [Vec<Vec<u8>>],
    ) -> StoreFuture<'a, Vec<Vec<u8>>>;
    /// The current, not deleted versions of the given resources (or of every resource of the
    /// type when `res_keys` is `None`).
    fn current_versions<'a>(
        &'a self,
        rtype: &'a str,
        res_keys: Option<&'a [Vec<u8>]>,
    ) -> StoreFuture<'a, Vec<StoredVersion>>;

    /// Keep a sealed search snapshot until `expires` (Unix seconds).
    fn put_snapshot(
        &self,
        snap_key: Vec<u8>,
        expires: i64,
        key_id: KeyId,
        body: Vec<u8>,
    ) -> StoreFuture<'_, ()>;
    /// A snapshot that has not expired at `now`: `(key_id, body)`.
    fn snapshot<'a>(
        &'a self,
        snap_key: &'a [u8],
        now: i64,
    ) -> StoreFuture<'a, Option<(KeyId, Vec<u8>)>>;

    /// Store or replace a DICOM instance, with its blind index tokens.
    fn put_instance(&self, row: InstanceRow, tokens: Vec<Vec<u8>>) -> StoreFuture<'_, ()>;
    /// One instance, with its file when `with_file`.
    fn instance<'a>(
        &'a self,
        sop_key: &'a [u8],
        with_file: bool,
    ) -> StoreFuture<'a, Option<InstanceRow>>;
    /// Instances by SOP keys (all instances when `None`), with files when `with_file`.
    fn instances<'a>(
        &'a self,
        sop_keys: Option<&'a [Vec<u8>]>,
        with_file: bool,
    ) -> StoreFuture<'a, Vec<InstanceRow>>;
    /// Instances of one study, with files when `with_file`.
    fn study_instances<'a>(
        &'a self,
        study_key: &'a [u8],
        with_file: bool,
    ) -> StoreFuture<'a, Vec<InstanceRow>>;

    /// Up to `limit` sealed rows whose data key is not `active`.
    fn stale_rows(&self, active: KeyId, limit: i64) -> StoreFuture<'_, Vec<StaleRow>>;
    /// Replace a stale row's sealing, if it is still sealed with `old_key`.
    fn reseal(&self, row: StaleRow, old_key: KeyId) -> StoreFuture<'_, ()>;
    /// How many sealed rows each data key still seals.
    fn rows_per_key(&self) -> StoreFuture<'_, Vec<(KeyId, i64)>>;
    /// Row counts of every table (for operators and tests).
    fn table_counts(&self) -> StoreFuture<'_, Vec<(String, i64)>>;
}
